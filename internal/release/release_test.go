package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// repo is the repository root.
var repo = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}()

// workDir holds the one dist build the tests share; TestMain removes it.
var workDir string

func TestMain(m *testing.M) {
	code := func() int {
		d, err := os.MkdirTemp("", "wogate-release-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		workDir = d
		defer func() { _ = os.RemoveAll(d) }()
		return m.Run()
	}()
	os.Exit(code)
}

// build is one run of scripts/dist.sh for the machine's architecture.
type build struct {
	dir     string // DIST_DIR: the archive and SHA256SUMS
	archive string // its file name
	top     string // the archive's top directory, wogate-<version>-linux-<arch>
	version string
	tree    string // the archive unpacked (tree/top/bin/gateway, ...)
	entries []entry
	err     error
}

var (
	distOnce sync.Once
	dist     build
)

// goTool is the toolchain running the test, which builds the artefacts.
func goTool() string {
	return filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: the toolchain that runs the test builds the binaries
}

// runDist runs `make dist`'s script into dir for one architecture.
func runDist(ctx context.Context, dir, arch string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "scripts", "dist.sh"))
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "GO="+goTool(), "DIST_DIR="+dir, "ARCHES="+arch)
	return cmd.CombinedOutput()
}

// distBuild builds the release archive once and unpacks it.
func distBuild(t *testing.T) *build {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds the release archive")
	}
	distOnce.Do(func() {
		dist.dir = filepath.Join(workDir, "dist")
		out, err := runDist(context.Background(), dist.dir, runtime.GOARCH)
		if err != nil {
			dist.err = fmt.Errorf("scripts/dist.sh: %w\n%s", err, out)
			return
		}
		sums, err := os.ReadFile(filepath.Join(dist.dir, "SHA256SUMS"))
		if err != nil {
			dist.err = err
			return
		}
		f := strings.Fields(string(sums))
		if len(f) != 2 {
			dist.err = fmt.Errorf("SHA256SUMS of one archive is %q", sums)
			return
		}
		dist.archive = f[1]
		dist.top = strings.TrimSuffix(dist.archive, ".tar.gz")
		dist.version = strings.TrimSuffix(strings.TrimPrefix(dist.top, "wogate-"), "-linux-"+runtime.GOARCH)
		dist.tree = filepath.Join(workDir, "tree")
		dist.entries, dist.err = unpack(filepath.Join(dist.dir, dist.archive), dist.tree)
	})
	if dist.err != nil {
		t.Fatal(dist.err)
	}
	return &dist
}

// entry is what the tests check of one archive member.
type entry struct {
	name string
	hdr  *tar.Header
	data []byte // the content of text members (under 1 MiB); binaries are only unpacked
}

// unpack reads the archive once (gzip is slow under -race): it unpacks
// every member into dir and returns them in archive order.
func unpack(archive, dir string) ([]entry, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	var es []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return es, nil
		}
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			return nil, fmt.Errorf("archive member %q leaves the directory", h.Name)
		}
		e := entry{name: h.Name, hdr: h}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return nil, err
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			if len(b) < 1<<20 {
				e.data = b
			}
			if err := os.WriteFile(p, b, os.FileMode(h.Mode)&0o777); err != nil { //nolint:gosec // modes come from our own archive and are checked by TestDist
				return nil, err
			}
		default:
			return nil, fmt.Errorf("archive member %q has type %c", h.Name, h.Typeflag)
		}
		es = append(es, e)
	}
}

// commitTime is the time dist.sh stamps on every archive member.
func commitTime(t *testing.T) time.Time {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "git", "-C", repo, "log", "-1", "--format=%ct").Output()
	if err != nil {
		t.Fatal(err)
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(sec, 0)
}

// run runs a command and returns its exit code and combined output.
func run(t *testing.T, env []string, name string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = env
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		return ee.ExitCode(), out.String()
	}
	return 0, out.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// needTool skips a test when a command is missing, except in CI (.ci/run
// sets CI=1 and installs it), where a missing tool is a failure.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; .ci/run installs it", name)
	}
	t.Skipf("%s is not installed (CI installs it)", name)
	return ""
}
