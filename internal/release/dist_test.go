package release

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The archive's members under its top directory ("" is that directory),
// in the order GNU tar --sort=name writes them.
var archiveFiles = []string{
	"",
	"CHANGELOG.md",
	"LICENSE",
	"NOTICE",
	"README.md",
	"THIRD_PARTY_LICENSES",
	"bin/",
	"bin/csv-export",
	"bin/erp-rest",
	"bin/gateway",
	"contrib/",
	"contrib/systemd/",
	"contrib/systemd/wogate.service",
	"examples/",
	"examples/config.yaml",
}

var binaries = []string{"bin/gateway", "bin/csv-export", "bin/erp-rest"}

func TestDist(t *testing.T) {
	b := distBuild(t)

	t.Run("checksums", func(t *testing.T) {
		// As a user checks them (in the directory), and once more here.
		cmd := []string{"-c", "cd \"$1\" && sha256sum --check --strict SHA256SUMS", "sh", b.dir}
		if code, out := run(t, nil, "sh", cmd...); code != 0 || !strings.Contains(out, b.archive+": OK") {
			t.Fatalf("sha256sum --check in %s: exit %d\n%s", b.dir, code, out)
		}
		data, err := os.ReadFile(filepath.Join(b.dir, b.archive))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		sums, _ := os.ReadFile(filepath.Join(b.dir, "SHA256SUMS"))
		if want := hex.EncodeToString(sum[:]) + "  " + b.archive + "\n"; string(sums) != want {
			t.Errorf("SHA256SUMS = %q, want %q", sums, want)
		}
	})

	t.Run("members", func(t *testing.T) {
		es := b.entries
		mtime := commitTime(t)
		var names []string
		for _, e := range es {
			names = append(names, strings.TrimPrefix(e.name, b.top+"/"))
			h := e.hdr
			if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
				t.Errorf("%s: owner %d/%d (%q/%q), want 0/0 without names", e.name, h.Uid, h.Gid, h.Uname, h.Gname)
			}
			if !h.ModTime.Equal(mtime) {
				t.Errorf("%s: mtime %v, want the commit's %v", e.name, h.ModTime, mtime)
			}
			want := int64(0o644)
			if h.Typeflag == tar.TypeDir || strings.HasPrefix(strings.TrimPrefix(e.name, b.top+"/"), "bin/") {
				want = 0o755
			}
			if h.Mode&0o7777 != want {
				t.Errorf("%s: mode %o, want %o", e.name, h.Mode&0o7777, want)
			}
		}
		if strings.Join(names, "\n") != strings.Join(archiveFiles, "\n") {
			t.Errorf("archive members under %s/:\n%s\nwant:\n%s", b.top, strings.Join(names, "\n"), strings.Join(archiveFiles, "\n"))
		}
		// The licence text shipped is the one in the repository, and the
		// third-party file covers the Go runtime and the modules.
		for _, e := range es {
			switch strings.TrimPrefix(e.name, b.top+"/") {
			case "LICENSE":
				if !bytes.Contains(e.data, []byte("Apache License\n                           Version 2.0, January 2004")) {
					t.Error("LICENSE is not the Apache License 2.0")
				}
			case "THIRD_PARTY_LICENSES":
				for _, m := range []string{"\nGo go1.", "\ngithub.com/hashicorp/go-plugin v", "\nmodernc.org/sqlite v", "\ngoogle.golang.org/grpc v"} {
					if !bytes.Contains(e.data, []byte(m)) {
						t.Errorf("THIRD_PARTY_LICENSES lacks %q", strings.TrimSpace(m))
					}
				}
			}
		}
	})

	t.Run("static binaries", func(t *testing.T) {
		machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
		for _, name := range binaries {
			p := filepath.Join(b.tree, b.top, name)
			f, err := elf.Open(p)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, prog := range f.Progs {
				if prog.Type == elf.PT_INTERP {
					t.Errorf("%s has a PT_INTERP program header: it needs a dynamic loader", name)
				}
			}
			if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
				t.Errorf("%s needs shared libraries %v", name, libs)
			}
			if f.Machine != machine {
				t.Errorf("%s is for %v, want %v", name, f.Machine, machine)
			}
			_ = f.Close()
			bi, err := buildinfo.ReadFile(p)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			set := map[string]string{}
			for _, s := range bi.Settings {
				set[s.Key] = s.Value
			}
			if set["CGO_ENABLED"] != "0" || set["-trimpath"] != "true" || set["GOOS"] != "linux" || set["GOARCH"] != runtime.GOARCH {
				t.Errorf("%s build settings %v, want CGO_ENABLED=0 -trimpath=true linux/%s", name, set, runtime.GOARCH)
			}
		}
	})

	t.Run("runs", func(t *testing.T) {
		gw := filepath.Join(b.tree, b.top, "bin", "gateway")
		code, out := run(t, nil, gw, "version")
		if code != 0 || !strings.Contains(out, b.version) {
			t.Errorf("gateway version: exit %d, %q; want the version %q", code, out, b.version)
		}
		// The example config as shipped, with the plugins from the same
		// archive (its commands are ../bin/...): validate starts them.
		code, out = run(t, append(os.Environ(), "ERP_TOKEN=t"), gw, "validate", "--config", filepath.Join(b.tree, b.top, "examples", "config.yaml"))
		if code != 0 {
			t.Errorf("gateway validate of the archive's examples/config.yaml: exit %d\n%s", code, out)
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		// A second build of the same commit into another directory gives
		// the same bytes (the Go build cache makes it cheap).
		again := filepath.Join(t.TempDir(), "dist")
		if out, err := runDist(t.Context(), again, runtime.GOARCH); err != nil {
			t.Fatalf("second dist build: %v\n%s", err, out)
		}
		first, _ := os.ReadFile(filepath.Join(b.dir, "SHA256SUMS"))
		second, err := os.ReadFile(filepath.Join(again, "SHA256SUMS"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Errorf("two builds of one commit differ:\n%s\n%s", first, second)
		}
	})
}
