package release

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const unitFile = "contrib/systemd/wogate.service"

// unitSettings reads the unit's Key=Value lines (the last one wins, as
// for systemd's single-valued keys).
func unitSettings(t *testing.T, text string) map[string]string {
	t.Helper()
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: line %q is not Key=Value", unitFile, line)
		}
		m[k] = v
	}
	return m
}

// TestSystemdUnit checks the shipped unit with systemd's own parser and
// security analysis. systemd-analyze verify wants ExecStart's binary to
// exist, so the unit is checked as installed: a copy whose ExecStart is
// the gateway from the release archive.
func TestSystemdUnit(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	b := distBuild(t)
	src, err := os.ReadFile(filepath.Join(repo, unitFile))
	if err != nil {
		t.Fatal(err)
	}
	const installed = "/usr/local/bin/gateway"
	if !strings.Contains(string(src), "ExecStart="+installed+" run ") {
		t.Fatalf("%s: ExecStart does not run %s", unitFile, installed)
	}
	unit := filepath.Join(t.TempDir(), "wogate.service")
	gw := filepath.Join(b.tree, b.top, "bin", "gateway")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(src), installed, gw)), 0o600); err != nil {
		t.Fatal(err)
	}

	// verify exits 0 on warnings (an unknown key, a bad value ignored), so
	// any output is a failure.
	code, out := run(t, nil, sa, "verify", "--man=no", unit)
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: exit %d\n%s", code, out)
	}

	// The exposure score guards the hardening against quiet removal
	// (1.5 when written; systemd's "OK" band ends at 4.9).
	_, out = run(t, nil, sa, "security", "--offline=yes", "--no-pager", unit)
	m := regexp.MustCompile(`Overall exposure level for wogate.service: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	if score, _ := strconv.ParseFloat(m[1], 64); score > 2.0 {
		t.Errorf("exposure level %s, want at most 2.0 (it was 1.5):\n%s", m[1], out)
	}

	// What docs/operations.md promises about the unit.
	set := unitSettings(t, string(src))
	for k, want := range map[string]string{
		"Type":                    "notify",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"KillMode":                "mixed",
		"DynamicUser":             "yes",
		"StateDirectory":          "wogate",
		"WorkingDirectory":        "%S/wogate",
		"Environment":             "WOGATE_DATA_DIR=%S/wogate",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"PrivateTmp":              "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
	} {
		if set[k] != want {
			t.Errorf("%s: %s=%q, want %q", unitFile, k, set[k], want)
		}
	}
}
