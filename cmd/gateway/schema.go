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

func init() {
	register("schema", "print the config's JSON Schema, or check files against it", func(ctx context.Context, args []string) int {
		return schemaMain(ctx, args, os.Stdout, os.Stderr)
	})
}

// schemaMain prints the JSON Schema of the config file (draft 2020-12),
// or with --check checks YAML files against it. With --config, each
// plugin of that config is started once to describe its own config
// schema, which becomes the schema of its plugins.<name>.config. Exit
// codes: 0 printed / every file conforms, 1 a file does not (or a plugin
// could not describe itself), 2 usage.
func schemaMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "include the schemas of this config's plugins (starts each plugin once)")
	check := fs.Bool("check", false, "check the YAML files named after the flags against the schema instead of printing it")
	ruleTests := fs.Bool("rule-tests", false, "the schema of rule test files (gateway test) instead of the config's")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gateway schema [--config FILE | --rule-tests] [--check FILE...]\n\n"+
			"Prints the JSON Schema (draft 2020-12) of the gateway's config file, the\n"+
			"one docs/config.schema.json holds. Editors with yaml-language-server use it\n"+
			"with a first line of:  # yaml-language-server: $schema=<path or URL>\n"+
			"--config adds each configured plugin's own config schema (the plugins are\n"+
			"started once to describe themselves). --check checks files as written (no\n"+
			"environment overrides or references resolved): `gateway validate` checks\n"+
			"more. --rule-tests: the schema of rule test files instead (docs/ruletest.schema.json).\n"+
			"Exit 0: printed, or every file conforms; 1: problems; 2: usage.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	files := fs.Args()
	if *check && len(files) == 0 {
		fmt.Fprintln(stderr, "gateway schema: --check needs at least one file")
		return 2
	}
	if !*check && len(files) > 0 {
		fmt.Fprintf(stderr, "gateway schema: unexpected argument %q (did you mean --check?)\n", files[0])
		return 2
	}
	if *ruleTests && *cfgPath != "" {
		fmt.Fprintln(stderr, "gateway schema: --rule-tests and --config do not go together")
		return 2
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
