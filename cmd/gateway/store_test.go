package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// writeStore makes a SQLite store of 2000 events at dir/wogate.db and
// returns its path; corrupt overwrites four pages in the middle.
func writeStore(t *testing.T, dir string, corrupt bool) string {
	t.Helper()
	path := filepath.Join(dir, "wogate.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		e := &store.Event{Account: "main", MessageID: "m-" + strconv.Itoa(i), WorkOrderID: int64(i%50 + 1),
			Action: "NewWorkOrder", ActionDate: time.Now(), Source: "webhook", Body: bytes.Repeat([]byte("z"), 1024)}
		if _, err := st.InsertEvent(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if corrupt {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(5, 6))
		mid := len(b) / 4096 / 2 * 4096
		for i := mid; i < mid+4*4096; i++ {
			b[i] = byte(r.UintN(256))
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

func TestStoreCheck(t *testing.T) {
	dir := t.TempDir()
	good := writeStore(t, filepath.Join(dir, "good"), false)
	bad := writeStore(t, filepath.Join(dir, "bad"), true)
	cfg := writeConfig(t, "data_dir: "+filepath.Dir(bad)+"\ncorrigo:\n  accounts:\n    main: {sandbox: true}\n")

	r := gw(t, "store", "check", "--store", good)
	if r.code != 0 || !strings.Contains(r.stdout, "sqlite "+good+": integrity_check ok") {
		t.Errorf("intact store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"--store", bad}, {"--config", cfg}} {
		r = gw(t, append([]string{"store", "check"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stdout, "sqlite "+bad+": integrity_check found") ||
			!strings.Contains(r.stderr, "is corrupt") || !strings.Contains(r.stderr, "restore the last backup") {
			t.Errorf("corrupt store (%v): exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		// SQLite's own words name the damage: a page, a tree or a cell.
		if !strings.Contains(strings.ToLower(r.stdout), "page") {
			t.Errorf("the problems name no page:\n%s", r.stdout)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", filepath.Join(dir, "missing.db")}, "no such file"},
		{nil, "name the store: --config FILE or --store PATH|DSN"},
		{[]string{"--store", good, "--config", cfg}, "name the store"},
		{[]string{"--store", good, "extra"}, "unexpected arguments"},
	} {
		r = gw(t, append([]string{"store", "check"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("store check %v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("store check created the missing file")
	}
}
