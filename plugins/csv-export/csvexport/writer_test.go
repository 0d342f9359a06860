package csvexport

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var testHeader = []string{"wo", "comment", "event_id"}

func newTestWriter(t *testing.T, dir string, maxBytes int64) (*writer, *[]string) {
	t.Helper()
	var warnings []string
	w := newWriter(dir, testHeader, true, 2, maxBytes, func(msg string, kv ...any) {
		warnings = append(warnings, fmt.Sprint(append([]any{msg}, kv...)...))
	})
	return w, &warnings
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s does not parse as CSV: %v", path, err)
	}
	return recs
}

func TestWriterQuotingRoundTrips(t *testing.T) {
	dir := t.TempDir()
	w, _ := newTestWriter(t, dir, 0)
	values := []string{
		`plain`, `with, comma`, `with "quotes"`, "two\nlines", "crlf\r\nline", `"`, ``, ` spaces `, "tab\there", `=1+1`, "ünïcödé ✓",
	}
	for i, v := range values {
		id := fmt.Sprintf("ev-%d", i)
		if _, err := w.Append("out.csv", id, []string{"WO-1", v, id}); err != nil {
			t.Fatal(err)
		}
	}
	recs := readCSV(t, filepath.Join(dir, "out.csv"))
	if !slices.Equal(recs[0], testHeader) {
		t.Fatalf("header = %q", recs[0])
	}
	if len(recs) != len(values)+1 {
		t.Fatalf("got %d records, want %d", len(recs), len(values)+1)
	}
	for i, v := range values {
		got := recs[i+1][1]
		want := strings.ReplaceAll(v, "\r\n", "\n") // encoding/csv reads \r\n inside quotes as \n
		if got != want {
			t.Errorf("value %d: read back %q, wrote %q", i, got, v)
		}
	}
}

func TestWriterSameEventOnce(t *testing.T) {
	dir := t.TempDir()
	w, _ := newTestWriter(t, dir, 0)
	for range 3 {
		if _, err := w.Append("a.csv", "ev-1", []string{"1", "x", "ev-1"}); err != nil {
			t.Fatal(err)
		}
	}
	// A new process (fresh writer) reads the file and still refuses it.
	w2, _ := newTestWriter(t, dir, 0)
	res, err := w2.Append("a.csv", "ev-1", []string{"1", "x", "ev-1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Written || res.File != "a.csv" {
		t.Fatalf("second process: %+v, want not written, in a.csv", res)
	}
	if n := len(readCSV(t, filepath.Join(dir, "a.csv"))); n != 2 {
		t.Fatalf("%d records, want header + 1 row", n)
	}
}

func TestWriterRejectsRowWithoutItsID(t *testing.T) {
	w, _ := newTestWriter(t, t.TempDir(), 0)
	if _, err := w.Append("a.csv", "ev-1", []string{"1", "x", "ev-2"}); err == nil {
		t.Fatal("row whose id column differs from the event id was accepted")
	}
}

func TestWriterRotation(t *testing.T) {
	dir := t.TempDir()
	w, _ := newTestWriter(t, dir, 60)
	for i := range 10 {
		id := fmt.Sprintf("ev-%02d", i)
		if _, err := w.Append("day.csv", id, []string{"WO-123", "checked in", id}); err != nil {
			t.Fatal(err)
		}
	}
	parts, _ := filepath.Glob(filepath.Join(dir, "day*.csv"))
	if len(parts) < 3 {
		t.Fatalf("parts = %v, want rotation into several files", parts)
	}
	seen := map[string]bool{}
	for _, p := range parts {
		fi, _ := os.Stat(p)
		recs := readCSV(t, p)
		if !slices.Equal(recs[0], testHeader) {
			t.Errorf("%s: no header", p)
		}
		if len(recs) < 2 {
			t.Errorf("%s: no rows", p)
		}
		// A part may exceed max_bytes only when one row alone does.
		if fi.Size() > 60 && len(recs) > 2 {
			t.Errorf("%s is %d bytes with %d rows, max 60", p, fi.Size(), len(recs)-1)
		}
		for _, r := range recs[1:] {
			if seen[r[2]] {
				t.Errorf("event %s written twice", r[2])
			}
			seen[r[2]] = true
		}
	}
	if len(seen) != 10 {
		t.Fatalf("%d rows across parts, want 10", len(seen))
	}
	// A fresh writer knows every part's ids and continues in the last.
	w2, _ := newTestWriter(t, dir, 60)
	res, err := w2.Append("day.csv", "ev-00", []string{"WO-123", "checked in", "ev-00"})
	if err != nil || res.Written || res.File != "day.csv" {
		t.Fatalf("replay of ev-00: %+v %v", res, err)
	}
	res, err = w2.Append("day.csv", "ev-99", []string{"WO-123", "x", "ev-99"})
	if err != nil || !res.Written || res.File == "day.csv" {
		t.Fatalf("new row after restart: %+v %v (want the latest part)", res, err)
	}
	// A row bigger than max_bytes gets a part of its own, no empty parts.
	big := strings.Repeat("x", 200)
	for _, id := range []string{"big-1", "big-2"} {
		if _, err := w2.Append("day.csv", id, []string{"WO-1", big, id}); err != nil {
			t.Fatal(err)
		}
	}
	parts, _ = filepath.Glob(filepath.Join(dir, "day*.csv"))
	for _, p := range parts {
		if len(readCSV(t, p)) < 2 {
			t.Errorf("%s has no rows", p)
		}
	}
	if got := partName("day.csv", 3); got != "day.3.csv" {
		t.Fatalf("partName = %q", got)
	}
}

// TestWriterRepairsTornTail simulates crashes in the middle of a write:
// whatever prefix of the last write reached the disk, the file is cut back
// to whole rows, the torn event is written again in full, and the rows
// before it are kept.
func TestWriterRepairsTornTail(t *testing.T) {
	head := "wo,comment,event_id\n1,ok,ev-1\n"
	next := "2,\"multi\nline, \"\"quoted\"\"\",ev-2\n"
	cases := map[string]string{}
	for i := 1; i < len(next); i++ {
		cases[fmt.Sprintf("cut at %d of row 2", i)] = head + next[:i]
	}
	full := head
	for i := 1; i < len(full); i++ {
		// A crash while creating the file: header and first row were one
		// write.
		cases[fmt.Sprintf("cut at %d of new file", i)] = full[:i]
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.csv")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			w, warnings := newTestWriter(t, dir, 0)
			for _, id := range []string{"ev-1", "ev-2"} {
				comment := "ok"
				if id == "ev-2" {
					comment = "multi\nline, \"quoted\""
				}
				if _, err := w.Append("f.csv", id, []string{map[string]string{"ev-1": "1", "ev-2": "2"}[id], comment, id}); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := os.ReadFile(path)
			if string(got) != head+next {
				t.Fatalf("file after repair and replay:\n%q\nwant\n%q", got, head+next)
			}
			atBoundary := content == "wo,comment,event_id\n"
			if !atBoundary && len(*warnings) == 0 {
				t.Fatalf("torn tail repaired without a warning")
			}
		})
	}
}

func TestWriterCleanFileUntouched(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.csv")
	content := "wo,comment,event_id\n1,\"a\nb\",ev-1\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	w, warnings := newTestWriter(t, dir, 0)
	if _, err := w.Append("f.csv", "ev-1", []string{"1", "a\nb", "ev-1"}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != content || len(*warnings) != 0 {
		t.Fatalf("clean file changed: %q, warnings %v", got, *warnings)
	}
}

func TestWriterStartsNewPartForForeignFiles(t *testing.T) {
	for name, content := range map[string]string{
		"other header":       "a,b,c\n1,2,3\n",
		"corrupt mid-file":   "wo,comment,event_id\n1,x\"y,ev-1\n2,ok,ev-2\n",
		"header only, other": "x,y\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f.csv")
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			w, warnings := newTestWriter(t, dir, 0)
			res, err := w.Append("f.csv", "ev-9", []string{"9", "z", "ev-9"})
			if err != nil {
				t.Fatal(err)
			}
			if res.File != "f.2.csv" {
				t.Fatalf("wrote to %s, want f.2.csv", res.File)
			}
			if got, _ := os.ReadFile(path); string(got) != content {
				t.Fatalf("foreign file was modified: %q", got)
			}
			if len(*warnings) == 0 {
				t.Fatal("no warning about the foreign file")
			}
		})
	}
}

func TestWriterNoticesExternalChanges(t *testing.T) {
	dir := t.TempDir()
	w, _ := newTestWriter(t, dir, 0)
	if _, err := w.Append("f.csv", "ev-1", []string{"1", "a", "ev-1"}); err != nil {
		t.Fatal(err)
	}
	// The provider moves the day's file away to work on it.
	if err := os.Rename(filepath.Join(dir, "f.csv"), filepath.Join(dir, "taken.csv")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append("f.csv", "ev-2", []string{"2", "b", "ev-2"}); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, filepath.Join(dir, "f.csv"))
	if len(recs) != 2 || recs[0][0] != "wo" || recs[1][2] != "ev-2" {
		t.Fatalf("recreated file = %q, want header + ev-2", recs)
	}
}

func TestWriterNoHeader(t *testing.T) {
	dir := t.TempDir()
	w := newWriter(dir, testHeader, false, 2, 0, nil)
	for _, id := range []string{"a", "b", "a"} {
		if _, err := w.Append("f.csv", id, []string{"1", "x", id}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := os.ReadFile(filepath.Join(dir, "f.csv"))
	if string(got) != "1,x,a\n1,x,b\n" {
		t.Fatalf("file = %q", got)
	}
	w2 := newWriter(dir, testHeader, false, 2, 0, nil)
	if res, _ := w2.Append("f.csv", "a", []string{"1", "x", "a"}); res.Written {
		t.Fatal("headerless file: replay after restart wrote a second row")
	}
}
