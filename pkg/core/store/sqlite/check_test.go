package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// filledStore writes n events with 1 KB bodies into a new store at path
// and closes it, so that every page is in the database file (the last
// connection's close checkpoints the WAL and removes it).
func filledStore(t testing.TB, path string, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("x"), 1024)
	for i := range n {
		e := &store.Event{Account: "acme", MessageID: "m-" + strconv.Itoa(i), WorkOrderID: int64(i%97 + 1),
			Action: "NewWorkOrder", ActionDate: time.Now(), Source: "webhook", Body: body}
		if _, err := st.InsertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Fatalf("the WAL survived Close (%d bytes): corrupting the database file would not be seen", fi.Size())
	}
}

// corruptMiddle overwrites pages in the middle of the file (never the
// header page) with pseudo-random bytes.
func corruptMiddle(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	pages := len(b) / page
	if pages < 16 {
		t.Fatalf("only %d pages", pages)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for p := pages / 2; p < pages/2+4; p++ {
		for i := p * page; i < (p+1)*page; i++ {
			b[i] = byte(r.UintN(256))
		}
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesCorruptFile(t *testing.T) {
	for _, mode := range []string{"", sqlite.QuickCheckAuto, sqlite.QuickCheckAlways} {
		t.Run("mode="+mode, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "wogate.db")
			filledStore(t, path, 2000)
			corruptMiddle(t, path)
			st, err := sqlite.Open(context.Background(), path, sqlite.Options{QuickCheck: mode})
			if err == nil {
				_ = st.Close()
				t.Fatal("a store with corrupt pages opened")
			}
			var ce *sqlite.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a *CorruptError: %v", err)
			}
			t.Logf("open: %v", err)
			if ce.Result.Check != "quick_check" || len(ce.Result.Problems) == 0 {
				t.Errorf("result %+v", ce.Result)
			}
			for _, want := range []string{path, "corrupt", "quick_check", "backup", "gateway store check"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
			r, err := sqlite.Check(context.Background(), path, true)
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() || r.Check != "integrity_check" || r.Bytes == 0 {
				t.Errorf("integrity_check of the corrupt file: %+v", r)
			}
		})
	}
}

func TestOpenCheckIntact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wogate.db")
	filledStore(t, path, 2000)
	st := openAt(t, path, sqlite.Options{})
	oc := st.OpenCheck()
	if oc.Mode != sqlite.QuickCheckAuto || !oc.Complete || oc.Budget != sqlite.DefaultQuickCheckBudget || oc.Bytes < 2000*1024 {
		t.Errorf("open check %+v", oc)
	}
	for _, full := range []bool{false, true} {
		r, err := sqlite.Check(context.Background(), path, full)
		if err != nil || !r.OK() {
			t.Errorf("check (full %v) of an intact store next to an open one: %+v, %v", full, r, err)
		}
	}
	// A new file is checked too (instantly).
	st2 := openAt(t, filepath.Join(t.TempDir(), "new.db"), sqlite.Options{QuickCheck: "ALWAYS"})
	if oc := st2.OpenCheck(); oc.Mode != sqlite.QuickCheckAlways || !oc.Complete || oc.Budget != 0 {
		t.Errorf("open check of a new file %+v", oc)
	}
}

// Out of budget, auto gives up the check and opens (the trade-off of
// docs/storage.md); off does not check at all.
func TestOpenCheckBudgetAndOff(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wogate.db")
	filledStore(t, path, 2000)
	corruptMiddle(t, path)
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{QuickCheckBudget: time.Nanosecond})
	if err != nil {
		t.Fatalf("auto with a spent budget: %v", err)
	}
	if oc := st.OpenCheck(); oc.Complete || oc.Mode != sqlite.QuickCheckAuto || oc.Budget != time.Nanosecond {
		t.Errorf("open check %+v", oc)
	}
	_ = st.Close()
	st, err = sqlite.Open(context.Background(), path, sqlite.Options{QuickCheck: sqlite.QuickCheckOff})
	if err != nil {
		t.Fatalf("off: %v", err)
	}
	if oc := st.OpenCheck(); oc.Complete || oc.Mode != sqlite.QuickCheckOff || oc.Duration != 0 {
		t.Errorf("open check %+v", oc)
	}
	_ = st.Close()
	if _, err := sqlite.Open(context.Background(), path, sqlite.Options{QuickCheck: "sometimes"}); err == nil ||
		!strings.Contains(err.Error(), "want auto, always or off") {
		t.Errorf("unknown mode: %v", err)
	}
}

func TestCheckNotADatabase(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wogate.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := sqlite.Check(context.Background(), path, true)
	if err != nil || r.OK() || !strings.Contains(strings.Join(r.Problems, " "), "not a database") {
		t.Errorf("check: %+v, %v", r, err)
	}
	_, err = sqlite.Open(context.Background(), path, sqlite.Options{})
	var ce *sqlite.CorruptError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "gateway store check") {
		t.Errorf("open: %v", err)
	}
	if _, err := sqlite.Check(context.Background(), filepath.Join(dir, "missing.db"), true); err == nil {
		t.Error("check of a missing file passed")
	} else if _, serr := os.Stat(filepath.Join(dir, "missing.db")); serr == nil {
		t.Error("check created the missing file")
	}
}

// BenchmarkQuickCheck is the open-time quick_check (and the full
// integrity_check of gateway store check) on a store of
// WOGATE_BENCH_STORE_MB megabytes (default 256) of events with 1.5 KB
// bodies, built in a temporary directory. The file was just written, so it
// is in the OS page cache; a cold start reads it from disk first.
//
//	WOGATE_BENCH_STORE_MB=1024 go test -run '^$' -bench BenchmarkQuickCheck -benchtime 3x ./pkg/core/store/sqlite/
func BenchmarkQuickCheck(b *testing.B) {
	mb := 256
	if v := os.Getenv("WOGATE_BENCH_STORE_MB"); v != "" {
		var err error
		if mb, err = strconv.Atoi(v); err != nil || mb <= 0 {
			b.Fatalf("WOGATE_BENCH_STORE_MB=%q", v)
		}
	}
	path := filepath.Join(b.TempDir(), "big.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	_ = st.Close()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=synchronous(OFF)&_pragma=journal_mode(WAL)")
	if err != nil {
		b.Fatal(err)
	}
	// The schema's indexes are kept: quick_check walks them too.
	const per = 50000
	rows := mb * 1024 * 1024 / 1700
	for done := 0; done < rows; done += per {
		if _, err := db.Exec(`INSERT INTO events (account, message_id, work_order_id, action, action_date, received_at,
			source, body, status, updated_at)
			WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i+1 FROM n WHERE i < ?)
			SELECT 'acme', 'm-' || i, i % 5000, 'NewWorkOrder', i, i, 'webhook', randomblob(1500), 'done', i FROM n`,
			done, done+per-1); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	_ = db.Close()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		b.Run(fmt.Sprintf("full=%v", full), func(b *testing.B) {
			for b.Loop() {
				r, err := sqlite.Check(context.Background(), path, full)
				if err != nil || !r.OK() {
					b.Fatalf("%+v %v", r, err)
				}
			}
			b.ReportMetric(float64(fi.Size())/(1<<20), "MB")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/(float64(fi.Size())/(1<<30)), "s/GB")
		})
	}
}
