package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
)

// FuzzParse feeds arbitrary bytes to the loader: it must never panic, and
// every error must be a *config.Error whose entries name the file.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, "../../../examples/config.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("rules: [ { name: a, when: 'true' } ]\nplugins: { a: { command: x } }"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("<<: {listen: 1}\n"))
	f.Add([]byte("corrigo: { accounts: { m: { client_id: '${A:-${B}}' } } }"))
	opts := config.Options{
		Environ:   func() []string { return []string{"WOGATE_LOG__LEVEL=debug", "WOGATE_CORRIGO__ACCOUNTS__X__SANDBOX=1"} },
		LookupEnv: func(k string) (string, bool) { return "v-" + k, k != "UNSET" },
		ReadFile: func(p string) ([]byte, error) {
			if strings.HasSuffix(p, ".pem") {
				return os.ReadFile("testdata/corrigo.pem")
			}
			return nil, errors.New("no files while fuzzing")
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.yaml"
		cfg, err := config.Parse(name, data, opts)
		if err == nil {
			if cfg == nil || cfg.Version == "" {
				t.Fatal("nil config or empty version without an error")
			}
			_ = cfg.String()
			return
		}
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %T is not *config.Error: %v", err, err)
		}
		if len(ce.Entries) == 0 {
			t.Fatal("empty error list")
		}
		for _, e := range ce.Entries {
			if e.File != name {
				t.Fatalf("entry does not name the file: %q", e)
			}
			if strings.Contains(e.Message, "internal error") {
				t.Fatalf("loader panicked: %s", e)
			}
		}
	})
}

// FuzzCheckSchema feeds arbitrary bytes to `gateway schema --check`: it
// never panics, and every entry names the file.
func FuzzCheckSchema(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("- 1\n- 2\n"))
	f.Add([]byte("corrigo: {accounts: {Bad: {region: 7}}}\n? [a]\n: b\n"))
	cs, err := config.CompileSchema(config.Schema(nil))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range cs.CheckSchema("fuzz.yaml", data) {
			if e.File != "fuzz.yaml" || e.Message == "" {
				t.Fatalf("entry %+v", e)
			}
		}
	})
}
