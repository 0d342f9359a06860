package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// A plugin project from `gateway plugin new`, built as generated (against
// this repository's SDK through --sdk-dir, offline), runs under the real
// gateway: a work order created in the sandbox is accepted by it.
func TestScaffoldedGoPluginAcceptsAWorkOrder(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	dir := filepath.Join(t.TempDir(), "acme")
	gen := exec.CommandContext(t.Context(), gatewayBin, "plugin", "new", "acme", "--dir", dir, "--sdk-dir", filepath.Join(root, "pkg", "pluginapi"))
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gateway plugin new: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "acme")
	for _, args := range [][]string{{"mod", "tidy"}, {"test", "-count=1", "./..."}, {"build", "-o", bin, "."}} {
		cmd := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), args...) //nolint:staticcheck // SA1019: the toolchain that runs the test builds the plugin
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	e := newEnv(t)
	e.writeConfig(gwConfig{Plugin: bin, PluginConfig: `{comment: "Scaffolded and on its way"}`})
	e.start()
	e.sb.SetWebhookURL(e.url("/webhooks/corrigo/main"))
	id := e.create(sandbox.WorkOrderSpec{})
	e.waitFor("work order accepted by the scaffolded plugin", 30*time.Second, func() bool { return e.status(id) == corrigo.StatusAccepted })
}

// The same for a Python plugin from `gateway plugin new --lang python`,
// as generated, under Debian's interpreter.
func TestScaffoldedPythonPluginAcceptsAWorkOrder(t *testing.T) {
	python := pythonWithSDKDeps(t)
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	dir := filepath.Join(t.TempDir(), "acme-py")
	gen := exec.CommandContext(t.Context(), gatewayBin, "plugin", "new", "acme-py", "--lang", "python", "--dir", dir, "--sdk-dir", filepath.Join(root, "sdk", "python"))
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("gateway plugin new: %v\n%s", err, out)
	}
	unit := exec.CommandContext(t.Context(), python, "-m", "unittest", "discover", "-s", ".")
	unit.Dir = dir
	unit.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	if out, err := unit.CombinedOutput(); err != nil {
		t.Fatalf("the generated tests: %v\n%s", err, out)
	}
	ex := startPython(t, python, filepath.Join(dir, "main.py"), `comment: "Scaffolded and on its way"`, 4)
	wo := ex.createWorkOrder("LOW")
	ex.waitFor("work order accepted by the scaffolded Python plugin", 30*time.Second, func() bool {
		return ex.status(wo.WorkOrderId) == corrigo.StatusAccepted
	})
}
