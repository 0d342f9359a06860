package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
)

// scaffoldFS holds the plugin project templates of `gateway plugin new`.
//
//go:embed scaffold
var scaffoldFS embed.FS

// scaffoldSDKVersion is the SDK version a generated Go plugin requires:
// none is tagged yet, so generated projects need --sdk-dir (or a replace)
// until the first pkg/pluginapi tag exists (docs/releasing.md).
const scaffoldSDKVersion = "v0.0.0-00010101000000-000000000000"

var pluginCmd = &command{
	name:     "plugin",
	summary:  "scaffold a new plugin project",
	synopsis: "plugin new NAME [--lang go|python] [--dir DIR] [--module PATH] [--sdk-dir DIR]",
	doc:      "Creates the files of a new plugin project.",
	example:  "gateway plugin new acme-erp --dir ./acme-erp",
	subs: []*command{{
		name: "plugin new", summary: "create a plugin project that builds, passes its tests and accepts new work orders",
		synopsis: "plugin new NAME [--lang go|python] [--dir DIR] [--module PATH] [--sdk-dir DIR]",
		doc: `Writes a plugin project named NAME into DIR (default ./NAME, which must
not exist or be empty): a plugin that accepts every new work order with a
configured comment, its test (pkg/pluginapi/plugintest) and a README with
the gateway config to run it.

--lang go (the default) writes go.mod, main.go and main_test.go;
--module sets the Go module path (default example.com/NAME). --sdk-dir
points the project at a local checkout's pkg/pluginapi with a replace,
for building before an SDK release is tagged or without network.

--lang python writes main.py (what the gateway runs, with the
interpreter as command), plugin.py and test_plugin.py; --sdk-dir names
the checkout's sdk/python directory, written into main.py and the test
(WOGATE_PYTHON_SDK overrides it at run time).

Exit codes: 0 written; 1 the files could not be written; 2 usage.`,
		example: `gateway plugin new acme-erp
gateway plugin new acme-erp --dir /tmp/acme-erp --sdk-dir ~/src/wogate/pkg/pluginapi`,
		flags: func(fs *flag.FlagSet) { pluginNewFlags(fs, new(pluginNewOptions)) },
	}},
}

type pluginNewOptions struct{ lang, dir, module, sdkDir string }

func pluginNewFlags(fs *flag.FlagSet, o *pluginNewOptions) {
	fs.StringVar(&o.lang, "lang", "go", "the plugin's language: go or python")
	fs.StringVar(&o.dir, "dir", "", "directory to create (default ./NAME)")
	fs.StringVar(&o.module, "module", "", "Go module path (default example.com/NAME)")
	fs.StringVar(&o.sdkDir, "sdk-dir", "", "the SDK in a local wogate checkout: pkg/pluginapi (go, a replace in go.mod) or sdk/python (python)")
}

func init() {
	pluginCmd.run = func(ctx context.Context, args []string) int {
		return pluginMain(ctx, args, os.Stdout, os.Stderr)
	}
	registerCommand(pluginCmd)
}

func pluginMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, pluginCmd, args, stdout, stderr, func(_ context.Context, cmd *command, args []string) int {
		var o pluginNewOptions
		pos, err := cmd.parse(args, stdout, stderr, func(fs *flag.FlagSet) { pluginNewFlags(fs, &o) })
		if err != nil {
			return exitCode(err)
		}
		if len(pos) != 1 {
			return exitCode(usageError(cmd, stderr, "takes exactly one plugin NAME"))
		}
		if !pluginNameRE.MatchString(pos[0]) {
			return exitCode(usageError(cmd, stderr, "NAME %q must be lower-case letters, digits and dashes, starting with a letter", pos[0]))
		}
		if o.lang != "go" && o.lang != "python" {
			return exitCode(usageError(cmd, stderr, "--lang must be go or python"))
		}
		dir, err := scaffoldPlugin(pos[0], o)
		if err != nil {
			fmt.Fprintf(stderr, "gateway plugin new: %v\n", err)
			return 1
		}
		next := fmt.Sprintf("cd %s && go mod tidy && go test ./... && go build -o %s .", dir, pos[0])
		if o.lang == "python" {
			next = fmt.Sprintf("cd %s && /usr/bin/python3 -m unittest discover -s .", dir)
		}
		fmt.Fprintf(stdout, "wrote plugin %s in %s\nnext: %s\n", pos[0], dir, next)
		return 0
	})
}

var pluginNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// scaffoldPlugin writes the project and returns its directory.
func scaffoldPlugin(name string, o pluginNewOptions) (string, error) {
	dir := o.dir
	if dir == "" {
		dir = name
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return "", fmt.Errorf("%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	data := struct{ Name, Module, SDKVersion, SDKDir, CorrigoDir, PySDKDir string }{Name: name, Module: o.module, SDKVersion: scaffoldSDKVersion, PySDKDir: `""`}
	if data.Module == "" {
		data.Module = "example.com/" + name
	}
	if o.sdkDir != "" {
		abs, err := filepath.Abs(o.sdkDir)
		if err != nil {
			return "", err
		}
		if o.lang == "python" {
			if _, err := os.Stat(filepath.Join(abs, "wogate_plugin", "__init__.py")); err != nil {
				return "", fmt.Errorf("--sdk-dir %s: no wogate_plugin there (want the sdk/python directory of a wogate checkout)", o.sdkDir)
			}
			data.PySDKDir = strconv.Quote(abs) // a valid Python string literal for a path
		} else {
			if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
				return "", fmt.Errorf("--sdk-dir %s: no go.mod there (want the pkg/pluginapi directory of a wogate checkout)", o.sdkDir)
			}
			data.SDKDir, data.CorrigoDir = abs, filepath.Join(filepath.Dir(abs), "corrigo")
		}
	}
	root := "scaffold/" + o.lang
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	err := fs.WalkDir(scaffoldFS, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := scaffoldFS.ReadFile(path)
		if err != nil {
			return err
		}
		t, err := template.New(path).Delims("[[", "]]").Parse(string(src)) // [[ ]]: Go code is full of {{
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return err
		}
		out := filepath.Join(dir, strings.TrimSuffix(strings.TrimPrefix(path, root+"/"), ".tmpl"))
		return os.WriteFile(out, b.Bytes(), 0o644) //nolint:gosec // G306: project sources
	})
	return dir, err
}
