// Package tlscert serves a listener's TLS certificate from PEM files and
// replaces it when the files change, without a restart: handshakes read
// the current pair through tls.Config.GetCertificate, so connections
// already open keep theirs and new ones get the new one.
package tlscert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ExpiryWarning is how close to its end a certificate makes Check warn.
const ExpiryWarning = 14 * 24 * time.Hour

// Debounce is how long the watch waits after the last change in a
// directory before it reloads: cert-manager and certbot write the key and
// the certificate one after the other, and reading between the two would
// find a mismatched pair.
const Debounce = 300 * time.Millisecond

// Load reads and checks a certificate/key pair: both files readable and
// PEM, the key matching the certificate, the certificate valid now.
// Errors name the file at fault.
func Load(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, unwrapPath(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, unwrapPath(err))
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// X509KeyPair's message says which half it could not read or
		// that they do not match; which files those are is ours to say.
		return nil, fmt.Errorf("%s and %s: %w", certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil { // filled since Go 1.23; parse for older behaviour
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
		pair.Leaf = leaf
	}
	if now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("%s: certificate expired on %s", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return nil, fmt.Errorf("%s: certificate not valid before %s", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return &pair, nil
}

// Check is Load for `gateway validate`: it returns a warning (not an
// error) when the certificate ends within ExpiryWarning.
func Check(certFile, keyFile string, now time.Time) (warning string, err error) {
	pair, err := Load(certFile, keyFile, now)
	if err != nil {
		return "", err
	}
	if left := pair.Leaf.NotAfter.Sub(now); left < ExpiryWarning {
		return fmt.Sprintf("%s: certificate expires on %s (in %s); renew it (the gateway picks up the new files without a restart)",
			certFile, pair.Leaf.NotAfter.UTC().Format(time.RFC3339), left.Round(time.Hour)), nil
	}
	return "", nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Reloader holds the current pair of one listener.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	cur               atomic.Pointer[tls.Certificate]
	mu                sync.Mutex // one reload at a time
}

// New loads the pair; it fails when the pair does not load.
func New(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log}
	pair, err := Load(certFile, keyFile, time.Now())
	if err != nil {
		return nil, err
	}
	r.cur.Store(pair)
	return r, nil
}

// Current is the pair new handshakes get.
func (r *Reloader) Current() *tls.Certificate { return r.cur.Load() }

// GetCertificate is for tls.Config.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// Reload reads the files again. A pair that does not load is logged and
// returned as the error; the previous pair stays in use.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	pair, err := Load(r.certFile, r.keyFile, time.Now())
	if err != nil {
		r.log.Error("TLS certificate not reloaded; keeping the current one", "cert_file", r.certFile, "key_file", r.keyFile, "err", err)
		return err
	}
	old := r.cur.Load()
	if old != nil && len(old.Certificate) == len(pair.Certificate) && equalChain(old.Certificate, pair.Certificate) {
		return nil
	}
	r.cur.Store(pair)
	r.log.Info("TLS certificate reloaded", "cert_file", r.certFile, "serial", pair.Leaf.SerialNumber.String(),
		"subject", pair.Leaf.Subject.String(), "not_after", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

func equalChain(a, b [][]byte) bool {
	for i := range a {
		if string(a[i]) != string(b[i]) {
			return false
		}
	}
	return true
}

// Watch reloads when anything changes in the directories of the two files
// (debounced), until ctx ends. Directories, not files, are watched: a
// rename into place or a Kubernetes secret's ..data symlink swap replaces
// the file, which would end a watch on the file itself. Any event is a
// candidate; Reload ignores a pair equal to the current one.
func (r *Reloader) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	dirs := map[string]bool{filepath.Dir(r.certFile): true, filepath.Dir(r.keyFile): true}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			_ = w.Close()
			return fmt.Errorf("watch %s: %w", d, err)
		}
	}
	go func() {
		defer func() { _ = w.Close() }()
		t := time.NewTimer(time.Hour)
		t.Stop()
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-w.Events:
				if !ok {
					return
				}
				t.Reset(Debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				r.log.Warn("TLS certificate watch", "err", err)
			case <-t.C:
				_ = r.Reload()
			}
		}
	}()
	return nil
}

// Options build a server tls.Config.
type Options struct {
	// MinVersion is tls.VersionTLS12 or tls.VersionTLS13; 0 means 1.2.
	MinVersion uint16
	// ClientCAs, when set, makes every client present a certificate
	// signed by one of them.
	ClientCAs *x509.CertPool
}

// ServerConfig is the tls.Config of a listener served by r. NextProtos
// offers HTTP/2 first, as net/http would on its own.
func (r *Reloader) ServerConfig(o Options) *tls.Config {
	minV := o.MinVersion
	if minV < tls.VersionTLS12 {
		minV = tls.VersionTLS12
	}
	c := &tls.Config{
		MinVersion:     minV,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if o.ClientCAs != nil {
		c.ClientCAs = o.ClientCAs
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

// LoadCAs reads a PEM bundle of CA certificates.
func LoadCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, unwrapPath(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in the file", file)
	}
	return pool, nil
}

// ParseVersion reads a config's min_version: "1.2" or "1.3" ("" is 1.2).
func ParseVersion(s string) (uint16, error) {
	switch s {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%q: want 1.2 or 1.3", s)
}
