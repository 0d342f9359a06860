package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/wogate/wogate/pkg/core/ruletest"
)

func init() {
	register("test", "run rule unit tests (YAML cases next to the config)", runTest)
}

func runTest(ctx context.Context, args []string) int {
	return testMain(ctx, args, os.Stdout, os.Stderr)
}

// listFlag collects a flag given several times (or comma-separated).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// testMain is runTest with explicit outputs, for tests. Exit codes: 0 every
// case passed; 1 a case failed, or the config or a test file does not load
// (or, with --strict, a rule no case matches); 2 usage.
func testMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file whose rules are tested (required)")
	var tests listFlag
	fs.Var(&tests, "tests", "test file or directory (repeatable; default: the tests directory next to the config)")
	format := fs.String("format", "text", "output format: text or json")
	run := fs.String("run", "", "run only the cases whose name matches this regular expression")
	verbose := fs.Bool("v", false, "show notes (plugins without a mock, defaults taken) for passing cases too")
	strict := fs.Bool("strict", false, "fail (exit 1) when a rule is matched by no case")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gateway test --config FILE [--tests DIR|FILE]... [--run REGEX] [--format text|json] [--strict] [-v] [FILE...]\n\n"+
			"Runs rule unit tests: each case sends an event through the configuration's\n"+
			"rules, with mocked plugin answers, and checks which rules match and which\n"+
			"actions would be sent to CorrigoPro or refused. Test files default to\n"+
			"<config dir>/tests/*.yaml; see docs/integrators.md. Exit 0: every case\n"+
			"passed; 1: a case failed or something did not load; 2: usage.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	tests = append(tests, fs.Args()...)
	if *path == "" {
		fs.Usage()
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "gateway test: unknown format %q (want text or json)\n", *format)
		return 2
	}
	opts := ruletest.Options{Config: *path, Tests: tests}
	if *run != "" {
		re, err := regexp.Compile(*run)
		if err != nil {
			fmt.Fprintf(stderr, "gateway test: --run: %v\n", err)
			return 2
		}
		opts.Run = re
	}
	rep := ruletest.RunAll(ctx, opts)
	var err error
	if *format == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout, *verbose, *strict)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway test: %v\n", err)
		return 1
	}
	if rep.OK(*strict) {
		return 0
	}
	return 1
}
