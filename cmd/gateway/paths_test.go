package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/internal/testplugin"
)

// TestValidateFromAnotherDirectory: relative paths in a config (plugin
// commands, file: secrets, data_dir) are relative to the config file's
// directory, so `gateway validate` gives the same answer whatever the
// working directory. It used to resolve commands against the working
// directory and file: against the config's, and reported false errors
// when run from elsewhere.
func TestValidateFromAnotherDirectory(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, testplugin.Build(t, "accept"), filepath.Join(dir, "bin", "accept"), 0o755)
	copyFile(t, "../../pkg/core/config/testdata/corrigo.pem", filepath.Join(dir, "certs", "corrigo.pem"), 0o600)
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(`data_dir: ./data
corrigo:
  accounts:
    prod:
      region: am
      client_id: id
      client_secret: file:./secret.txt
      webhook: {certificate: "file:certs/corrigo.pem"}
plugins:
  accept: {command: ./bin/accept, config: {fail_rate: 0.5}}
  gone: {command: bin/gone}
rules:
  - {name: all, when: "true", plugin: accept}
  - {name: gone, when: "true", plugin: gone}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	validateIn := func(wd string) (int, string) {
		t.Chdir(wd)
		code, out, errOut := runValidateTest(t, "--config", cfg)
		return code, out + errOut
	}
	code, fromConfigDir := validateIn(dir)
	// The only problem is the plugin that really is missing; the other
	// plugin, the secret and the certificate were found.
	want := cfg + ":11:19: error: plugins.gone.command: plugin \"gone\": cannot run command \"" + filepath.Join(dir, "bin", "gone") + "\""
	if code != 1 || !strings.Contains(fromConfigDir, want) || !strings.Contains(fromConfigDir, "invalid: 1 error") {
		t.Fatalf("from the config's directory: exit %d:\n%s\nwant the one error %s", code, fromConfigDir, want)
	}
	code2, fromElsewhere := validateIn(t.TempDir())
	if code2 != code || fromElsewhere != fromConfigDir {
		t.Errorf("from another directory: exit %d:\n%s\nfrom the config's directory: exit %d:\n%s", code2, fromElsewhere, code, fromConfigDir)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}
