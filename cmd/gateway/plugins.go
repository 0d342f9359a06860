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
	"time"

	"github.com/wogate/wogate/pkg/core/admin"
)

func init() {
	register("plugins", "list plugin health, or lift a plugin's quarantine (through the admin API)", runPlugins)
}

func runPlugins(ctx context.Context, args []string) int {
	return pluginsMain(ctx, args, os.Stdout, os.Stderr)
}

const pluginsUsage = `usage: gateway plugins <list|restart> [flags] [NAME]

  gateway plugins list              state, restarts, recent crashes, pid and last error of each plugin
  gateway plugins restart NAME      lift the quarantine of plugin NAME: start it afresh

The supervisor restarts a crashed plugin by itself; after
plugins.<name>.supervisor.max_crashes crashes within its window it
quarantines the plugin instead. Fix the cause (a new binary, the plugin's
own system), then "restart" starts it afresh with its crash count cleared.
Events that arrived meanwhile were kept and are retried.

The commands talk to the gateway's admin API: --admin-url and --token, or
both taken from --config (admin.listen, admin.token), or the environment
(WOGATE_ADMIN_URL, WOGATE_ADMIN_TOKEN).

Exit codes: 0 done; 1 an error (restart: the plugin is not quarantined,
unknown, or did not start); 2 usage.

flags:
`

func pluginsMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, pluginsUsage)
		return 2
	}
	sub := args[0]
	if sub != "list" && sub != "restart" {
		fmt.Fprintf(stderr, "gateway plugins: unknown subcommand %q (want list or restart)\n\n", sub)
		fmt.Fprint(stderr, pluginsUsage)
		return 2
	}
	var o dlqOptions
	fs := flag.NewFlagSet("plugins "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "gateway configuration: admin URL and token default to its admin.listen and admin.token")
	fs.StringVar(&o.adminURL, "admin-url", "", "admin API base URL, e.g. http://127.0.0.1:8081 (env WOGATE_ADMIN_URL)")
	fs.StringVar(&o.token, "token", "", "admin bearer token (env WOGATE_ADMIN_TOKEN; prefer it or --config: flags show in ps)")
	fs.StringVar(&o.format, "format", "table", "output format: table or json")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "timeout of each request to the admin API")
	fs.Usage = func() {
		fmt.Fprint(stderr, pluginsUsage)
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	if o.format != "table" && o.format != "json" {
		fmt.Fprintf(stderr, "gateway plugins: --format must be table or json, not %q\n", o.format)
		return 2
	}
	switch {
	case sub == "list" && len(pos) != 0:
		fmt.Fprintln(stderr, "gateway plugins: list takes no arguments")
		return 2
	case sub == "restart" && len(pos) != 1:
		fmt.Fprintln(stderr, "gateway plugins: restart takes exactly one plugin name")
		return 2
	}
	if err := o.resolveEndpoint(*cfgPath); err != nil {
		fmt.Fprintf(stderr, "gateway plugins: %v\n", err)
		return 2
	}
	c := &dlqClient{base: strings.TrimRight(o.adminURL, "/"), token: o.token, http: &http.Client{Timeout: o.timeout}}
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
