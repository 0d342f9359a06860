package progress

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func lines(b *bytes.Buffer) []string {
	return strings.Split(strings.TrimPrefix(b.String(), "\r"), "\r")
}
func trimmed(ss []string) (out []string) {
	for _, s := range ss {
		out = append(out, strings.TrimRight(s, " "))
	}
	return out
}

// Updates are throttled to one per interval; the first and the final one
// always print; Done clears the line.
func TestThrottle(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := New(&buf, "replay", "events", Options{Enabled: true, Interval: 250 * time.Millisecond, Now: clk.now})
	r.Update(0, 5000) // first: printed
	for i := int64(1); i <= 1200; i++ {
		clk.advance(time.Millisecond) // 1200 updates in 1.2 s
		r.Update(i, 5000)
	}
	got := trimmed(lines(&buf))
	want := []string{
		"replay: 0/5000 events (0%)",
		"replay: 250/5000 events (5%)",
		"replay: 500/5000 events (10%)",
		"replay: 750/5000 events (15%)",
		"replay: 1000/5000 events (20%)",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("printed\n%q\nwant\n%q", got, want)
	}
	buf.Reset()
	clk.advance(time.Millisecond)
	r.Update(5000, 5000) // final: printed although the interval has not passed
	if got := strings.TrimRight(buf.String(), " "); got != "\rreplay: 5000/5000 events (100%)" {
		t.Fatalf("final update printed %q", got)
	}
	buf.Reset()
	r.Done()
	if got := buf.String(); got != "\r"+strings.Repeat(" ", len("replay: 5000/5000 events (100%)"))+"\r" {
		t.Fatalf("Done printed %q", got)
	}
	buf.Reset()
	r.Done()
	if buf.Len() != 0 {
		t.Fatalf("a second Done printed %q", buf.String())
	}
}

// A shorter line blanks out what the longer one before it left; an unknown
// total prints the count alone.
func TestOverwriteAndUnknownTotal(t *testing.T) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(1000, 0)}
	r := New(&buf, "ignore", "dead letters", Options{Enabled: true, Now: clk.now})
	r.Note("151 dead letters match, more text")
	r.Update(100, 0)
	want := "\rignore: 151 dead letters match, more text\rignore: 100 dead letters" +
		strings.Repeat(" ", len("151 dead letters match, more text")-len("100 dead letters"))
	if buf.String() != want {
		t.Fatalf("printed %q, want %q", buf.String(), want)
	}
	buf.Reset()
	clk.advance(time.Second)
	r.Status(151, 151, "150 ok, 1 failed")
	if got := buf.String(); got != "\rignore: 151/151 dead letters (100%), 150 ok, 1 failed" {
		t.Fatalf("Status printed %q", got)
	}
}

// Disabled and nil reporters print nothing.
func TestDisabled(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf, "replay", "events", Options{})
	r.Update(1, 2)
	r.Note("x")
	r.Done()
	var nilR *Reporter
	nilR.Update(1, 2)
	nilR.Done()
	if buf.Len() != 0 {
		t.Fatalf("a disabled reporter printed %q", buf.String())
	}
}

func TestIsTerminal(t *testing.T) {
	var buf bytes.Buffer
	if IsTerminal(&buf) {
		t.Fatal("a buffer is not a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if IsTerminal(f) {
		t.Fatal("a regular file is not a terminal")
	}
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer func() { _ = tty.Close() }()
		if !IsTerminal(tty) {
			t.Fatal("/dev/tty is a terminal")
		}
	}
}
