package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/wogate/wogate/pkg/core/admin"
)

// buildAdmin prepares the operators' listener (config admin.listen): the
// admin API and web UI, /metrics, /healthz and /readyz. An empty
// admin.listen turns it off.
func (g *Gateway) buildAdmin() {
	if g.cfg.Admin.Listen == "" {
		return
	}
	rt := &admin.Live{
		Config:        g.current,
		PluginHealth:  func() admin.PluginHealther { return g.plugins },
		BreakerStates: func() admin.BreakerReader { return g.sender },
		Hits:          g.metrics.RuleHits,
		HitsSince:     g.metrics.Since(),
		Reload: func() admin.ReloadInfo {
			st := g.LastReload()
			return admin.ReloadInfo{Attempts: st.Attempts, LastAttempt: st.LastAttempt, LastError: st.LastError,
				LastSuccess: st.LastSuccess, LastVersion: st.LastVersion}
		},
		Signatures: g.sigs.snapshot, // signatures.go
	}
	hosts := append([]string{}, g.cfg.Admin.AllowedHosts...)
	if host, _, err := net.SplitHostPort(g.cfg.Admin.Listen); err == nil && host != "" {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			hosts = append(hosts, host) // 0.0.0.0 and :: are not names anyone browses to
		}
	}
	h := admin.New(g.st, rt, admin.Options{
		AllowedHosts: hosts,
		Problems:     g.problems, // the details the public /readyz leaves out
		Token:        g.cfg.Admin.Token.Value(),
		Metrics:      g.metrics.Handler(),
		Pprof:        g.cfg.Admin.Pprof,
		Logger:       g.log,
	})
	g.adminSrv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      5 * time.Minute, // bulk reprocess of 10000 dead letters
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          g.serverErrorLog("admin.listen"), // tls.go: handshake errors bounded
	}
}

// serveAdmin serves the admin listener New bound; the returned func
// stops it.
func (g *Gateway) serveAdmin() (func(), error) {
	if g.adminSrv == nil {
		return func() {}, nil
	}
	ln := g.adminLn // bound by New
	base := scheme(g.adminTLS) + "://" + ln.Addr().String()
	g.log.Info("admin listening", "addr", ln.Addr().String(), "ui", base+"/ui/",
		"metrics", base+"/metrics", "token_required", g.cfg.Admin.Token.Value() != "",
		"tls", g.adminTLS != nil, "client_cert_required", g.adminTLS != nil && g.cfg.Admin.TLS.ClientCAFile != "")
	go func() {
		if err := serve(g.adminSrv, g, g.adminTLS, true); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.log.Error("admin listener failed", "err", err)
		}
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
		defer cancel()
		if err := g.adminSrv.Shutdown(ctx); err != nil {
			_ = g.adminSrv.Close()
		}
	}, nil
}
