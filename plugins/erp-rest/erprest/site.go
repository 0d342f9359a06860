package erprest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// CorrigoPro shares no list of locations, and customers add sites without
// telling their providers, so a work order may name a site the ERP has
// never heard of. The plugin finds the ERP's site by a configured key
// (site_key), caches the answer in the key-value store, and handles an
// unknown site as unknown_location says.

// SiteKey is the key-value key caching the ERP site id for a site key.
// Long keys (addresses) are hashed to keep keys short.
func SiteKey(account, key string) string {
	if len(key) > 100 {
		sum := sha256.Sum256([]byte(key))
		key = "sha256-" + hex.EncodeToString(sum[:])
	}
	return "site:" + account + ":" + key
}

// ParkError is the message prefix of errors that need a person. They are
// pluginapi.NeedsPerson errors: the gateway parks the event with the
// reason, to be reprocessed once the ERP or the config is fixed. The
// prefix keeps the reason readable where the verdict is not shown (and on
// gateways older than the needs-a-person verdict, which dead-letter it).
const ParkError = "needs a person: "

// resolveSite returns the ERP site id of the work order's location.
func (j *jobRun) resolveSite(ctx context.Context) (string, error) {
	key, err := j.cfg.SiteKey.render(j.env)
	if err != nil {
		return "", pluginapi.Permanent(fmt.Errorf("site_key: %w", err))
	}
	key = strings.TrimSpace(key)
	j.env.SiteKey = key
	if key == "" {
		return j.unknownSite(ctx, "the work order has no value for site_key")
	}
	cacheKey := SiteKey(j.account, key)
	b, ok, err := j.host.KVGet(ctx, cacheKey)
	if err != nil {
		return "", retryable(fmt.Errorf("read %s: %w", cacheKey, err))
	}
	if ok && len(b) > 0 {
		return string(b), nil
	}
	if j.cfg.SiteLookupPath != nil {
		path, err := j.cfg.SiteLookupPath.render(j.env)
		if err != nil {
			return "", pluginapi.Permanent(fmt.Errorf("site_lookup_path: %w", err))
		}
		resp, err := j.cl.do(ctx, "look up site", http.MethodGet, path, nil, nil)
		if err != nil {
			return "", retryable(err)
		}
		switch {
		case resp.Status >= 200 && resp.Status < 300:
			if id, err := idFrom(resp, j.cfg.SiteLookupIDPath); err == nil {
				return id, j.cacheSite(ctx, cacheKey, id)
			}
		case resp.Status == http.StatusNotFound:
		default:
			return "", statusError("look up site", resp, j.reason(resp))
		}
	}
	return j.unknownSite(ctx, fmt.Sprintf("the ERP has no site for %q", key))
}

// unknownSite applies unknown_location.
func (j *jobRun) unknownSite(ctx context.Context, why string) (string, error) {
	where := describeLocation(j)
	switch j.cfg.UnknownLocation {
	case LocationDefault:
		j.host.Log(ctx, "info", "unknown site; using default_site_id", "work_order_id", j.wo.WorkOrderId, "reason", why)
		return j.cfg.DefaultSiteID, nil
	case LocationCreate:
		if j.env.SiteKey == "" {
			break
		}
		return j.createSite(ctx)
	}
	return "", pluginapi.NeedsPerson(fmt.Errorf("%swork order %s: %s (location: %s); add the site to the ERP or set unknown_location, then replay the event",
		ParkError, woLabel(j), why, where))
}

func (j *jobRun) createSite(ctx context.Context) (string, error) {
	var body any
	if j.cfg.SiteCreateBody != nil {
		b, err := j.cfg.SiteCreateBody.eval(j.env)
		if err != nil {
			return "", pluginapi.Permanent(fmt.Errorf("site_create_body: %w", err))
		}
		body = b
	}
	path, err := j.cfg.SiteCreatePath.render(j.env)
	if err != nil {
		return "", pluginapi.Permanent(fmt.Errorf("site_create_path: %w", err))
	}
	hdr := http.Header{}
	if j.cfg.IdempotencyHeader != "" {
		hdr.Set(j.cfg.IdempotencyHeader, "wogate-site-"+j.account+"-"+j.env.SiteKey)
	}
	resp, err := j.cl.do(ctx, "create site", j.cfg.SiteCreateMethod, path, body, hdr)
	if err != nil {
		return "", retryable(err)
	}
	switch {
	case resp.Status >= 200 && resp.Status < 300, resp.Status == http.StatusConflict:
		id, err := idFrom(resp, j.cfg.SiteCreateIDPath)
		if err != nil {
			return "", pluginapi.Permanent(fmt.Errorf("create site: ERP answered %d but site_create_id_path: %w (answer: %s)", resp.Status, err, excerpt(resp.Body)))
		}
		j.host.Log(ctx, "info", "created ERP site", "work_order_id", j.wo.WorkOrderId, "site_key", j.env.SiteKey, "site_id", id)
		return id, j.cacheSite(ctx, SiteKey(j.account, j.env.SiteKey), id)
	case resp.Status == http.StatusBadRequest || resp.Status == http.StatusUnprocessableEntity:
		return "", pluginapi.NeedsPerson(fmt.Errorf("%swork order %s: the ERP refused to create site %q: %s",
			ParkError, woLabel(j), j.env.SiteKey, j.reason(resp)))
	}
	return "", statusError("create site", resp, j.reason(resp))
}

func (j *jobRun) cacheSite(ctx context.Context, key, id string) error {
	if err := j.host.KVPut(ctx, key, []byte(id)); err != nil {
		return retryable(fmt.Errorf("cache site %s: %w", id, err))
	}
	return nil
}

func woLabel(j *jobRun) string {
	if j.wo.WorkOrderNumber != "" {
		return fmt.Sprintf("%s (%d)", j.wo.WorkOrderNumber, j.wo.WorkOrderId)
	}
	return fmt.Sprint(j.wo.WorkOrderId)
}

// describeLocation names the work order's location for a person.
func describeLocation(j *jobRun) string {
	sl := j.wo.ServiceLocation
	if sl == nil {
		return "none given"
	}
	var parts []string
	if sl.SpaceName != "" {
		parts = append(parts, sl.SpaceName)
	}
	if sl.SpaceId != 0 {
		parts = append(parts, fmt.Sprintf("space %d", sl.SpaceId))
	}
	if a := sl.Address; a != nil {
		addr := strings.Join(nonEmpty(a.Street1, a.Street2, a.City, a.State, a.Zip, a.Country), ", ")
		if addr != "" {
			parts = append(parts, addr)
		}
	}
	if len(parts) == 0 {
		return "none given"
	}
	return strings.Join(parts, "; ")
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}
