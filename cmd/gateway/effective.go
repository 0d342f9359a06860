package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/wogate/wogate/pkg/core/config"
)

// configOptions are config's flags.
type configOptions struct{ path, format string }

func (o *configOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.path, "config", "", "configuration file (required)")
	fs.StringVar(&o.format, "format", "yaml", "output format: yaml or json")
}

var configCmd = &command{
	name:     "config",
	summary:  "print the effective config: defaults, env overrides, secrets redacted",
	synopsis: "config --config FILE [--format yaml|json]",
	doc: `Prints the effective configuration: the file with WOGATE_ environment
overrides and ${ENV}/file: references applied, every default filled in,
relative paths made absolute, and every secret shown as REDACTED. It
answers "which value wins?" when the environment and the file disagree.
Rules are not compiled and plugins not started: 'gateway validate' checks
those.

Exit codes: 0 printed; 1 the config does not load; 2 usage.`,
	example: `gateway config --config examples/config.yaml
WOGATE_LOG__LEVEL=debug gateway config --config /etc/wogate/config.yaml --format json`,
	flags: func(fs *flag.FlagSet) { new(configOptions).define(fs) },
}

func init() {
	configCmd.run = func(ctx context.Context, args []string) int { return configMain(ctx, args, os.Stdout, os.Stderr) }
	registerCommand(configCmd)
}

// configMain prints the configuration as the gateway would run it (the
// loader's result: file, WOGATE_ overrides, references, defaults), with
// secrets REDACTED. Exit codes: 0 printed, 1 the config does not load, 2
// usage.
func configMain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o configOptions
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	o.define(fs)
	pos, err := parseFlags(configCmd, fs, args, stdout, stderr)
	if err != nil {
		return exitCode(err)
	}
	path, format := &o.path, &o.format
	switch {
	case len(pos) > 0:
		return exitCode(usageError(configCmd, stderr, "unexpected argument %q", pos[0]))
	case *path == "":
		return exitCode(usageError(configCmd, stderr, "--config FILE is required"))
	case *format != "yaml" && *format != "json":
		return exitCode(usageError(configCmd, stderr, "--format must be yaml or json, not %q", *format))
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	eff := cfg.Effective()
	if *format == "json" {
		b, _ := json.MarshalIndent(eff, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	fmt.Fprintf(stdout, "# Effective configuration of %s (version %s); secrets are REDACTED.\n", *path, cfg.Version)
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	if err := enc.Encode(eff); err != nil {
		fmt.Fprintf(stderr, "gateway config: %v\n", err)
		return 1
	}
	_ = enc.Close()
	return 0
}
