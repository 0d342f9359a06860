package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The open-time check, Options.QuickCheck. A file with damaged pages opens
// and serves without a word until a query happens to read a damaged page,
// and then fails that one query ("database disk image is malformed") or,
// worse, a damaged free list hands out pages still in use. Open runs
// SQLite's quick_check first: every b-tree page is read and its structure
// checked (cell offsets, free blocks, page types, the free list, overflow
// chains), not the index-versus-table consistency integrity_check adds.
// Its cost grows with the file (docs/storage.md gives the figure), so by
// default it runs under a time budget.
const (
	// QuickCheckAuto runs quick_check under QuickCheckBudget. A check that
	// finishes and finds damage fails Open; one that runs out of budget is
	// abandoned (SQLite is interrupted) and Open goes on, reporting it in
	// OpenCheck so the gateway can log a warning.
	QuickCheckAuto = "auto"
	// QuickCheckAlways runs quick_check to the end, however long it takes.
	QuickCheckAlways = "always"
	// QuickCheckOff skips it.
	QuickCheckOff = "off"
)

// DefaultQuickCheckBudget bounds the open-time quick_check in auto mode.
// quick_check costs about 20 s per GB here (docs/storage.md: modernc's
// SQLite, a shared 2-core machine, the file in the page cache), so this
// checks stores up to about half a GB in full, and keeps a start under
// the liveness probes of common orchestrators (the listeners do not answer
// while the store opens). Bigger stores: QuickCheckAlways with a startup
// probe, or gateway store check in a quiet hour.
const DefaultQuickCheckBudget = 10 * time.Second

// maxProblems is how many problems a check reports; SQLite stops looking
// after as many.
const maxProblems = 20

// CheckResult is what a quick_check or integrity_check found.
type CheckResult struct {
	// Check is "quick_check" or "integrity_check".
	Check string
	// Problems are SQLite's messages ("Tree 5 page 812 cell 3: ..."), at
	// most 20 (SQLite stops looking after as many); none when the file is
	// intact. A file SQLite cannot read at all has its error here.
	Problems []string
	// Duration is how long the check ran.
	Duration time.Duration
	// Bytes is the size of the database file (without its WAL).
	Bytes int64
}

// OK reports whether the check found nothing wrong.
func (r CheckResult) OK() bool { return len(r.Problems) == 0 }

// OpenCheck is what Open checked of the file before serving from it.
type OpenCheck struct {
	// Mode is the QuickCheck mode Open ran with.
	Mode string
	// Complete is true when quick_check ran to the end (and found nothing:
	// otherwise Open failed). False in mode off, or when auto ran out of
	// budget.
	Complete bool
	// Duration is how long it ran; Budget the bound it ran under (0: none).
	Duration, Budget time.Duration
	// Bytes is the size of the database file.
	Bytes int64
}

// CorruptError is returned by Open when the file is damaged. Its message
// says what to do.
type CorruptError struct {
	Path   string
	Result CheckResult
}

func (e *CorruptError) Error() string {
	p := e.Result.Problems
	more := ""
	if len(p) > 3 {
		more = fmt.Sprintf(" (and %d more)", len(p)-3)
		p = p[:3]
	}
	return fmt.Sprintf("the file is corrupt (%s: %s%s); refusing to serve from it. "+
		"Stop the gateway, move the file and its -wal and -shm files aside, and restore the last backup "+
		"(docs/storage.md, \"Corruption\"); `gateway store check` prints SQLite's full integrity report",
		e.Result.Check, strings.Join(p, "; "), more)
}

// corruptCode reports whether err is SQLite saying the file is damaged or
// not a database at all.
func corruptCode(err error) bool {
	var se *sqlitedrv.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}

// runCheck runs PRAGMA quick_check or integrity_check on db. A file
// SQLite cannot read reports its error as the one problem; err is left
// for failures that say nothing of the file (a cancelled context).
func runCheck(ctx context.Context, db *sql.DB, full bool) (CheckResult, error) {
	r := CheckResult{Check: "quick_check"}
	if full {
		r.Check = "integrity_check"
	}
	start := time.Now()
	rows, err := db.QueryContext(ctx, fmt.Sprintf("PRAGMA %s(%d)", r.Check, maxProblems))
	if err == nil {
		for rows.Next() {
			var s string
			if err = rows.Scan(&s); err != nil {
				break
			}
			if s == "ok" {
				continue
			}
			// One row may hold several lines, under a header naming the
			// schema ("*** in database main ***").
			for _, line := range strings.Split(s, "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "*** in database") {
					r.Problems = append(r.Problems, line)
				}
			}
		}
		if cerr := rows.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = rows.Err()
		}
	}
	r.Duration = time.Since(start)
	switch {
	case err == nil:
		return r, nil
	case ctx.Err() != nil:
		return r, ctx.Err()
	case corruptCode(err):
		r.Problems = append(r.Problems, err.Error())
		return r, nil
	}
	return r, err
}

// Check runs SQLite's integrity_check (full) or quick_check on the store
// file at path, without migrating or writing it: `gateway store check`.
// It is safe next to a running gateway (WAL: the check reads a snapshot).
// The file must exist. The result lists the problems found; err is for a
// check that could not run.
func Check(ctx context.Context, path string, full bool) (CheckResult, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return CheckResult{}, fmt.Errorf("check sqlite store: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return CheckResult{}, fmt.Errorf("check sqlite store: %s is not a file", path)
	}
	db, err := sql.Open("sqlite", fileURI(path)+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return CheckResult{}, fmt.Errorf("check sqlite store %s: %w", path, err)
	}
	defer func() { _ = db.Close() }() // read-only
	db.SetMaxOpenConns(1)
	r, err := runCheck(ctx, db, full)
	r.Bytes = fi.Size()
	if err != nil {
		return r, fmt.Errorf("check sqlite store %s: %w", path, err)
	}
	return r, nil
}

// openCheck is Open's quick_check on the writer connection, before the
// migrations, in the configured mode.
func (s *Store) openCheck(ctx context.Context) error {
	oc := OpenCheck{Mode: s.opts.QuickCheck}
	if fi, err := os.Stat(s.path); err == nil {
		oc.Bytes = fi.Size()
	}
	defer func() { s.check = oc }()
	if oc.Mode == QuickCheckOff {
		return nil
	}
	cctx := ctx
	if oc.Mode == QuickCheckAuto {
		oc.Budget = s.opts.QuickCheckBudget
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, oc.Budget)
		defer cancel()
	}
	r, err := runCheck(cctx, s.wdb, false)
	oc.Duration = r.Duration
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil // out of budget: Complete stays false
		}
		return fmt.Errorf("quick_check: %w", err)
	}
	if !r.OK() {
		r.Bytes = oc.Bytes
		return &CorruptError{Path: s.path, Result: r}
	}
	oc.Complete = true
	return nil
}

// OpenCheck is what Open checked of the file before serving from it.
func (s *Store) OpenCheck() OpenCheck { return s.check }
