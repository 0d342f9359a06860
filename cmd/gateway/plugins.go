package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/wogate/wogate/pkg/core/admin"
)

const pluginsDoc = `The supervisor restarts a crashed plugin by itself; after
plugins.<name>.supervisor.max_crashes crashes within its window it
quarantines the plugin instead. Fix the cause (a new binary, the plugin's
own system), then "restart" starts it afresh with its crash count cleared.
Events that arrived meanwhile were kept and are retried.

The commands talk to the gateway's admin API: --admin-url and --token, or
both taken from --config (admin.listen, admin.token), or the environment
(WOGATE_ADMIN_URL, WOGATE_ADMIN_TOKEN).

Exit codes: 0 done; 1 an error (restart: the plugin is not quarantined,
unknown, or did not start); 2 usage.`

var pluginsCmd = &command{
	name:     "plugins",
	summary:  "list plugin health, lift a plugin's quarantine (admin API), or describe a plugin binary",
	synopsis: "plugins <list|restart|describe> [flags] [NAME|PATH]",
	doc:      pluginsDoc,
	example: `gateway plugins list --config examples/config.yaml
gateway plugins restart erp --admin-url http://127.0.0.1:8081
gateway plugins describe bin/erp-rest`,
	subs: []*command{
		{
			name: "plugins list", summary: "state, restarts, recent crashes, pid and last error of each plugin",
			synopsis: "plugins list [flags]", doc: "Lists every configured plugin with its state, restarts, recent crashes, pid and last error.\n\n" + pluginsDoc,
			example: "gateway plugins list --format json",
			flags:   func(fs *flag.FlagSet) { adminFlags(fs, new(dlqOptions), new(string)) },
		},
		{
			name: "plugins restart", summary: "lift the quarantine of plugin NAME: start it afresh",
			synopsis: "plugins restart NAME [flags]", doc: "Lifts the quarantine of plugin NAME and starts it afresh with its crash count cleared.\n\n" + pluginsDoc,
			example: "gateway plugins restart erp",
			flags:   func(fs *flag.FlagSet) { adminFlags(fs, new(dlqOptions), new(string)) },
		},
	},
}

func init() {
	pluginsCmd.subs = append(pluginsCmd.subs, pluginsDescribeCmd)
	pluginsCmd.run = runPlugins
	registerCommand(pluginsCmd)
}

func runPlugins(ctx context.Context, args []string) int {
	return pluginsMain(ctx, args, os.Stdout, os.Stderr)
}

func pluginsMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runSubcommand(ctx, pluginsCmd, args, stdout, stderr, func(ctx context.Context, cmd *command, args []string) int {
		return pluginsRun(ctx, cmd, args, stdout, stderr)
	})
}

func pluginsRun(ctx context.Context, cmd *command, args []string, stdout, stderr io.Writer) int {
	sub := strings.TrimPrefix(cmd.name, "plugins ")
	if sub == "describe" {
		return pluginsDescribe(ctx, cmd, args, stdout, stderr)
	}
	var o dlqOptions
	var cfgPath string
	pos, err := cmd.parse(args, stdout, stderr, func(fs *flag.FlagSet) { adminFlags(fs, &o, &cfgPath) })
	if err != nil {
		return exitCode(err)
	}
	switch {
	case sub == "list" && len(pos) != 0:
		return exitCode(usageError(cmd, stderr, "takes no arguments"))
	case sub == "restart" && len(pos) != 1:
		return exitCode(usageError(cmd, stderr, "takes exactly one plugin name"))
	}
	c, err := o.client(cmd, cfgPath, stderr)
	if err != nil {
		return exitCode(err)
	}
	if sub == "list" {
		return pluginsList(ctx, c, &o, stdout, stderr)
	}
	return pluginsRestart(ctx, c, &o, pos[0], stdout, stderr)
}

func pluginsList(ctx context.Context, c *dlqClient, o *dlqOptions, stdout, stderr io.Writer) int {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v1/plugins", nil, &raw); err != nil {
		fmt.Fprintf(stderr, "gateway plugins: %v\n", err)
		return 1
	}
	if o.format == "json" {
		_, _ = stdout.Write(raw)
		return 0
	}
	var a struct {
		Plugins []admin.PluginInfo `json:"plugins"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		fmt.Fprintf(stderr, "gateway plugins: unexpected answer: %v\n", err)
		return 1
	}
	if len(a.Plugins) == 0 {
		fmt.Fprintln(stdout, "no plugins configured")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tSINCE (UTC)\tRESTARTS\tRECENT CRASHES\tPID\tVERSION\tLAST ERROR")
	for _, p := range a.Plugins {
		since := ""
		if !p.Since.IsZero() {
			since = p.Since.UTC().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", p.Name, p.State, since, p.Restarts, p.RecentCrashes, p.PID,
			p.Version, oneLine(p.LastError, 70))
	}
	_ = tw.Flush()
	return 0
}

func pluginsRestart(ctx context.Context, c *dlqClient, o *dlqOptions, name string, stdout, stderr io.Writer) int {
	var raw json.RawMessage
	err := c.do(ctx, http.MethodPost, "/api/v1/plugins/"+url.PathEscape(name)+"/restart", nil, &raw)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusConflict {
		fmt.Fprintf(stderr, "gateway plugins: %s\n", ae.Message)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "gateway plugins: restart %s: %v\n", name, err)
		return 1
	}
	if o.format == "json" {
		_, _ = stdout.Write(raw)
		return 0
	}
	var a struct {
		Plugin admin.PluginInfo `json:"plugin"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		fmt.Fprintf(stderr, "gateway plugins: unexpected answer: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "plugin %s is %s again (pid %d, %d restarts)\n", a.Plugin.Name, a.Plugin.State, a.Plugin.PID, a.Plugin.Restarts)
	return 0
}
