package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/wogate/wogate/pkg/core/plugins"
)

// PluginRestarter is implemented by a Runtime that can lift a plugin's
// quarantine (Live does when its plugin source is a *plugins.Manager). The
// error matches plugins.ErrUnknownPlugin, plugins.ErrNotQuarantined,
// plugins.ErrClosed or ErrRestartUnsupported, or is the launch failure.
type PluginRestarter interface {
	RestartPlugin(ctx context.Context, name string) (PluginInfo, error)
}

// ErrRestartUnsupported: the runtime cannot restart plugins.
var ErrRestartUnsupported = errors.New("this gateway cannot restart plugins")

// pluginRestarter is what Live needs from its plugin source to restart
// one (*plugins.Manager).
type pluginRestarter interface {
	Restart(ctx context.Context, name string) (plugins.PluginHealth, error)
}

// RestartPlugin implements PluginRestarter.
func (l *Live) RestartPlugin(ctx context.Context, name string) (PluginInfo, error) {
	if l.PluginHealth == nil {
		return PluginInfo{}, ErrRestartUnsupported
	}
	r, ok := l.PluginHealth().(pluginRestarter)
	if !ok {
		return PluginInfo{}, ErrRestartUnsupported
	}
	h, err := r.Restart(ctx, name)
	if h.Name == "" {
		h.Name = name
	}
	return pluginInfo(h), err
}

// apiRestartPlugin lifts the quarantine of a plugin: POST
// /api/v1/plugins/{name}/restart. 200 with the plugin's health when it
// runs again; 404 for an unknown plugin; 409 when it is not quarantined
// (the supervisor restarts crashed plugins by itself); 502 when the new
// process did not start (it stays quarantined); 503 while shutting down.
func (h *Handler) apiRestartPlugin(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	rs, ok := h.rt.(PluginRestarter)
	if h.rt == nil || !ok {
		writeError(w, http.StatusNotImplemented, "not_implemented", "", ErrRestartUnsupported.Error())
		return
	}
	info, err := rs.RestartPlugin(r.Context(), name)
	switch {
	case err == nil:
		h.log.Info("plugin restarted by an operator", "plugin", name, "pid", info.PID)
		writeJSON(w, http.StatusOK, map[string]any{"plugin": info})
	case errors.Is(err, plugins.ErrUnknownPlugin):
		writeError(w, http.StatusNotFound, "not_found", "name", "no plugin named "+name+" is running in this gateway")
	case errors.Is(err, plugins.ErrNotQuarantined):
		writeError(w, http.StatusConflict, "not_quarantined", "name",
			"plugin "+name+" is "+info.State+", not quarantined: the supervisor restarts it by itself")
	case errors.Is(err, ErrRestartUnsupported):
		writeError(w, http.StatusNotImplemented, "not_implemented", "", err.Error())
	case errors.Is(err, plugins.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "unavailable", "", "the gateway is shutting down")
	default:
		h.log.Warn("operator restart of a quarantined plugin failed", "plugin", name, "error", err)
		writeError(w, http.StatusBadGateway, "restart_failed", "", err.Error())
	}
}
