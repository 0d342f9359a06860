package csvexport

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// FuzzInboxFileName sends inbox files under arbitrary names: as an upload
// (POST inbox?name=...) and, when the name can be a file name, dropped in
// the inbox folder and scanned. The plugin must never panic, never touch a
// path outside the inbox (and its processed/ and rejected/ folders) and
// the output directory, answer uploads with JSON naming a file without a
// path separator, and take every scanned file out of the inbox (to
// processed/ or rejected/) without an error, so a strange name cannot
// leave a file to be retried at every scan.
func FuzzInboxFileName(f *testing.F) {
	for _, name := range []string{"updates.csv", "../escape.csv", "..", ".", "a\\b.csv", "UPPER.CSV", "space name.csv",
		"new\nline.csv", "~$lock.csv", ".hidden.csv", "ü-日本.csv", strings.Repeat("n", 240) + ".csv",
		strings.Repeat("x", 251) + ".csv", "x.csv.errors.csv", "-rf.csv", ""} {
		f.Add(name, []byte(goodCSV+badRow), false)
	}
	f.Add("bad.csv", []byte("not,a\n\"broken"), false)
	f.Add("big.csv", []byte(goodCSV), true)
	f.Fuzz(func(t *testing.T, name string, content []byte, big bool) {
		outer := t.TempDir()
		base := filepath.Join(outer, "base")
		inbox := filepath.Join(base, "inbox")
		cfg := inboxConfig(filepath.Join(base, "out"), inbox)
		if big {
			cfg["inbox_max_bytes"] = int64(8)
		}
		h := newSubmitHost()
		p := manual(t, h, cfg)
		resp, acts, err := p.HandleInbound(context.Background(), pluginapi.InboundRequest{Method: http.MethodPost, Path: "inbox",
			Query: url.Values{"name": {name}}, Body: content})
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		var sum inboundSummary
		if err := json.Unmarshal(resp.Body, &sum); err != nil {
			t.Fatalf("upload answer is not JSON: %q", resp.Body)
		}
		if strings.ContainsAny(sum.File, `/\`) || sum.File == "" {
			t.Fatalf("upload answer names the file %q", sum.File)
		}
		if resp.Status != http.StatusOK && len(acts) > 0 {
			t.Fatalf("answer %d with %d actions", resp.Status, len(acts))
		}
		if fileName(name) && !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "~$") && strings.EqualFold(filepath.Ext(name), ".csv") {
			// Different content from the upload, so it is not "already
			// processed" by content.
			if err := os.WriteFile(filepath.Join(inbox, name), []byte(goodCSV+"4716,note,,x,,acme\n"+badRow), 0o600); err != nil {
				t.Skip(err) // the file system refuses the name (too long for it)
			}
			if _, err := p.inbox.scan(context.Background(), h, ""); err != nil {
				t.Fatalf("scan of %q: %v", name, err)
			}
			if _, err := os.Lstat(filepath.Join(inbox, name)); err == nil {
				t.Fatalf("%q is still in the inbox after a scan", name)
			}
		}
		_ = filepath.WalkDir(outer, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(outer, path)
			switch first := strings.SplitN(filepath.ToSlash(rel), "/", 4); {
			case rel == ".", rel == "base", len(first) >= 2 && first[1] == "out":
			case len(first) == 2 && first[1] == "inbox":
			case len(first) >= 3 && first[1] == "inbox" && (first[2] == processedDir || first[2] == rejectedDir) && len(first) <= 4:
			default:
				t.Fatalf("name %q: the plugin wrote %s", name, rel)
			}
			return nil
		})
	})
}

// fileName reports whether s can name a file in a directory.
func fileName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00") && len(s) <= 255
}
