package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The CLI is tested through the real binary: exit codes, stdout and
// stderr are what an operator and a shell script see.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func gatewayBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wogate-cli-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "gateway")
		cmd := exec.CommandContext(context.Background(), filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-buildvcs=auto", "-o", binPath, ".") //nolint:staticcheck // SA1019: the toolchain that runs the test builds the binary
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = errors.New(string(out))
		}
	})
	if binErr != nil {
		t.Fatalf("build gateway: %v", binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func gw(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), gatewayBinary(t), args...)
	cmd.Env = append(os.Environ(), "WOGATE_ADMIN_URL=", "WOGATE_ADMIN_TOKEN=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("gateway %v: %v", args, err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// allCommands is every registered command and subcommand, so a command
// added later is covered without editing the test.
func allCommands() []*command {
	var out []*command
	var walk func(c *command)
	walk = func(c *command) {
		out = append(out, c)
		for _, s := range c.subs {
			walk(s)
		}
	}
	for _, c := range sortedCommands() {
		walk(c)
	}
	return out
}

func TestEveryCommandAnswersHelp(t *testing.T) {
	for _, c := range allCommands() {
		words := strings.Fields(c.name)
		for _, args := range [][]string{
			append(append([]string{}, words...), "--help"),
			append(append([]string{}, words...), "-h"),
			append([]string{"help"}, words...),
		} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				r := gw(t, args...)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", r.code, r.stderr)
				}
				if !strings.HasPrefix(r.stdout, "usage: gateway "+c.name) {
					t.Fatalf("stdout does not start with its own usage line %q:\n%s", "usage: gateway "+c.name, r.stdout)
				}
				c.flagSet().VisitAll(func(f *flag.Flag) {
					if !strings.Contains(r.stdout, "  -"+f.Name) {
						t.Errorf("usage does not list the flag -%s:\n%s", f.Name, r.stdout)
					}
				})
				for _, s := range c.subs {
					if !strings.Contains(r.stdout, strings.TrimPrefix(s.name, c.name+" ")) {
						t.Errorf("usage does not list the command %q", s.name)
					}
				}
				if c.flags == nil && strings.Contains(r.stdout, "flags:") {
					t.Errorf("a command without flags shows a flags section:\n%s", r.stdout)
				}
			})
		}
	}
}

func TestTopLevelUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		r := gw(t, args...)
		if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: gateway <command>") {
			t.Errorf("%v: exit %d, stdout:\n%s", args, r.code, r.stdout)
		}
		for _, c := range sortedCommands() {
			if !regexp.MustCompile(`(?m)^  ` + c.name + ` +` + regexp.QuoteMeta(c.summary) + `$`).MatchString(r.stdout) {
				t.Errorf("%v: the command list lacks %q", args, c.name)
			}
		}
	}
	// No command at all is a usage error: usage on stderr, exit 2.
	if r := gw(t); r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, "usage: gateway <command>") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `gateway: unknown command "bogus"` + "\nRun 'gateway help' for the list of commands.\n"},
		{[]string{"help", "bogus"}, `gateway help: unknown command "bogus"`},
		{[]string{"help", "dlq", "purge"}, `gateway help: "dlq" has no command "purge"`},
		{[]string{"run", "--bogus"}, "gateway run: flag provided but not defined: -bogus\nRun 'gateway help run' for usage.\n"},
		{[]string{"run"}, "gateway run: no configuration: pass --config FILE"},
		{[]string{"run", "config.yaml"}, `gateway run: unexpected arguments ["config.yaml"] (the config file goes after --config)`},
		{[]string{"validate"}, "gateway validate: no configuration: pass --config FILE"},
		{[]string{"test"}, "gateway test: no configuration: pass --config FILE"},
		{[]string{"replay"}, "gateway replay: no configuration: pass --config FILE"},
		{[]string{"dlq"}, "gateway dlq: which command?"},
		{[]string{"dlq", "purge"}, `gateway dlq: unknown command "purge" (want list, show, reprocess, ignore)`},
		{[]string{"plugins", "list", "--format", "xml", "--admin-url", "http://127.0.0.1:1"}, "gateway plugins: --format must be table or json"},
		{[]string{"completion"}, "gateway completion: name one shell: bash, zsh or fish"},
		{[]string{"completion", "tcsh"}, `gateway completion: unknown shell "tcsh"`},
		{[]string{"version", "extra"}, `gateway version: unexpected arguments ["extra"]`},
	} {
		r := gw(t, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d (want 2), stderr lacks %q:\n%s", tc.args, r.code, tc.want, r.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	line := regexp.MustCompile(`^wogate gateway \S+( commit [0-9a-f]{40}(\+dirty)?( \(\S+\))?)? go1\.\d+\S* ` + runtime.GOOS + "/" + runtime.GOARCH + "\n$")
	for _, args := range [][]string{{"--version"}, {"version"}} {
		r := gw(t, args...)
		if r.code != 0 || !line.MatchString(r.stdout) {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
	r := gw(t, "version", "--json")
	var v buildVersion
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || r.code != 0 || v.Version == "" || v.Go != runtime.Version() {
		t.Fatalf("version --json: exit %d, %v: %q", r.code, err, r.stdout)
	}
	// The test builds in a git checkout with -buildvcs=auto: the commit is
	// stamped. (A source tarball without .git has none, which is fine.)
	// (Not in a git worktree, where .git is a file: golang/go#58218.)
	if fi, err := os.Stat("../../.git"); err == nil && fi.IsDir() && len(v.Commit) != 40 {
		t.Errorf("built in a git checkout but no commit in the build info: %+v", v)
	}
}

func TestUnreachableAdminAPI(t *testing.T) {
	addr := "http://" + closedAddr(t)
	for _, args := range [][]string{
		{"dlq", "list", "--admin-url", addr},
		{"plugins", "list", "--admin-url", addr},
		{"plugins", "restart", "erp", "--admin-url", addr},
	} {
		r := gw(t, args...)
		want := "cannot reach the admin API at " + addr + " (connection refused): the gateway may not be running"
		if r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "--admin-url") {
			t.Errorf("%v: exit %d (want 1), stderr lacks %q:\n%s", args, r.code, want, r.stderr)
		}
	}
}

// shell runs a script in a shell that CI installs; without CI it skips
// when the shell is missing.
func shell(t *testing.T, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (.ci/run installs it)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	out, err := exec.CommandContext(t.Context(), path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func writeCompletion(t *testing.T, sh string) string {
	t.Helper()
	r := gw(t, "completion", sh)
	if r.code != 0 {
		t.Fatalf("completion %s: exit %d: %s", sh, r.code, r.stderr)
	}
	p := filepath.Join(t.TempDir(), "gateway."+sh)
	if err := os.WriteFile(p, []byte(r.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// wantWords checks that got (one completion per line, "word<TAB>desc" or
// "word") holds exactly want, in any order.
func wantWords(t *testing.T, what, got string, want []string) {
	t.Helper()
	var words []string
	for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
		if w, _, _ := strings.Cut(l, "\t"); w != "" {
			words = append(words, w)
		}
	}
	if strings.Join(sortStrings(words), " ") != strings.Join(sortStrings(want), " ") {
		t.Errorf("%s: completions %q, want %q", what, words, want)
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// expectations derives what each shell must offer from the registry.
func topWords() []string {
	var w []string
	for _, c := range sortedCommands() {
		w = append(w, c.name)
	}
	return append(w, "help")
}

func runFlags() []string {
	var w []string
	for _, f := range flagsOf(commands["run"]) {
		w = append(w, "--"+f.name)
	}
	return w
}

func TestCompletionBash(t *testing.T) {
	script := writeCompletion(t, "bash")
	shell(t, "bash", "-n", script)
	probe := func(cword int, words ...string) string {
		q := make([]string, len(words))
		for i, w := range words {
			q[i] = "'" + w + "'"
		}
		return shell(t, "bash", "-c", "source "+script+"; COMP_WORDS=("+strings.Join(q, " ")+"); COMP_CWORD="+strconv.Itoa(cword)+"; _gateway; printf '%s\\n' \"${COMPREPLY[@]}\"")
	}
	wantWords(t, "gateway <TAB>", probe(1, "gateway", ""), topWords())
	wantWords(t, "gateway dlq <TAB>", probe(2, "gateway", "dlq", ""), []string{"list", "show", "reprocess", "ignore"})
	wantWords(t, "gateway help dlq <TAB>", probe(3, "gateway", "help", "dlq", ""), []string{"list", "show", "reprocess", "ignore"})
	wantWords(t, "gateway run --<TAB>", probe(2, "gateway", "run", "--"), runFlags())
	wantWords(t, "gateway run --config cli_te<TAB>", probe(3, "gateway", "run", "--config", "cli_te"), []string{"cli_test.go"})
}

func TestCompletionZsh(t *testing.T) {
	script := writeCompletion(t, "zsh")
	shell(t, "zsh", "-n", script)
	// Completion widgets need a terminal; the script's own logic is run
	// with _describe and _arguments replaced by functions that print what
	// they were given.
	probe := func(current int, words ...string) string {
		return shell(t, "zsh", "-fc", `compdef() {}; _describe() { local a=${@[-1]}; print -l -- ${(P)a} }; _arguments() { print -l -- "$@" }
source `+script+`; words=(`+strings.Join(words, " ")+` ''); CURRENT=`+strconv.Itoa(current)+`; _gateway`)
	}
	// _describe gets "name:summary"; keep the names.
	names := func(s string) string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
			n, _, _ := strings.Cut(l, ":")
			out = append(out, n)
		}
		return strings.Join(out, "\n")
	}
	wantWords(t, "gateway <TAB>", names(probe(2, "gateway")), topWords())
	wantWords(t, "gateway dlq <TAB>", names(probe(3, "gateway", "dlq")), []string{"list", "show", "reprocess", "ignore"})
	out := probe(3, "gateway", "run")
	for _, f := range runFlags() {
		if !strings.Contains(out, "'"+f) && !strings.Contains(out, f+"[") && !strings.Contains(out, f+"=[") {
			t.Errorf("gateway run <TAB>: _arguments lacks %s:\n%s", f, out)
		}
	}
	if !strings.Contains(out, "--config=[") || !strings.Contains(out, "--watch-config[") {
		t.Errorf("value flags and boolean flags are not told apart:\n%s", out)
	}
}

func TestCompletionFish(t *testing.T) {
	script := writeCompletion(t, "fish")
	shell(t, "fish", "--no-execute", script)
	probe := func(line string) string {
		return shell(t, "fish", "--no-config", "-c", "source "+script+"; complete -C '"+line+"'")
	}
	wantWords(t, "gateway <TAB>", probe("gateway "), topWords())
	wantWords(t, "gateway dlq <TAB>", probe("gateway dlq "), []string{"list", "show", "reprocess", "ignore"})
	wantWords(t, "gateway run --<TAB>", probe("gateway run --"), runFlags())
}
