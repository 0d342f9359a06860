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

func init() {
	register("health", "check a running gateway's health endpoint (for container health checks)", func(ctx context.Context, args []string) int {
		return healthMain(ctx, args, os.Stdout, os.Stderr)
	})
}

// healthMain asks a gateway's /healthz (or another URL) and exits 0 on a
// 2xx answer, 1 otherwise. It exists because the container image has no
// shell and no curl: its HEALTHCHECK runs the gateway binary itself.
func healthMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "http://127.0.0.1:8080/healthz", "the health endpoint to ask (the public listener's /healthz, or the admin listener's /readyz)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gateway health [--url URL] [--timeout D]\n\n"+
			"Exits 0 when URL answers 2xx, 1 when it answers anything else or not at all.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
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
