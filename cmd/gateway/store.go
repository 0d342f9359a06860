package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/config"
)

// storeOptions are store check's flags.
type storeOptions struct {
	config, store string
	timeout       time.Duration
}

func (o *storeOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.config, "config", "", "check the store this configuration `FILE` uses (store.driver, store.dsn, data_dir)")
	fs.StringVar(&o.store, "store", "", "check the store at `PATH|DSN` instead: a SQLite file (a backup before restoring it), or a postgres:// DSN")
	fs.DurationVar(&o.timeout, "timeout", 0, "give up after this long (0: no limit; integrity_check reads the whole file)")
}

const storeDoc = `SQLite: runs SQLite's full integrity_check on the file: every page of
every table and index is read, its structure checked, and every index
compared with its table. It reads a snapshot and writes nothing, so it is
safe next to a running gateway (which only runs the cheaper quick_check at
start, store.sqlite.quick_check). It takes about as long as reading the
file; docs/storage.md gives the figure. The file must exist.

PostgreSQL: PostgreSQL checks its own pages (data checksums, pg_amcheck),
so this checks what wogate owns: every migration of this binary is
applied and none it does not know, and every table can be read. It says
whether the cluster has data checksums on.

Exit codes: 0 the store is intact; 1 problems found (printed, with what to
do); 2 usage, or the check could not run (no such file, no connection).`

var storeCmd = &command{
	name:     "store",
	summary:  "check the store's integrity (SQLite integrity_check; PostgreSQL schema)",
	synopsis: "store check [--config FILE | --store PATH|DSN] [--timeout D]",
	doc:      storeDoc,
	example: `gateway store check --config /etc/wogate/config.yaml
gateway store check --store /backup/wogate.db`,
	subs: []*command{{
		name: "store check", summary: "run the full integrity check of the configured store",
		synopsis: "store check [--config FILE | --store PATH|DSN] [--timeout D]", doc: storeDoc,
		example: "gateway store check --config /etc/wogate/config.yaml",
		flags:   func(fs *flag.FlagSet) { new(storeOptions).define(fs) },
	}},
}

func init() {
	storeCmd.run = func(ctx context.Context, args []string) int {
		return storeMain(ctx, args, os.Stdout, os.Stderr)
	}
	registerCommand(storeCmd)
}

func storeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, storeCmd, args, stdout, stderr, func(ctx context.Context, cmd *command, args []string) int {
		return storeCheck(ctx, cmd, args, stdout, stderr)
	})
}

func storeCheck(ctx context.Context, cmd *command, args []string, stdout, stderr io.Writer) int {
	var o storeOptions
	pos, err := cmd.parse(args, stdout, stderr, o.define)
	if err != nil {
		return exitCode(err)
	}
	switch {
	case len(pos) > 0:
		return exitCode(usageError(cmd, stderr, "unexpected arguments %q", pos))
	case (o.config == "") == (o.store == ""):
		return exitCode(usageError(cmd, stderr, "name the store: --config FILE or --store PATH|DSN"))
	case o.timeout < 0:
		return exitCode(usageError(cmd, stderr, "--timeout must not be negative"))
	}
	cfg := &config.Config{}
	if o.config != "" {
		if cfg, err = config.Load(o.config); err != nil {
			fmt.Fprintf(stderr, "gateway store check: %v\n", err)
			return 2
		}
	} else if strings.HasPrefix(o.store, "postgres://") || strings.HasPrefix(o.store, "postgresql://") {
		cfg.Store.Driver, cfg.Store.DSN = "postgres", config.Secret(o.store)
	} else {
		cfg.Store.Driver, cfg.Store.DSN = "sqlite", config.Secret(o.store)
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	r, err := assemble.CheckStore(ctx, cfg, "")
	if err != nil {
		fmt.Fprintf(stderr, "gateway store check: %v\n", err)
		return 2
	}
	head := fmt.Sprintf("%s %s: %s", r.Driver, r.Target, r.Check)
	if r.OK() {
		fmt.Fprintf(stdout, "%s ok (%s)\n", head, r.Duration.Round(time.Millisecond))
		for _, n := range r.Notes {
			fmt.Fprintf(stdout, "  %s\n", n)
		}
		return 0
	}
	fmt.Fprintf(stdout, "%s found %d problem(s) (%s):\n", head, len(r.Problems), r.Duration.Round(time.Millisecond))
	for _, p := range r.Problems {
		fmt.Fprintf(stdout, "  %s\n", p)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(stdout, "  %s\n", n)
	}
	if r.Driver == "sqlite" {
		fmt.Fprintf(stderr, "gateway store check: %s is corrupt. Stop the gateway, move the file and its -wal and -shm files aside, "+
			"and restore the last backup (check the backup first: gateway store check --store BACKUP). See docs/storage.md, \"Corruption\".\n", r.Target)
	} else {
		fmt.Fprintf(stderr, "gateway store check: the PostgreSQL store is not as this gateway expects; see the problems above.\n")
	}
	return 1
}
