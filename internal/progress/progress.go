// Package progress prints the progress of long command-line operations
// (gateway replay, bulk dead-letter reprocess and ignore) on a terminal:
// one line, rewritten in place, at most a few times a second. Where the
// output is not a terminal (a pipe, a CI log) or the user asked for quiet,
// it prints nothing, so logs carry only the final summary the command
// prints itself.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// DefaultInterval is the least time between two updates: four a second.
const DefaultInterval = 250 * time.Millisecond

// Options configure a Reporter.
type Options struct {
	// Enabled turns printing on; see IsTerminal.
	Enabled bool
	// Interval is the least time between two printed updates; default
	// DefaultInterval. The first update and the one that reaches the
	// total are always printed.
	Interval time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Reporter prints "label done/total unit (pct%)" lines. It is safe for
// concurrent use; a nil or disabled Reporter does nothing.
type Reporter struct {
	w     io.Writer
	label string
	unit  string
	o     Options

	mu      sync.Mutex
	last    time.Time
	printed bool // a line is on the screen and needs clearing
	width   int  // length of that line
}

// New returns a Reporter writing to w. label starts each line ("replay",
// "reprocess"); unit names what is counted ("events").
func New(w io.Writer, label, unit string, o Options) *Reporter {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Reporter{w: w, label: label, unit: unit, o: o}
}

// IsTerminal reports whether w is a terminal (a character device), the
// condition for showing progress.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Update reports done of total (total 0: unknown). It prints when the
// interval has passed since the last printed update, on the first call,
// and when done reaches total.
func (r *Reporter) Update(done, total int64) { r.Status(done, total, "") }

// Status is Update with a note after the count ("100 ok, 0 failed").
func (r *Reporter) Status(done, total int64, note string) {
	if r == nil || !r.o.Enabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.o.Now()
	final := total > 0 && done >= total
	if r.printed && !final && now.Sub(r.last) < r.o.Interval {
		return
	}
	r.last = now
	line := fmt.Sprintf("%s: %d %s", r.label, done, r.unit)
	if total > 0 {
		line = fmt.Sprintf("%s: %d/%d %s (%d%%)", r.label, done, total, r.unit, done*100/total)
	}
	if note != "" {
		line += ", " + note
	}
	r.write(line)
}

// Note replaces the progress line with a message of its own (e.g. "151
// dead letters match"), shown until the next update.
func (r *Reporter) Note(format string, args ...any) {
	if r == nil || !r.o.Enabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.write(r.label + ": " + fmt.Sprintf(format, args...))
}

// write draws line over the previous one ("\r", then spaces over what the
// longer previous line left).
func (r *Reporter) write(line string) {
	pad := ""
	if n := r.width - len(line); n > 0 {
		pad = fmt.Sprintf("%*s", n, "")
	}
	fmt.Fprintf(r.w, "\r%s%s", line, pad)
	r.printed, r.width = true, len(line)
}

// Done clears the progress line, leaving the terminal for the command's
// summary. It is a no-op when nothing was printed.
func (r *Reporter) Done() {
	if r == nil || !r.o.Enabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.printed {
		fmt.Fprintf(r.w, "\r%*s\r", r.width, "")
		r.printed, r.width = false, 0
	}
}
