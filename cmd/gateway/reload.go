package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/gateway"
	"github.com/wogate/wogate/pkg/core/sdnotify"
)

// reloadDebounce lets an editor finish writing (truncate, write, rename,
// chmod arrive as separate events) before the file is read.
const reloadDebounce = 250 * time.Millisecond

// reloader turns SIGHUP and changes of the config file into gateway
// reloads, one at a time.
type reloader struct {
	g    *gateway.Gateway
	path string
	// prepare applies to a freshly loaded config what `run` applied at
	// start (the embedded sandbox's URLs, credentials and store), so that
	// a reload compares like with like.
	prepare func(*config.Config)
	log     *slog.Logger
	// last is the hash of the file content last loaded, so that events
	// that leave the content as it was (touch, chmod, an editor's backup
	// file in the same directory) do not reload.
	last [sha256.Size]byte
	// notify tells systemd a reload is under way (RELOADING=1, then
	// READY=1 whatever its outcome: the gateway serves either way); nil
	// outside systemd.
	notify *sdnotify.Notifier
	// serving, if set, closes once the gateway serves: reloads asked for
	// before (a SIGHUP during the start, a file change) wait for it, so
	// that their READY=1 cannot come before the gateway's first.
	serving <-chan struct{}
}

// run reloads on every value from hup and, if watch, on changes of the
// config file, until ctx ends.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal, watch bool) {
	if b, err := os.ReadFile(r.path); err == nil {
		r.last = sha256.Sum256(b)
	}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if watch {
		w, err := r.watch()
		if err != nil {
			r.log.Error("cannot watch the config file; reload with SIGHUP", "path", r.path, "err", err)
		} else {
			defer func() { _ = w.Close() }() // the watcher only reads
			events, errs = w.Events, w.Errors
		}
	}
	if r.serving != nil {
		select {
		case <-r.serving:
		case <-ctx.Done():
			return
		}
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.log.Info("SIGHUP: reloading the config and TLS certificates", "path", r.path)
			_ = r.g.ReloadCertificates() // logs a pair that does not load; the old one stays
			r.reload(ctx, true)
		case ev := <-events:
			// The directory is watched, not the file: editors and
			// Kubernetes ConfigMaps replace the file by renaming another
			// one over it, which ends a watch on the file itself. Any
			// event in the directory may be such a replacement; the
			// content hash tells.
			if filepath.Clean(ev.Name) == r.path || filepath.Base(ev.Name) == "..data" {
				debounce.Reset(reloadDebounce)
			}
		case err := <-errs:
			r.log.Warn("config file watch", "err", err)
		case <-debounce.C:
			r.reload(ctx, false)
		}
	}
}

func (r *reloader) tell(send func() error) {
	if err := send(); err != nil {
		r.log.Warn("service manager notification failed", "err", err)
	}
}

func (r *reloader) watch() (*fsnotify.Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	if err := w.Add(filepath.Dir(r.path)); err != nil {
		_ = w.Close()
		return nil, err
	}
	r.log.Info("watching the config file for changes", "path", r.path)
	return w, nil
}

// reload loads the file and hands it to the gateway. A file change whose
// content equals what was last loaded is ignored; SIGHUP always reloads
// (a file: reference such as a certificate may have changed).
func (r *reloader) reload(ctx context.Context, always bool) {
	b, err := os.ReadFile(r.path)
	if err != nil {
		// After a file event the file may be gone for a moment (the
		// middle of a rename-over): wait for it to come back rather than
		// report an error per event.
		if always {
			r.g.ReloadFailed(fmt.Errorf("read config: %w", err))
		}
		return
	}
	sum := sha256.Sum256(b)
	if !always && bytes.Equal(sum[:], r.last[:]) {
		return
	}
	r.last = sum
	if !always {
		r.log.Info("config file changed: reloading", "path", r.path)
	}
	r.tell(r.notify.Reloading)
	defer r.tell(r.notify.Ready)
	cfg, err := config.Parse(r.path, b, config.Options{})
	if err == nil {
		for _, w := range cfg.Warnings {
			r.log.Warn("config warning", "warning", w.String())
		}
		r.prepare(cfg)
		_, _ = r.g.Reload(ctx, cfg) // Reload logs and counts the outcome
		return
	}
	r.g.ReloadFailed(err)
}
