package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/rules"
)

// validatePlugins, when set, has every configured plugin validate its own
// config section (launch, Describe, ValidateConfig, stop) and returns the
// problems as entries positioned with cfg.Entry("plugins.<name>.config.<key>",
// message). The gateway's run wiring sets it in an init function; validate
// skips the step when it is nil or --skip-plugins is given.
var validatePlugins func(ctx context.Context, cfg *config.Config) []config.ErrorEntry

// validateOptions are validate's flags.
type validateOptions struct {
	path, format        string
	strict, skipPlugins bool
}

func (o *validateOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.path, "config", "", "configuration `FILE` to check (required)")
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.BoolVar(&o.strict, "strict", false, "fail (exit 1) on warnings too")
	fs.BoolVar(&o.skipPlugins, "skip-plugins", false, "do not start plugins to validate their config sections")
}

var validateCmd = &command{
	name:     "validate",
	summary:  "check a configuration: schema, secrets, rules, plugin configs",
	synopsis: "validate --config FILE [--format text|json] [--strict] [--skip-plugins]",
	doc: `Loads the configuration as 'gateway run' would (environment overrides and
secret references included), compiles the rules and, unless --skip-plugins,
has each plugin validate its config. Errors and warnings name the file,
line, column and key, and say how to fix them.

Exit codes: 0 valid (warnings allowed unless --strict); 1 errors (or
warnings with --strict); 2 usage.`,
	example: `gateway validate --config examples/config.yaml
gateway validate --config /etc/wogate/config.yaml --strict --format json`,
	flags: func(fs *flag.FlagSet) { new(validateOptions).define(fs) },
}

func init() {
	validateCmd.run = runValidate
	registerCommand(validateCmd)
}

// validateReport is the --format json output.
type validateReport struct {
	File     string              `json:"file"`
	Valid    bool                `json:"valid"`
	Version  string              `json:"version,omitempty"`
	Errors   []config.ErrorEntry `json:"errors"`
	Warnings []config.ErrorEntry `json:"warnings"`
	Accounts int                 `json:"accounts"`
	Plugins  int                 `json:"plugins"`
	Rules    int                 `json:"rules"`
}

func runValidate(ctx context.Context, args []string) int {
	return validateMain(ctx, args, os.Stdout, os.Stderr)
}

// validateMain is runValidate with explicit outputs, for tests. Exit codes:
// 0 valid (warnings allowed unless --strict), 1 invalid, 2 usage.
func validateMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o validateOptions
	pos, err := validateCmd.parse(args, stdout, stderr, o.define)
	if err != nil {
		return exitCode(err)
	}
	switch {
	case len(pos) > 0:
		return exitCode(usageError(validateCmd, stderr, "unexpected arguments %q (the config file goes after --config)", pos))
	case o.path == "":
		return exitCode(usageError(validateCmd, stderr, "no configuration: pass --config FILE"))
	}
	path, format, strict, skipPlugins := &o.path, &o.format, &o.strict, &o.skipPlugins
	if *format != "text" && *format != "json" {
		return exitCode(usageError(validateCmd, stderr, "unknown format %q (want text or json)", *format))
	}

	rep := validateReport{File: *path, Errors: []config.ErrorEntry{}, Warnings: []config.ErrorEntry{}}
	cfg, err := config.Load(*path)
	if err != nil {
		var ce *config.Error
		if !errors.As(err, &ce) {
			fmt.Fprintf(stderr, "gateway validate: %v\n", err)
			return 1
		}
		rep.Errors = append(rep.Errors, ce.Entries...)
		// Compile the rules that did decode, so a rule typo shows up in
		// the same run as a schema error.
		warns, errs := rules.Lint(ce.Rules)
		rep.Warnings = append(rep.Warnings, warns...)
		rep.Errors = appendNew(rep.Errors, errs)
	} else {
		rep.Version = cfg.Version
		rep.Accounts, rep.Plugins, rep.Rules = len(cfg.Corrigo.Accounts), len(cfg.Plugins), len(cfg.Rules)
		// A listener reachable from other machines without TLS is only
		// a warning for `run` (which may sit behind a proxy the config
		// does not mention) but validate refuses it.
		plain := map[string]bool{}
		for _, e := range cfg.PlaintextListeners() {
			plain[e.Message] = true
		}
		for _, w := range cfg.Warnings {
			if plain[w.Message] {
				rep.Errors = append(rep.Errors, w)
			} else {
				rep.Warnings = append(rep.Warnings, w)
			}
		}
		warns, errs := rules.Lint(cfg.Rules)
		rep.Warnings = append(rep.Warnings, warns...)
		rep.Errors = append(rep.Errors, errs...)
		if validatePlugins != nil && !*skipPlugins {
			rep.Errors = append(rep.Errors, validatePlugins(ctx, cfg)...)
		}
	}
	config.SortEntries(rep.Errors)
	config.SortEntries(rep.Warnings)
	rep.Valid = len(rep.Errors) == 0 && (!*strict || len(rep.Warnings) == 0)

	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "gateway validate: %v\n", err)
			return 1
		}
	} else {
		for _, e := range rep.Errors {
			fmt.Fprintln(stdout, labelled(e, "error"))
		}
		for _, w := range rep.Warnings {
			fmt.Fprintln(stdout, labelled(w, "warning"))
		}
		switch {
		case len(rep.Errors) > 0:
			fmt.Fprintf(stdout, "%s: invalid: %s, %s\n", rep.File, plural(len(rep.Errors), "error"), plural(len(rep.Warnings), "warning"))
		case !rep.Valid:
			fmt.Fprintf(stdout, "%s: invalid with --strict: %s\n", rep.File, plural(len(rep.Warnings), "warning"))
		default:
			fmt.Fprintf(stdout, "%s: ok (version %s): %s, %s, %s, %s\n", rep.File, rep.Version,
				plural(rep.Accounts, "account"), plural(rep.Plugins, "plugin"), plural(rep.Rules, "rule"), plural(len(rep.Warnings), "warning"))
		}
	}
	if rep.Valid {
		return 0
	}
	return 1
}

// appendNew appends the entries whose key has no error yet: an empty
// condition is reported by the loader and need not be again by the rules.
func appendNew(have, more []config.ErrorEntry) []config.ErrorEntry {
	seen := map[string]bool{}
	for _, e := range have {
		seen[e.File+"\x00"+e.Key] = true
	}
	for _, e := range more {
		if e.Key == "" || !seen[e.File+"\x00"+e.Key] {
			have = append(have, e)
		}
	}
	return have
}

// labelled formats an entry the way compilers do, with its severity after
// the position: "file:12:5: error: key: message".
func labelled(e config.ErrorEntry, severity string) string {
	s := e.String()
	prefix := e.File
	if e.Line > 0 {
		prefix += fmt.Sprintf(":%d", e.Line)
		if e.Column > 0 {
			prefix += fmt.Sprintf(":%d", e.Column)
		}
	}
	prefix += ": "
	if strings.HasPrefix(s, prefix) {
		return prefix + severity + ": " + s[len(prefix):]
	}
	return severity + ": " + s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
