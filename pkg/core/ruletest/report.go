package ruletest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/wogate/wogate/pkg/core/config"
)

// Options say what RunAll runs.
type Options struct {
	// Config is the configuration file under test.
	Config string
	// Tests are test files and directories (every *.yaml and *.yml in
	// them). Empty: the tests directory next to the configuration.
	Tests []string
	// Run, when set, runs only the cases whose name it matches.
	Run *regexp.Regexp
	// Load are the options config.LoadWith gets (environment, secret
	// references); the zero value loads as the gateway does.
	Load config.Options
}

// Report is the result of a run.
type Report struct {
	Config string   `json:"config"`
	Files  []string `json:"files"`
	// Errors are problems that kept cases from running: the configuration
	// or a test file does not load. The run fails when there are any.
	Errors  []config.ErrorEntry `json:"errors"`
	Results []Result            `json:"cases"`
	Passed  int                 `json:"passed"`
	Failed  int                 `json:"failed"`
	Skipped int                 `json:"skipped"`
	// Rules is the number of configured rules; Uncovered lists those no
	// run case matched (only computed when every case ran).
	Rules     int             `json:"rules"`
	Uncovered []UncoveredRule `json:"uncovered,omitempty"`
	// Filtered is true when --run left cases out.
	Filtered bool `json:"filtered,omitempty"`
}

// UncoveredRule is a rule no case matched.
type UncoveredRule struct {
	Name string `json:"name"`
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
}

// OK reports whether the run passed: no errors, no failed case, and with
// strict, every rule matched by some case.
func (r *Report) OK(strict bool) bool {
	return len(r.Errors) == 0 && r.Failed == 0 && (!strict || len(r.Uncovered) == 0)
}

// Discover lists the test files opts names: files as given, directories
// expanded to their *.yaml and *.yml files (sorted), and by default the
// tests directory next to the configuration.
func Discover(configPath string, tests []string) ([]string, error) {
	if len(tests) == 0 {
		dir := filepath.Join(filepath.Dir(configPath), "tests")
		files, err := yamlFiles(dir)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("no tests: %s does not exist (put test files there, or name them with --tests)", dir)
			}
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no tests: %s has no *.yaml files", dir)
		}
		return files, nil
	}
	var out []string
	for _, t := range tests {
		st, err := os.Stat(t)
		if err != nil {
			return nil, fmt.Errorf("tests %s: %w", t, unwrapPath(err))
		}
		if !st.IsDir() {
			out = append(out, t)
			continue
		}
		files, err := yamlFiles(t)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("no tests: %s has no *.yaml files", t)
		}
		out = append(out, files...)
	}
	return out, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func yamlFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if ext := filepath.Ext(e.Name()); ext == ".yaml" || ext == ".yml" {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// RunAll loads the configuration and the test files and runs every case
// (or those opts.Run selects). Problems loading anything are in
// Report.Errors; RunAll runs no case then, since a half-loaded suite would
// report a misleading pass.
func RunAll(ctx context.Context, opts Options) *Report {
	rep := &Report{Config: opts.Config, Files: []string{}, Errors: []config.ErrorEntry{}, Results: []Result{}}
	cfg, err := config.LoadWith(opts.Config, opts.Load)
	if err != nil {
		rep.Errors = append(rep.Errors, entries(opts.Config, err)...)
		return rep
	}
	rep.Rules = len(cfg.Rules)
	runner, err := NewRunner(cfg)
	if err != nil {
		rep.Errors = append(rep.Errors, entries(opts.Config, err)...)
		return rep
	}
	files, err := Discover(opts.Config, opts.Tests)
	if err != nil {
		rep.Errors = append(rep.Errors, config.ErrorEntry{File: opts.Config, Message: err.Error()})
		return rep
	}
	rep.Files = files
	var suites []*Suite
	for _, f := range files {
		s, errs := ParseFile(f)
		if len(errs) == 0 {
			errs = runner.Bind(s)
		}
		if len(errs) > 0 {
			config.SortEntries(errs)
			rep.Errors = append(rep.Errors, errs...)
			continue
		}
		suites = append(suites, s)
	}
	if len(rep.Errors) > 0 {
		return rep
	}
	matched := map[string]bool{}
	for _, s := range suites {
		for _, c := range s.Cases {
			if opts.Run != nil && !opts.Run.MatchString(c.Name) {
				rep.Filtered = true
				continue
			}
			res := runner.Run(ctx, c)
			switch res.Status {
			case StatusPass:
				rep.Passed++
			case StatusFail:
				rep.Failed++
			case StatusSkip:
				rep.Skipped++
			}
			if res.Got != nil {
				for _, r := range res.Got.Rules {
					matched[r] = true
				}
			}
			rep.Results = append(rep.Results, res)
		}
	}
	if !rep.Filtered {
		for _, r := range cfg.Rules {
			if !matched[r.Name] {
				file := r.File
				if file == "" {
					file = opts.Config
				}
				rep.Uncovered = append(rep.Uncovered, UncoveredRule{Name: r.Name, File: file, Line: r.Line})
			}
		}
	}
	return rep
}

// entries turns a load or compile error into entries.
func entries(file string, err error) []config.ErrorEntry {
	var ce *config.Error
	if errors.As(err, &ce) {
		return ce.Entries
	}
	return []config.ErrorEntry{{File: file, Message: err.Error()}}
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes one line per case (PASS, FAIL, SKIP), the differences
// of failed cases with their file:line, and a summary. Notes (plugins
// without a mock...) are shown for failed cases, and for all with verbose.
func (r *Report) WriteText(w io.Writer, verbose, strict bool) error {
	bw := &errWriter{w: w}
	for _, e := range r.Errors {
		bw.printf("%s\n", e.String())
	}
	if len(r.Errors) > 0 {
		bw.printf("FAIL  %s: %s; no case was run\n", r.Config, countText(len(r.Errors), "error"))
		return bw.err
	}
	for _, res := range r.Results {
		loc := fmt.Sprintf("%s:%d", res.File, res.Line)
		switch res.Status {
		case StatusPass:
			bw.printf("PASS  %s\n", res.Name)
		case StatusSkip:
			bw.printf("SKIP  %s  (%s: %s)\n", res.Name, loc, res.Skip)
			continue
		case StatusFail:
			bw.printf("FAIL  %s  (%s)\n", res.Name, loc)
			for _, f := range res.Failures {
				writeFailure(bw, res.File, f)
			}
		}
		if res.Status == StatusFail || verbose {
			for _, n := range res.Notes {
				bw.printf("        note: %s\n", n)
			}
		}
	}
	for _, u := range r.Uncovered {
		where := u.File
		if u.Line > 0 {
			where = fmt.Sprintf("%s:%d", u.File, u.Line)
		}
		bw.printf("%s: warning: rule %q is not matched by any case\n", where, u.Name)
	}
	total := r.Passed + r.Failed + r.Skipped
	summary := fmt.Sprintf("%d passed", r.Passed)
	if r.Failed > 0 {
		summary += fmt.Sprintf(", %d failed", r.Failed)
	}
	if r.Skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", r.Skipped)
	}
	cover := ""
	if !r.Filtered {
		cover = fmt.Sprintf("; rules matched by some case: %d of %d", r.Rules-len(r.Uncovered), r.Rules)
	}
	status := "ok  "
	if !r.OK(strict) {
		status = "FAIL"
	}
	bw.printf("%s  %s: %s (%s in %s)%s\n", status, r.Config, summary, countText(total, "case"), countText(len(r.Files), "file"), cover)
	return bw.err
}

func writeFailure(bw *errWriter, file string, f Failure) {
	bw.printf("        %s:%d: %s", file, f.Line, f.Field)
	if f.Message != "" {
		bw.printf(": %s\n", f.Message)
		return
	}
	bw.printf("\n")
	bw.printf("            want: %s\n", indentMore(f.Want))
	bw.printf("            got:  %s\n", indentMore(f.Got))
}

// indentMore indents continuation lines of a multi-line value under the
// first.
func indentMore(s string) string {
	return strings.ReplaceAll(s, "\n", "\n                  ")
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
