package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"

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
	info, err := h.restartPlugin(r.Context(), rs, name)
	if err != nil {
		writeError(w, err.status, err.code, err.field, err.msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"plugin": info})
}

// restartFailure is a refused or failed restart, as the API answers it.
type restartFailure struct {
	status           int
	code, field, msg string
}

// restartPlugin lifts a quarantine for the API and the UI, logging it.
func (h *Handler) restartPlugin(ctx context.Context, rs PluginRestarter, name string) (PluginInfo, *restartFailure) {
	info, err := rs.RestartPlugin(ctx, name)
	switch {
	case err == nil:
		h.log.Info("plugin restarted by an operator", "plugin", name, "pid", info.PID)
		return info, nil
	case errors.Is(err, plugins.ErrUnknownPlugin):
		return info, &restartFailure{http.StatusNotFound, "not_found", "name", "no plugin named " + name + " is running in this gateway"}
	case errors.Is(err, plugins.ErrNotQuarantined):
		return info, &restartFailure{http.StatusConflict, "not_quarantined", "name",
			"plugin " + name + " is " + info.State + ", not quarantined: the supervisor restarts it by itself"}
	case errors.Is(err, ErrRestartUnsupported):
		return info, &restartFailure{http.StatusNotImplemented, "not_implemented", "", err.Error()}
	case errors.Is(err, plugins.ErrClosed):
		return info, &restartFailure{http.StatusServiceUnavailable, "unavailable", "", "the gateway is shutting down"}
	}
	h.log.Warn("operator restart of a quarantined plugin failed", "plugin", name, "error", err)
	return info, &restartFailure{http.StatusBadGateway, "restart_failed", "", err.Error()}
}

// uiRestartPlugin is the health page's Restart button of a quarantined
// plugin: POST /ui/plugins/{name}/restart (session and CSRF checked by
// requireUI), then back to the health page.
func (h *Handler) uiRestartPlugin(w http.ResponseWriter, r *http.Request) {
	rs, ok := h.rt.(PluginRestarter)
	if h.rt == nil || !ok {
		h.uiError(w, r, http.StatusNotImplemented, ErrRestartUnsupported.Error())
		return
	}
	name := r.PathValue("name")
	if _, err := h.restartPlugin(r.Context(), rs, name); err != nil {
		h.uiError(w, r, err.status, "Restart of plugin "+name+" failed: "+err.msg)
		return
	}
	back := "/ui/health"
	if r.PostForm.Get("back") == "plugins" {
		back = "/ui/plugins"
	}
	http.Redirect(w, r, back+"?restarted="+url.QueryEscape(name), http.StatusSeeOther)
}

type pluginsData struct {
	Plugins   []PluginInfo
	Rules     map[string][]RuleInfo // by plugin
	Down      int                   // not running
	Restarted string
}

// uiPlugins is the plugins page: each plugin's state, version, process,
// restarts and last error, and the rules that send events to it.
func (h *Handler) uiPlugins(w http.ResponseWriter, r *http.Request) {
	d := pluginsData{Plugins: h.plugins(), Rules: map[string][]RuleInfo{}}
	for _, p := range d.Plugins {
		if p.State != "running" {
			d.Down++
		}
	}
	known := map[string]bool{}
	for _, p := range d.Plugins {
		known[p.Name] = true
	}
	for _, ru := range h.rules() {
		if ru.Plugin != "" {
			d.Rules[ru.Plugin] = append(d.Rules[ru.Plugin], ru)
		}
	}
	if n := r.URL.Query().Get("restarted"); known[n] {
		d.Restarted = n
	}
	h.render(w, r, http.StatusOK, "plugins", page{Title: "Plugins", Nav: "plugins", Data: d})
}
