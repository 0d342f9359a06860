// Package testplugin holds small real plugin binaries for tests across the
// repository, and Build, which compiles one once per test binary:
//
//	bin := testplugin.Build(t, "accept")   // internal/testplugin/accept
//
// Binaries:
//   - accept: answers events with configurable actions (NewWorkOrder →
//     accept by default); can delay, fail, crash, use the host KV store and
//     report what it saw. See accept/main.go for its config.
//   - notaplugin: prints garbage and exits, like any program that is not a
//     wogate plugin.
//   - future: a plugin that only speaks a protocol version this gateway
//     does not know.
package testplugin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	dir    string
	built  = map[string]string{}
	errs   = map[string]error{}
	srcDir = func() string {
		_, file, _, _ := runtime.Caller(0)
		return filepath.Dir(file)
	}()
)

// Build compiles internal/testplugin/<name> (once per test binary) and
// returns the executable's path. It fails the test if the build fails.
func Build(t testing.TB, name string) string {
	t.Helper()
	path, err := BuildErr(name)
	if err != nil {
		t.Fatalf("testplugin: %v", err)
	}
	return path
}

// BuildErr is Build for TestMain and benchmarks' setup, where there is no
// testing.TB yet.
func BuildErr(name string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[name]; ok {
		return p, nil
	}
	if err, ok := errs[name]; ok {
		return "", err
	}
	p, err := build(name)
	if err != nil {
		errs[name] = err
		return "", err
	}
	built[name] = p
	return p, nil
}

func build(name string) (string, error) {
	if name == "" || filepath.Base(name) != name {
		return "", fmt.Errorf("bad test plugin name %q", name)
	}
	if _, err := os.Stat(filepath.Join(srcDir, name, "main.go")); err != nil {
		return "", fmt.Errorf("no test plugin %q: %w", name, err)
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "wogate-testplugin-")
		if err != nil {
			return "", err
		}
		dir = d
	}
	out := filepath.Join(dir, name)
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: the toolchain that built the test builds its plugins
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.CommandContext(context.Background(), goBin, "build", "-o", out, "./"+name)
	cmd.Dir = srcDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build test plugin %s: %w\n%s", name, err, stderr.String())
	}
	return out, nil
}

// Cleanup removes the built binaries; call it from TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	dir = ""
	built = map[string]string{}
	errs = map[string]error{}
}
