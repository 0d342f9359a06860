package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/ratelog"
	"github.com/wogate/wogate/pkg/core/tlscert"
)

// listenerTLS is one listener's TLS: the reloader of its pair and the
// tls.Config its server uses.
type listenerTLS struct {
	key    string // "tls" or "admin.tls"
	certs  *tlscert.Reloader
	config *tls.Config
}

// newListenerTLS loads a listener's pair; nil when t has TLS off.
func (g *Gateway) newListenerTLS(key string, t config.TLS) (*listenerTLS, error) {
	if !t.Enabled() {
		return nil, nil
	}
	minV, err := tlscert.ParseVersion(t.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("%s.min_version: %w", key, err)
	}
	r, err := tlscert.New(t.CertFile, t.KeyFile, g.log.With("listener", key))
	if err != nil {
		return nil, fmt.Errorf("%s.cert_file: %w", key, err)
	}
	o := tlscert.Options{MinVersion: minV}
	if t.ClientCAFile != "" {
		if o.ClientCAs, err = tlscert.LoadCAs(t.ClientCAFile); err != nil {
			return nil, fmt.Errorf("%s.client_ca_file: %w", key, err)
		}
	}
	return &listenerTLS{key: key, certs: r, config: r.ServerConfig(o)}, nil
}

// setupTLS loads the pairs of the public and admin listeners.
func (g *Gateway) setupTLS() (err error) {
	if g.tls, err = g.newListenerTLS("tls", g.cfg.TLS); err != nil {
		return err
	}
	if g.cfg.Admin.Listen != "" {
		if g.adminTLS, err = g.newListenerTLS("admin.tls", g.cfg.Admin.TLS); err != nil {
			return err
		}
	}
	return nil
}

// watchTLS reloads the pairs when their files change, until ctx ends.
func (g *Gateway) watchTLS(ctx context.Context) {
	for _, lt := range []*listenerTLS{g.tls, g.adminTLS} {
		if lt == nil {
			continue
		}
		if err := lt.certs.Watch(ctx); err != nil {
			g.log.Error("cannot watch the TLS certificate files; reload with SIGHUP", "listener", lt.key, "err", err)
		}
	}
}

// ReloadCertificates reads every listener's certificate and key again
// (SIGHUP). A pair that does not load keeps the previous one; the errors
// are returned joined.
func (g *Gateway) ReloadCertificates() error {
	var errs []error
	for _, lt := range []*listenerTLS{g.tls, g.adminTLS} {
		if lt == nil {
			continue
		}
		if err := lt.certs.Reload(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", lt.key, err))
		}
	}
	return errors.Join(errs...)
}

// serve serves srv on ln, over TLS when lt is set. ServeTLS with a
// TLSConfig that has GetCertificate needs no file names, and keeps
// HTTP/2 (NextProtos offers h2).
func serve(srv *http.Server, g *Gateway, lt *listenerTLS, isAdmin bool) error {
	ln := g.ln
	if isAdmin {
		ln = g.adminLn
	}
	if lt == nil {
		return srv.Serve(ln)
	}
	srv.TLSConfig = lt.config
	return srv.ServeTLS(ln, "", "")
}

// scheme is the URL scheme of a listener.
func scheme(lt *listenerTLS) string {
	if lt == nil {
		return "http"
	}
	return "https"
}

// serverErrorLog is an http.Server's ErrorLog. net/http writes a line per
// failed TLS handshake, which anyone who can reach the port can cause
// (scanners, old clients, a client without a certificate on the admin
// listener): those lines are bounded by a ratelog.Limiter, with a summary
// of how many were held back; other lines pass through at WARN.
func (g *Gateway) serverErrorLog(listener string) *log.Logger {
	lg := g.log.With("listener", listener)
	lim := ratelog.New(ratelog.Options{Summary: func(_ string, n int64, window time.Duration) {
		lg.Warn("TLS handshake errors not logged", "suppressed", n, "window", window.String())
	}})
	return log.New(errorLogWriter{log: lg, lim: lim}, "", 0)
}

type errorLogWriter struct {
	log *slog.Logger
	lim *ratelog.Limiter
}

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") && !w.lim.Allow("tls_handshake") {
		return len(p), nil
	}
	w.log.Warn(msg)
	return len(p), nil
}
