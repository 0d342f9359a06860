package e2e

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestImportWalls keeps the walls of docs/architecture.md, each as the doc
// states it: the client and the plugin SDK stand alone, pkg/core never
// imports the sandbox, nothing imports cmd/, the stages import only the
// store and leaf helpers from pkg/core, only the packages the doc names
// import a stage, the plugin host, a store implementation, gateway or
// assemble (what gateway and replay share).
// Test files are outside the walls (go list's Imports leave them out).
func TestImportWalls(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	var listIn func(dir, pattern string, withDeps bool) map[string][]string
	const mod = "github.com/wogate/wogate/"
	// listIn maps each package of the module in dir that pattern selects that pattern selects (with
	// -deps: and everything it imports) to its direct imports in the
	// module, without the module prefix.
	list := func(pattern string, withDeps bool) map[string][]string {
		return listIn(root, pattern, withDeps)
	}
	listIn = func(dir, pattern string, withDeps bool) map[string][]string {
		args := []string{"list", "-e"}
		if withDeps {
			args = append(args, "-deps")
		}
		args = append(args, "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, pattern)
		cmd := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), args...) //nolint:staticcheck // SA1019: the toolchain that runs the test lists the packages
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pattern, err)
		}
		m := map[string][]string{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], mod) {
				continue
			}
			var imps []string
			for _, imp := range f[1:] {
				if strings.HasPrefix(imp, mod) {
					imps = append(imps, strings.TrimPrefix(imp, mod))
				}
			}
			m[strings.TrimPrefix(f[0], mod)] = imps
		}
		return m
	}
	under := func(pkg, prefix string) bool {
		prefix = strings.TrimSuffix(prefix, "/")
		return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
	}

	// Nothing a package depends on, directly or not, may be forbidden.
	deps := []struct {
		from      string // package pattern
		forbidden []string
	}{
		{"./plugins/...", []string{"pkg/core"}},
		{"./pkg/core/...", []string{"pkg/corrigo/sandbox", "cmd"}},
		{"./internal/...", []string{"cmd"}},
		{"./pkg/core/ingest", []string{"pkg/core/dispatch", "pkg/core/egress", "pkg/core/plugins", "pkg/core/rules", "pkg/core/decide", "pkg/core/gateway"}},
		{"./pkg/core/dispatch", []string{"pkg/core/ingest", "pkg/core/egress", "pkg/core/plugins", "pkg/core/rules", "pkg/core/decide", "pkg/core/gateway"}},
		{"./pkg/core/egress", []string{"pkg/core/ingest", "pkg/core/dispatch", "pkg/core/plugins", "pkg/core/rules", "pkg/core/decide", "pkg/core/gateway"}},
		{"./pkg/core/decide", []string{"pkg/core/gateway", "pkg/core/ingest", "pkg/core/egress"}},
		{"./pkg/core/ruletest", []string{"pkg/core/gateway"}},
		{"./pkg/core/replay", []string{"pkg/core/gateway"}},
		{"./pkg/core/assemble", []string{"pkg/core/gateway", "pkg/core/ingest", "pkg/core/dispatch", "pkg/core/egress",
			"pkg/core/rules", "pkg/core/decide", "pkg/core/replay", "pkg/core/ruletest"}},
	}
	for _, w := range deps {
		for pkg := range list(w.from, true) {
			for _, bad := range w.forbidden {
				if under(pkg, bad) {
					t.Errorf("%s depends on %s, which it must not import", w.from, pkg)
				}
			}
		}
	}

	// The client and the SDK are modules of their own: they depend on
	// nothing of the gateway's module (the SDK on the client only).
	for _, m := range []struct{ dir, may string }{
		{"pkg/corrigo", "pkg/corrigo"},
		{"pkg/pluginapi", "pkg/pluginapi pkg/corrigo"},
	} {
		pkgs := listIn(filepath.Join(root, m.dir), "./...", true)
		if len(pkgs) == 0 {
			t.Fatalf("go list found no packages in module %s", m.dir)
		}
		for pkg := range pkgs {
			if !slices.ContainsFunc(strings.Fields(m.may), func(p string) bool { return under(pkg, p) }) {
				t.Errorf("module %s depends on %s; it may depend only on %s", m.dir, pkg, m.may)
			}
		}
	}

	all := list("./...", false)
	// The stages import, from pkg/core, only the store and leaf helpers.
	stageMay := []string{"pkg/core/store", "pkg/core/tracing/tracectx", "pkg/core/ratelog"}
	for _, stage := range []string{"pkg/core/ingest", "pkg/core/dispatch", "pkg/core/egress"} {
		imps, ok := all[stage]
		if !ok {
			t.Fatalf("go list found no %s", stage)
		}
		for _, imp := range imps {
			if under(imp, "pkg/core") && !slices.Contains(stageMay, imp) {
				t.Errorf("stage %s imports %s; from pkg/core a stage imports only %s", stage, imp, strings.Join(stageMay, ", "))
			}
		}
	}
	// Who may import what, directly, outside cmd/ and e2e/ (which may
	// import anything): the stages, the plugin host, the store
	// implementations and the composition root.
	importers := map[string][]string{
		"pkg/core/ingest":         {"pkg/core/gateway"},
		"pkg/core/dispatch":       {"pkg/core/gateway", "pkg/core/decide", "pkg/core/replay", "pkg/core/ruletest"},
		"pkg/core/egress":         {"pkg/core/gateway", "pkg/core/ruletest", "pkg/core/admin", "pkg/core/metrics"},
		"pkg/core/plugins":        {"pkg/core/gateway", "pkg/core/assemble", "pkg/core/decide", "pkg/core/replay", "pkg/core/admin", "pkg/core/metrics"},
		"pkg/core/store/sqlite":   {"pkg/core/assemble"},
		"pkg/core/store/postgres": {"pkg/core/assemble"},
		"pkg/core/gateway":        {},
		"pkg/core/assemble":       {"pkg/core/gateway", "pkg/core/replay"},
		"pkg/core/replay":         {},
		"pkg/core/ruletest":       {"pkg/core/replay"},
	}
	for pkg, imps := range all {
		if under(pkg, "cmd") || under(pkg, "e2e") {
			continue
		}
		for _, imp := range imps {
			allowed, walled := importers[imp]
			if walled && !slices.Contains(allowed, pkg) && !under(pkg, imp) {
				t.Errorf("%s imports %s; only %v may (docs/architecture.md, Walls)", pkg, imp, allowed)
			}
		}
	}
}
