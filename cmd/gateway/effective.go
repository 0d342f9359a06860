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

func init() {
	register("config", "print the effective config: defaults, env overrides, secrets redacted", func(ctx context.Context, args []string) int {
		return configMain(ctx, args, os.Stdout, os.Stderr)
	})
}

// configMain prints the configuration as the gateway would run it (the
// loader's result: file, WOGATE_ overrides, references, defaults), with
// secrets REDACTED. Exit codes: 0 printed, 1 the config does not load, 2
// usage.
func configMain(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (required)")
	format := fs.String("format", "yaml", "output format: yaml or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gateway config --config FILE [--format yaml|json]\n\n"+
			"Prints the effective configuration: the file with WOGATE_ environment\n"+
			"overrides and ${ENV}/file: references applied, every default filled in,\n"+
			"relative paths made absolute, and every secret shown as REDACTED. Rules are\n"+
			"not compiled and plugins not started: `gateway validate` checks those.\n"+
			"Exit 0: printed; 1: the config does not load; 2: usage.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *path == "" || fs.NArg() > 0 || (*format != "yaml" && *format != "json") {
		fs.Usage()
		return 2
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
