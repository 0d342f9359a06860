package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/wogate/wogate/pkg/core/ruletest"
)

// testOptions are test's flags.
type testOptions struct {
	path, format, run string
	tests             listFlag
	verbose, strict   bool
}

func (o *testOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.path, "config", "", "configuration file whose rules are tested (required)")
	fs.Var(&o.tests, "tests", "test file or directory (repeatable; default: the tests directory next to the config)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.StringVar(&o.run, "run", "", "run only the cases whose name matches this regular expression")
	fs.BoolVar(&o.verbose, "v", false, "show notes (plugins without a mock, defaults taken) for passing cases too")
	fs.BoolVar(&o.strict, "strict", false, "fail (exit 1) when a rule is matched by no case")
}

var testCmd = &command{
	name:     "test",
	summary:  "run rule unit tests (YAML cases next to the config)",
	synopsis: "test --config FILE [--tests DIR|FILE]... [--run REGEX] [--format text|json] [--strict] [-v] [FILE...]",
	doc: `Runs rule unit tests: each case sends an event through the configuration's
rules, with mocked plugin answers, and checks which rules match and which
actions would be sent to CorrigoPro or refused. Test files default to
<config dir>/tests/*.yaml; see docs/integrators.md.

Exit codes: 0 every case passed; 1 a case failed or something did not
load (or, with --strict, a rule no case matches); 2 usage.`,
	example: `gateway test --config examples/config.yaml
gateway test --config examples/config.yaml --run emergency -v`,
	flags: func(fs *flag.FlagSet) { new(testOptions).define(fs) },
}

func init() {
	testCmd.run = runTest
	register(testCmd)
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
	var o testOptions
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	o.define(fs)
	pos, err := parseFlags(testCmd, fs, args, stdout, stderr)
	if err != nil {
		return exitCode(err)
	}
	tests := append(o.tests, pos...)
	if o.path == "" {
		return exitCode(usageError(testCmd, stderr, "no configuration: pass --config FILE (the config whose rules the cases test)"))
	}
	path, format, run, verbose, strict := &o.path, &o.format, &o.run, &o.verbose, &o.strict
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
