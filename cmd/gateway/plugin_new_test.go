package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
)

// readmeConfigLoads writes the config of a generated plugin's README to
// config.yaml beside it and loads it as the gateway would: what the README
// tells a vendor to run must be a complete, valid config.
func readmeConfigLoads(t *testing.T, dir string) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "```yaml\n")
	yml, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatalf("README.md has no yaml block:\n%s", readme)
	}
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the README's config does not load: %v\n%s", err, yml)
	}
	if !cfg.UsesSandbox() || len(cfg.Plugins) != 1 || len(cfg.Rules) != 1 {
		t.Fatalf("the README's config does not run the plugin against the sandbox:\n%s", yml)
	}
}

// A generated Go plugin builds against the repository's SDK (through
// --sdk-dir's replace, offline: GOPROXY=off, the module cache has what the
// SDK needs), passes its own test, and is a plugin gateway plugins
// describe can launch.
func TestPluginNewGo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme-erp")
	sdk, err := filepath.Abs("../../pkg/pluginapi")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := pluginMain(t.Context(), []string{"new", "acme-erp", "--dir", dir, "--sdk-dir", sdk}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: the toolchain that runs the test
	run := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), goTool, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, o)
		}
	}
	run("mod", "tidy")
	run("vet", "./...")
	run("test", "-count=1", "./...")
	run("build", "-o", "acme-erp", ".")
	readmeConfigLoads(t, dir)

	out.Reset()
	if code := pluginsMain(t.Context(), []string{"describe", filepath.Join(dir, "acme-erp")}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "name:         acme-erp\n") {
		t.Fatalf("describe: exit %d, %s%s", code, out.String(), errOut.String())
	}

	// A second run refuses to overwrite; bad names and languages are usage errors.
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"new", "acme-erp", "--dir", dir}, 1, "exists and is not empty"},
		{[]string{"new", "Acme_ERP"}, 2, "must be lower-case letters"},
		{[]string{"new", "x", "--lang", "cobol"}, 2, "--lang must be go or python"},
		{[]string{"new"}, 2, "takes exactly one plugin NAME"},
	} {
		errOut.Reset()
		if code := pluginMain(t.Context(), c.args, &out, &errOut); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want %d, %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
}

// A generated Python plugin passes its own tests under Debian's
// interpreter and is a plugin gateway plugins describe can launch.
func TestPluginNewPython(t *testing.T) {
	python := "/usr/bin/python3"
	if err := exec.CommandContext(t.Context(), python, "-c", "import grpc, google.protobuf, cryptography").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import the Python SDK's dependencies: %v", python, err)
		}
		t.Skipf("%s lacks python3-grpcio, python3-protobuf or python3-cryptography (CI installs them)", python)
	}
	dir := filepath.Join(t.TempDir(), "acme-py")
	sdk, err := filepath.Abs("../../sdk/python")
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := pluginMain(t.Context(), []string{"new", "acme-py", "--lang", "python", "--dir", dir, "--sdk-dir", sdk}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	cmd := exec.CommandContext(t.Context(), python, "-m", "unittest", "discover", "-s", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("unittest: %v\n%s", err, o)
	}
	readmeConfigLoads(t, dir)
	out.Reset()
	if code := pluginsMain(t.Context(), []string{"describe", python, "--", filepath.Join(dir, "main.py")}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "name:         acme-py\n") {
		t.Fatalf("describe: exit %d, %s%s", code, out.String(), errOut.String())
	}
}
