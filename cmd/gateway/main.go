// Command gateway is wogate's one binary. Each subcommand lives in its own
// file and registers itself in commands (cli.go); main only dispatches.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs the command args name and returns the exit code.
func dispatch(args []string) int {
	if len(args) == 0 {
		topUsage(os.Stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return help(os.Stdout, os.Stderr, args[1:])
	case "--version", "-version":
		return versionMain(nil, os.Stdout, os.Stderr)
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gateway: unknown command %q\nRun 'gateway help' for the list of commands.\n", args[0])
		return 2
	}
	// SIGINT and SIGTERM cancel ctx; commands shut down gracefully on it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, args[1:])
}
