package plugins

import (
	"os"
	"strings"
)

// A plugin is a separate program, often a vendor's, and it needs none of
// the gateway's secrets: CORRIGO_CLIENT_SECRET, WOGATE_ADMIN_TOKEN,
// database passwords and whatever else the gateway's environment holds
// would otherwise be readable in /proc/<pid>/environ of every plugin
// process and inherited by anything the plugin runs. So a plugin starts
// with a small allowlist of the gateway's variables, then its own
// configured env (plugins.<name>.env), then what go-plugin adds itself
// (PLUGIN_* and the handshake cookie).

// PassEnv are the variables of the gateway's environment a plugin gets:
// what any program needs to find executables, its home and temp
// directory, the time zone, the locale and the system's CA certificates.
// Names ending in "*" are prefixes.
var PassEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "TZ", "LANG", "LANGUAGE", "LC_*", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR"}

// passes reports whether the gateway's variable name goes to plugins.
func passes(name string) bool {
	for _, p := range PassEnv {
		if prefix, ok := strings.CutSuffix(p, "*"); ok {
			if strings.HasPrefix(name, prefix) {
				return true
			}
		} else if name == p {
			return true
		}
	}
	return false
}

// pluginEnv is a plugin process's environment: the allowed part of
// environ (the gateway's), then extra (Spec.Env, which wins: exec keeps
// the last value of a duplicate key).
func pluginEnv(environ, extra []string) []string {
	out := make([]string, 0, len(PassEnv)+len(extra))
	for _, kv := range environ {
		if name, _, ok := strings.Cut(kv, "="); ok && passes(name) {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// hostEnv is the gateway's environment (a variable for tests).
var hostEnv = os.Environ
