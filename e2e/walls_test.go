package e2e

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestImportWalls keeps the walls of docs/architecture.md: the client and
// the plugin SDK stand alone, pkg/core never imports the sandbox, the
// pipeline stages never import each other, nothing imports cmd/.
func TestImportWalls(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	const mod = "github.com/wogate/wogate/"
	deps := func(pkg string) map[string][]string {
		// -deps lists pkg and everything it imports; ImportPath + Imports
		// tells who imports what.
		cmd := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-e", "-deps", //nolint:staticcheck // SA1019: the toolchain that runs the test lists the packages
			"-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, pkg)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		m := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) > 0 && strings.HasPrefix(f[0], mod) {
				m[strings.TrimPrefix(f[0], mod)] = f[1:]
			}
		}
		return m
	}
	walls := []struct {
		from      string // package pattern
		forbidden []string
	}{
		{"./pkg/corrigo", []string{"pkg/core/"}},
		{"./pkg/pluginapi/...", []string{"pkg/core/"}},
		{"./plugins/...", []string{"pkg/core/"}},
		{"./pkg/core/...", []string{"pkg/corrigo/sandbox", "cmd/"}},
		{"./pkg/core/ingest", []string{"pkg/core/dispatch", "pkg/core/egress", "pkg/core/plugins", "pkg/core/rules", "pkg/core/gateway"}},
		{"./pkg/core/dispatch", []string{"pkg/core/ingest", "pkg/core/egress", "pkg/core/plugins", "pkg/core/rules", "pkg/core/gateway"}},
		{"./pkg/core/egress", []string{"pkg/core/ingest", "pkg/core/dispatch", "pkg/core/plugins", "pkg/core/rules", "pkg/core/gateway"}},
	}
	for _, w := range walls {
		for pkg := range deps(w.from) {
			for _, bad := range w.forbidden {
				if strings.HasPrefix(pkg, strings.TrimSuffix(bad, "/")) {
					t.Errorf("%s depends on %s, which it must not import", w.from, pkg)
				}
			}
		}
	}
}
