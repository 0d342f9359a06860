package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wogate/wogate/internal/testplugin"
)

// gateway plugins describe launches a real plugin binary without a config
// and prints what Describe answered, with the negotiated protocol.
func TestPluginsDescribe(t *testing.T) {
	bin := testplugin.Build(t, "accept")
	var out, errOut bytes.Buffer
	if code := pluginsMain(t.Context(), []string{"describe", bin}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"name:         accept\n", "protocol:     1 (this gateway speaks 1)\n", "| `delay` | duration | no | `0s` | Sleep this long in every HandleEvent. |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := pluginsMain(t.Context(), []string{"describe", "--format", "json", bin}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var d pluginDescription
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if d.Name != "accept" || d.Protocol != 1 || len(d.GatewaySpeaks) != 1 || d.SDKVersion != "wogate-go-sdk/1" || len(d.Config) == 0 {
		t.Fatalf("json %+v", d)
	}

	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"describe"}, 2, "gateway plugins describe: needs the plugin's PATH"},
		{[]string{"describe", "--format", "xml", bin}, 2, "--format must be text, json or markdown"},
		{[]string{"describe", testplugin.Build(t, "notaplugin")}, 1, "gateway plugins describe: "},
		{[]string{"describe", "/no/such/plugin"}, 1, `cannot run "/no/such/plugin"`},
	}
	for _, c := range cases {
		out.Reset()
		errOut.Reset()
		if code := pluginsMain(t.Context(), c.args, &out, &errOut); code != c.code || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut.String(), c.code, c.want)
		}
	}
}
