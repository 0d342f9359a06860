package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// command is one subcommand of the gateway binary, or one subcommand of a
// subcommand (dlq list). Its description serves three readers from one
// declaration: `-h`/`help` (usage), `gateway completion` (names and flags)
// and the test that every command answers --help.
type command struct {
	// name is the full name after "gateway": "run", "dlq list".
	name string
	// summary is one line for the parent's command list.
	summary string
	// synopsis is the usage line(s) without "usage: gateway".
	synopsis string
	// doc is the description: paragraphs, wrapped at 72 columns.
	doc string
	// example is one or more command lines, shown under "examples:".
	example string
	// flags defines the command's flags on fs. The command's own parsing
	// uses the same function, so help and completion cannot drift from
	// what the command accepts. Nil: the command takes no flags.
	flags func(fs *flag.FlagSet)
	// subs are the subcommands, in the order the usage lists them.
	subs []*command
	// run gets the arguments after the command's name and returns the
	// exit code. A command with subs may leave it nil: the sub runs.
	run func(ctx context.Context, args []string) int
}

// commands is filled by init functions in the subcommand files.
var commands = map[string]*command{}

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("gateway: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// sortedCommands lists the top-level commands by name.
func sortedCommands() []*command {
	out := make([]*command, 0, len(commands))
	for _, c := range commands {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// sub finds a subcommand of c by its last word.
func (c *command) sub(word string) *command {
	for _, s := range c.subs {
		if s.name == c.name+" "+word {
			return s
		}
	}
	return nil
}

// flagSet returns a fresh FlagSet with c's flags defined, for help and
// completion. Commands parse with their own FlagSet built by c.flags.
func (c *command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("gateway "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.flags != nil {
		c.flags(fs)
	}
	return fs
}

// printHelp writes c's usage: synopsis, description, subcommands, flags,
// examples.
func (c *command) printHelp(w io.Writer) {
	for i, line := range strings.Split(strings.TrimSpace(c.synopsis), "\n") {
		if i == 0 {
			fmt.Fprintf(w, "usage: gateway %s\n", strings.TrimSpace(line))
		} else {
			fmt.Fprintf(w, "       gateway %s\n", strings.TrimSpace(line))
		}
	}
	if c.doc != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.doc))
	}
	if len(c.subs) > 0 {
		fmt.Fprintf(w, "\ncommands:\n")
		for _, s := range c.subs {
			fmt.Fprintf(w, "  %-12s %s\n", strings.TrimPrefix(s.name, c.name+" "), s.summary)
		}
		fmt.Fprintf(w, "\nRun 'gateway help %s COMMAND' for a command's flags.\n", c.name)
	}
	fs := c.flagSet()
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nexamples:\n")
		for _, line := range strings.Split(strings.TrimSpace(c.example), "\n") {
			fmt.Fprintf(w, "  %s\n", strings.TrimSpace(line))
		}
	}
}

// errUsage is returned by parseFlags when the arguments were wrong; the
// message has been printed.
var errUsage = errors.New("usage")

// errHelp is returned by parseFlags when -h or --help was asked for; the
// usage has been printed on stdout.
var errHelp = errors.New("help")

// parseFlags parses args with c's flags into fs (built by the command, with
// c.flags) and allows flags after positional arguments (dlq show event:1
// --format json). -h and --help print c's usage on stdout (errHelp); a bad
// flag prints one line naming it and where to find the usage on stderr
// (errUsage).
func parseFlags(c *command, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard) // flag's own messages and usage are replaced below
	fs.Usage = func() {}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				c.printHelp(stdout)
				return nil, errHelp
			}
			return nil, usageError(c, stderr, "%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// usageError prints "gateway CMD: message" and where the usage is, on
// stderr, and returns errUsage.
func usageError(c *command, stderr io.Writer, format string, args ...any) error {
	fmt.Fprintf(stderr, "gateway %s: %s\n", c.name, fmt.Sprintf(format, args...))
	fmt.Fprintf(stderr, "Run 'gateway help %s' for usage.\n", c.name)
	return errUsage
}

// exitCode maps parseFlags' errors to the exit code: 0 for help, 2 for
// usage errors.
func exitCode(err error) int {
	if errors.Is(err, errHelp) {
		return 0
	}
	return 2
}

// isHelpArg reports whether a is one of the ways to ask for help.
func isHelpArg(a string) bool {
	return a == "-h" || a == "-help" || a == "--help" || a == "help"
}

// runSubcommand dispatches a command with subcommands: "gateway dlq list
// ...". No subcommand: usage on stderr, exit 2; -h, --help or help [SUB]:
// the usage asked for on stdout, exit 0.
func runSubcommand(ctx context.Context, c *command, args []string, stdout, stderr io.Writer, run func(ctx context.Context, sub *command, args []string) int) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "gateway %s: which command?\n\n", c.name)
		c.printHelp(stderr)
		return 2
	}
	if isHelpArg(args[0]) {
		return help(stdout, stderr, append(strings.Fields(c.name), args[1:]...))
	}
	sub := c.sub(args[0])
	if sub == nil {
		names := make([]string, len(c.subs))
		for i, s := range c.subs {
			names[i] = strings.TrimPrefix(s.name, c.name+" ")
		}
		_ = usageError(c, stderr, "unknown command %q (want %s)", args[0], strings.Join(names, ", "))
		return 2
	}
	return run(ctx, sub, args[1:])
}

// help prints the usage of the command that words name ("dlq", "list"):
// on stdout with exit 0, or an error on stderr with exit 2 when no such
// command exists. No words: the top-level usage.
func help(stdout, stderr io.Writer, words []string) int {
	if len(words) == 0 {
		topUsage(stdout)
		return 0
	}
	c, ok := commands[words[0]]
	if !ok {
		fmt.Fprintf(stderr, "gateway help: unknown command %q\nRun 'gateway help' for the list of commands.\n", words[0])
		return 2
	}
	for _, w := range words[1:] {
		s := c.sub(w)
		if s == nil {
			fmt.Fprintf(stderr, "gateway help: %q has no command %q\nRun 'gateway help %s' for its commands.\n", c.name, w, c.name)
			return 2
		}
		c = s
	}
	c.printHelp(stdout)
	return 0
}

func topUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: gateway <command> [flags]\n       gateway --version\n\n")
	fmt.Fprintf(w, "wogate connects a service provider's systems to CorrigoPro: it receives\n"+
		"work order notifications, runs them through rules and plugins, and sends\n"+
		"the plugins' actions back.\n\ncommands:\n")
	for _, c := range sortedCommands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'gateway help <command>' or 'gateway <command> -h' for a command's usage.\n")
}
