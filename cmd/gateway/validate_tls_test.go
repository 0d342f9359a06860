package main

import (
	"strings"
	"testing"
)

// TestValidatePlaintextListener: validate refuses a listener other
// machines can reach without TLS and says how to fix it; the proxy
// opt-out and loopback pass; run only warns (Load succeeds).
func TestValidatePlaintextListener(t *testing.T) {
	const base = "corrigo: {accounts: {main: {sandbox: true}}}\n"
	for _, tc := range []struct {
		name, yaml string
		code       int
		want       string
	}{
		{"loopback", "", 0, ": ok (version"},
		{"public on all addresses", "listen: 0.0.0.0:8080\n", 1,
			"error: tls: listen (0.0.0.0:8080) is not a loopback address and has no TLS: set tls.cert_file and tls.key_file (docs/tls.md), or tls.terminated_by_proxy: true"},
		{"admin on all addresses", "admin: {listen: '0.0.0.0:8081', token: a-long-admin-token-0123456789, allowed_hosts: [x]}\n", 1,
			"error: admin.tls: admin.listen (0.0.0.0:8081) is not a loopback address and has no TLS"},
		{"proxy in front", "listen: 0.0.0.0:8080\ntls: {terminated_by_proxy: true}\n", 0, ": ok (version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runValidateTest(t, "--config", writeConfig(t, base+tc.yaml))
			if code != tc.code || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want %d; output:\n%s%s\nwant %q", code, tc.code, out, errs, tc.want)
			}
		})
	}
}
