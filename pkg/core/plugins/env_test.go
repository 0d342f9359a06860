package plugins

import (
	"slices"
	"testing"
)

func TestPluginEnv(t *testing.T) {
	gateway := []string{
		"PATH=/usr/bin", "HOME=/home/wogate", "TZ=Europe/Paris", "LANG=C.UTF-8", "LC_ALL=C", "LC_TIME=en_GB",
		"TMPDIR=/tmp/w", "SSL_CERT_FILE=/etc/ca.pem", "USER=wogate",
		"CORRIGO_CLIENT_SECRET=s3cr3t", "WOGATE_ADMIN_TOKEN=admintok", "WOGATE_POSTGRES_DSN=postgres://u:p@db/x",
		"AWS_SECRET_ACCESS_KEY=x", "HTTPS_PROXY=http://u:p@proxy", "PATHOLOGICAL=1", "LCX=1", "lc_all=1", "MALFORMED",
		"WOGATE_PLUGIN_COOKIE=from-gateway", "PLUGIN_MIN_PORT=1",
	}
	got := pluginEnv(gateway, []string{"TZ=UTC", "ERP_TOKEN=t"})
	want := []string{"PATH=/usr/bin", "HOME=/home/wogate", "TZ=Europe/Paris", "LANG=C.UTF-8", "LC_ALL=C", "LC_TIME=en_GB",
		"TMPDIR=/tmp/w", "SSL_CERT_FILE=/etc/ca.pem", "USER=wogate", "TZ=UTC", "ERP_TOKEN=t"}
	if !slices.Equal(got, want) {
		t.Fatalf("plugin env\n got %q\nwant %q", got, want)
	}
	// The configured TZ comes last, so it is the one the process sees.
	if i, j := slices.Index(got, "TZ=Europe/Paris"), slices.Index(got, "TZ=UTC"); i > j {
		t.Fatal("Spec.Env does not win over the gateway's value")
	}
}
