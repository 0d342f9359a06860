package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/pluginapi"
	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

var pluginsDescribeCmd = &command{
	name: "plugins describe", summary: "launch plugin binary PATH, print its name, version, protocol and config schema, stop it",
	synopsis: "plugins describe [--format text|json|markdown] PATH [-- ARG...]",
	doc: `Starts the plugin PATH (with ARGs after --, for an interpreter:
gateway plugins describe /usr/bin/python3 -- main.py) without a config,
asks for its description over the plugin protocol, and stops it. No
gateway config, admin API or CorrigoPro account is involved.

--format text (default) prints name, version, SDK, the protocol version
negotiated and the versions this gateway speaks, whether it handles
inbound calls, and the config keys; json the same as one object;
markdown the plugin's catalog entry as in docs/plugins.md.

Exit codes: 0 described; 1 the binary is not a plugin, did not start or
did not answer; 2 usage.`,
	example: `gateway plugins describe bin/erp-rest
gateway plugins describe --format json bin/csv-export
gateway plugins describe /usr/bin/python3 -- plugins/python-ticketing/main.py`,
	flags: func(fs *flag.FlagSet) { fs.String("format", "text", "output: text, json or markdown") },
}

// pluginDescription is what `plugins describe --format json` prints.
type pluginDescription struct {
	Name           string                `json:"name"`
	Version        string                `json:"version"`
	Description    string                `json:"description,omitempty"`
	SDKVersion     string                `json:"sdk_version,omitempty"`
	Protocol       int                   `json:"protocol"`
	GatewaySpeaks  []int                 `json:"gateway_protocols"`
	HandlesInbound bool                  `json:"handles_inbound"`
	Config         []pluginDescribeField `json:"config"`
}

type pluginDescribeField struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Required    bool     `json:"required,omitempty"`
	Default     any      `json:"default,omitempty"`
	Description string   `json:"description,omitempty"`
	Secret      bool     `json:"secret,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Example     string   `json:"example,omitempty"`
}

func pluginsDescribe(ctx context.Context, cmd *command, args []string, stdout, stderr io.Writer) int {
	var format string
	pos, err := cmd.parse(args, stdout, stderr, func(fs *flag.FlagSet) { fs.StringVar(&format, "format", "text", "") })
	if err != nil {
		return exitCode(err)
	}
	if len(pos) == 0 {
		return exitCode(usageError(cmd, stderr, "needs the plugin's PATH"))
	}
	if format != "text" && format != "json" && format != "markdown" {
		return exitCode(usageError(cmd, stderr, "--format must be text, json or markdown"))
	}
	path := pos[0]
	if _, err := exec.LookPath(path); err != nil {
		fmt.Fprintf(stderr, "gateway plugins describe: cannot run %q: %v\n", path, unwrapExec(err))
		return 1
	}
	m := plugins.NewManager(nil, slog.New(slog.DiscardHandler))
	defer func() { _ = m.Close(context.Background()) }()
	info, proto, err := m.Describe(ctx, plugins.Spec{Name: filepath.Base(path), Command: path, Args: pos[1:]})
	if err != nil {
		fmt.Fprintf(stderr, "gateway plugins describe: %v\n", err)
		return 1
	}
	d := describePlugin(info, proto)
	switch format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(d)
	case "markdown":
		fmt.Fprint(stdout, catalogEntry(info))
	default:
		printDescription(stdout, d, info)
	}
	return 0
}

func describePlugin(info pluginapi.RemoteInfo, proto int) pluginDescription {
	d := pluginDescription{
		Name: info.Name, Version: info.Version, Description: info.Description, SDKVersion: info.SDKVersion,
		Protocol: proto, HandlesInbound: info.HandlesInbound, Config: []pluginDescribeField{},
	}
	for v := range pluginhost.VersionedPlugins(0) {
		d.GatewaySpeaks = append(d.GatewaySpeaks, v)
	}
	for _, f := range info.ConfigSchema.Fields {
		d.Config = append(d.Config, pluginDescribeField{
			Name: f.Name, Type: string(f.Type), Required: f.Required, Default: f.Default,
			Description: f.Description, Secret: f.Secret, Enum: f.Enum, Example: f.Example,
		})
	}
	return d
}

func printDescription(w io.Writer, d pluginDescription, info pluginapi.RemoteInfo) {
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(w, "name:         %s\n", d.Name)
	fmt.Fprintf(w, "version:      %s\n", d.Version)
	if d.Description != "" {
		fmt.Fprintf(w, "description:  %s\n", d.Description)
	}
	if d.SDKVersion != "" {
		fmt.Fprintf(w, "sdk:          %s\n", d.SDKVersion)
	}
	fmt.Fprintf(w, "protocol:     %d (this gateway speaks %s)\n", d.Protocol, strings.Trim(fmt.Sprint(d.GatewaySpeaks), "[]"))
	fmt.Fprintf(w, "inbound:      %s\n", yes[d.HandlesInbound])
	if len(info.ConfigSchema.Fields) == 0 {
		fmt.Fprintln(w, "config:       none")
		return
	}
	fmt.Fprintf(w, "config:\n\n%s", info.ConfigSchema.Markdown())
}

// catalogEntry is a plugin's section of docs/plugins.md's catalog.
func catalogEntry(info pluginapi.RemoteInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n\n", info.Name)
	if info.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", info.Description)
	}
	inbound := "no"
	if info.HandlesInbound {
		inbound = "yes"
	}
	fmt.Fprintf(&b, "Version %s, %s; inbound calls: %s.\n\n", info.Version, info.SDKVersion, inbound)
	if len(info.ConfigSchema.Fields) == 0 {
		b.WriteString("No config keys.\n")
	} else {
		b.WriteString(info.ConfigSchema.Markdown())
	}
	return b.String()
}
