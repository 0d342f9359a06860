package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/ruletest"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// schemaOptions are schema's flags.
type schemaOptions struct {
	config           string
	check, ruleTests bool
}

func (o *schemaOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "include the schemas of this config's plugins (starts each plugin once)")
	fs.BoolVar(&o.check, "check", false, "check the YAML files named after the flags against the schema instead of printing it")
	fs.BoolVar(&o.ruleTests, "rule-tests", false, "the schema of rule test files (gateway test) instead of the config's")
}

var schemaCmd = &command{
	name:     "schema",
	summary:  "print the config's JSON Schema, or check files against it",
	synopsis: "schema [--config FILE | --rule-tests] [--check FILE...]",
	doc: `Prints the JSON Schema (draft 2020-12) of the gateway's config file, the
one docs/config.schema.json holds, generated from the loader's own
definitions. Editors with yaml-language-server use it with a first line
of: # yaml-language-server: $schema=<path or URL>

--config adds each configured plugin's own config schema under
plugins.<name>.config (the plugins are started once to describe
themselves). --rule-tests prints the schema of rule test files instead
(docs/ruletest.schema.json). --check checks files as written (no
environment overrides or references resolved) and prints
file:line:col: key: message; 'gateway validate' checks more.

Exit codes: 0 printed, or every file conforms; 1 problems; 2 usage.`,
	example: `gateway schema > config.schema.json
gateway schema --check examples/config.yaml
gateway schema --config examples/config.yaml --check examples/config.yaml
gateway schema --rule-tests --check examples/tests/config_test.yaml`,
	flags: func(fs *flag.FlagSet) { new(schemaOptions).define(fs) },
}

func init() {
	schemaCmd.run = func(ctx context.Context, args []string) int { return schemaMain(ctx, args, os.Stdout, os.Stderr) }
	registerCommand(schemaCmd)
}

// schemaMain prints the JSON Schema of the config file (draft 2020-12),
// or with --check checks YAML files against it. With --config, each
// plugin of that config is started once to describe its own config
// schema, which becomes the schema of its plugins.<name>.config. Exit
// codes: 0 printed / every file conforms, 1 a file does not (or a plugin
// could not describe itself), 2 usage.
func schemaMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o schemaOptions
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	o.define(fs)
	files, err := parseFlags(schemaCmd, fs, args, stdout, stderr)
	if err != nil {
		return exitCode(err)
	}
	check, ruleTests, cfgPath := &o.check, &o.ruleTests, &o.config
	switch {
	case *check && len(files) == 0:
		return exitCode(usageError(schemaCmd, stderr, "--check needs at least one file"))
	case !*check && len(files) > 0:
		return exitCode(usageError(schemaCmd, stderr, "unexpected argument %q (did you mean --check?)", files[0]))
	case *ruleTests && *cfgPath != "":
		return exitCode(usageError(schemaCmd, stderr, "--rule-tests and --config do not go together"))
	}
	var ps map[string]pluginapi.Schema
	if *cfgPath != "" {
		var err error
		if ps, err = pluginSchemas(ctx, *cfgPath); err != nil {
			fmt.Fprintf(stderr, "gateway schema: %v\n", err)
			return 1
		}
	}
	doc := config.Schema(ps)
	if *ruleTests {
		doc = ruletest.Schema()
	}
	if !*check {
		if *ruleTests {
			_, _ = stdout.Write(ruletest.SchemaJSON())
		} else {
			_, _ = stdout.Write(config.SchemaJSON(ps))
		}
		return 0
	}
	cs, err := config.CompileSchema(doc)
	if err != nil {
		fmt.Fprintf(stderr, "gateway schema: %v\n", err)
		return 1
	}
	code := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "gateway schema: %v\n", err)
			code = 1
			continue
		}
		es := cs.CheckSchema(f, data)
		if len(es) == 0 {
			fmt.Fprintf(stdout, "%s: conforms to the schema\n", f)
			continue
		}
		code = 1
		for _, e := range es {
			fmt.Fprintln(stdout, e.String())
		}
	}
	return code
}

// pluginSchemas loads the config at path and has each of its plugins
// describe its config schema.
func pluginSchemas(ctx context.Context, path string) (map[string]pluginapi.Schema, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	m := plugins.NewManager(nil, slog.New(slog.DiscardHandler))
	defer func() { _ = m.Close(context.Background()) }()
	names := make([]string, 0, len(cfg.Plugins))
	for n := range cfg.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]pluginapi.Schema{}
	for _, n := range names {
		p := cfg.Plugins[n]
		ictx, cancel := context.WithTimeout(ctx, pluginValidateTimeout)
		info, _, err := m.Inspect(ictx, plugins.Spec{Name: n, Command: p.Command, Args: p.Args, Dir: cfg.Dir, Config: p.Config,
			Timeout: p.Timeout, Concurrency: p.Concurrency, SHA256: p.SHA256})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("plugin %q (command %q): %w", n, p.Command, err)
		}
		out[n] = info.ConfigSchema
	}
	return out, nil
}
