package gateway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/wogate/wogate/pkg/core/store"
)

// TestPluginRunsInConfigDir: a plugin process works in the config file's
// directory, not the gateway's, so relative paths in its config (the
// csv-export dir) resolve as the rest of the file's do.
func TestPluginRunsInConfigDir(t *testing.T) {
	w := newWorld(t, worldOpts{pluginConfig: "{report: true}"})
	id := w.create()
	var acts []store.OutboxAction
	w.waitFor("the report note", func() bool {
		acts, _ = w.g.Store().ActionsForWorkOrder(t.Context(), "main", id)
		return len(acts) == 2
	})
	var note struct{ Text string }
	if err := json.Unmarshal(acts[1].Payload, &note); err != nil {
		t.Fatal(err)
	}
	var rep struct{ Cwd string }
	if err := json.Unmarshal([]byte(note.Text), &rep); err != nil {
		t.Fatalf("report %q: %v", note.Text, err)
	}
	want := filepath.Dir(w.g.cfg.Path)
	if wd, _ := os.Getwd(); wd == want {
		t.Fatalf("the test runs in the config's directory %s: it proves nothing", wd)
	}
	if rep.Cwd != want {
		t.Errorf("plugin ran in %q, want the config's directory %q", rep.Cwd, want)
	}
}
