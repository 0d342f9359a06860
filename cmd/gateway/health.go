package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// healthOptions are health's flags.
type healthOptions struct {
	url     string
	timeout time.Duration
}

func (o *healthOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080/healthz", "the health endpoint to ask (the public listener's /healthz, or the admin listener's /readyz)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Second, "give up after this long")
}

var healthCmd = &command{
	name:     "health",
	summary:  "check a running gateway's health endpoint (for container health checks)",
	synopsis: "health [--url URL] [--timeout D]",
	doc: `Asks a running gateway's health endpoint and exits 0 when it answers
2xx, 1 when it answers anything else or not at all. It exists because the
container image has no shell and no curl: its HEALTHCHECK runs the
gateway binary itself. Proxy settings from the environment are ignored.`,
	example: `gateway health
gateway health --url http://127.0.0.1:8081/readyz --timeout 2s`,
	flags: func(fs *flag.FlagSet) { new(healthOptions).define(fs) },
}

func init() {
	healthCmd.run = func(ctx context.Context, args []string) int {
		return healthMain(ctx, args, os.Stdout, os.Stderr)
	}
	register(healthCmd)
}

// healthMain asks a gateway's /healthz (or another URL) and exits 0 on a
// 2xx answer, 1 otherwise.
func healthMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o healthOptions
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	o.define(fs)
	pos, err := parseFlags(healthCmd, fs, args, stdout, stderr)
	if err != nil {
		return exitCode(err)
	}
	if len(pos) > 0 {
		return exitCode(usageError(healthCmd, stderr, "unexpected arguments %q", pos))
	}
	target, timeout := &o.url, &o.timeout
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "gateway health: --url %q: want an http:// or https:// URL with a host\n", *target)
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "gateway health: --timeout must be positive\n")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "gateway health: %v\n", err)
		return 2
	}
	// No proxy: the endpoint is the gateway beside this process, and a
	// proxy from the environment would answer for it.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: *timeout}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "gateway health: %s: %v\n", u.Redacted(), err)
		return 1
	}
	defer func() { _ = resp.Body.Close() }() // read-only
	// Enough of the body to say why (the health answer is small JSON).
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	line := strings.TrimSpace(string(body))
	if resp.StatusCode/100 != 2 {
		fmt.Fprintf(stderr, "gateway health: %s: %s %s\n", u.Redacted(), resp.Status, line)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s %s\n", u.Redacted(), resp.Status, line)
	return 0
}
