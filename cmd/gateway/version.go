package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

// version overrides the module version from the build info when set at
// build time (-ldflags "-X main.version=v1.2.3"); `go install
// …/cmd/gateway@v1.2.3` and a build in a tagged checkout stamp it already.
var version string

var versionCmd = &command{
	name:     "version",
	summary:  "print the gateway's version, commit and Go version",
	synopsis: "version [--json]",
	doc: `Prints the module version, the VCS commit it was built from (with
"+dirty" when the work tree had changes), the commit time, the Go version
and the platform, all read from the binary's build information.
"(devel)" is the version of a build outside a tagged module.
'gateway --version' prints the same.`,
	example: `gateway version
gateway version --json | jq -r .commit`,
	flags: func(fs *flag.FlagSet) { fs.Bool("json", false, "print a JSON object") },
}

func init() {
	versionCmd.run = func(ctx context.Context, args []string) int {
		return versionMain(args, os.Stdout, os.Stderr)
	}
	register(versionCmd)
}

// buildVersion is what the binary knows about its own build.
type buildVersion struct {
	Version    string `json:"version"`
	Commit     string `json:"commit,omitempty"`
	Dirty      bool   `json:"dirty,omitempty"`
	CommitTime string `json:"commit_time,omitempty"`
	Go         string `json:"go"`
	Platform   string `json:"platform"`
}

func readBuildVersion() buildVersion {
	v := buildVersion{Version: "(devel)", Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.modified":
				v.Dirty = s.Value == "true"
			case "vcs.time":
				v.CommitTime = s.Value
			}
		}
	}
	if version != "" {
		v.Version = version
	}
	return v
}

func versionMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	versionCmd.flags(fs)
	pos, err := parseFlags(versionCmd, fs, args, stdout, stderr)
	if err != nil {
		return exitCode(err)
	}
	if len(pos) > 0 {
		return exitCode(usageError(versionCmd, stderr, "unexpected arguments %q", pos))
	}
	v := readBuildVersion()
	if fs.Lookup("json").Value.(flag.Getter).Get().(bool) {
		b, _ := json.Marshal(v)
		fmt.Fprintf(stdout, "%s\n", b)
		return 0
	}
	commit := ""
	if v.Commit != "" {
		commit = " commit " + v.Commit
		if v.Dirty {
			commit += "+dirty"
		}
		if v.CommitTime != "" {
			commit += " (" + v.CommitTime + ")"
		}
	}
	fmt.Fprintf(stdout, "wogate gateway %s%s %s %s\n", v.Version, commit, v.Go, v.Platform)
	return 0
}
