package erprest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/plugins/erp-rest/erprest"
	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

func siteConfig(erp *fakeerp.Server, mode string, kv ...any) map[string]any {
	cfg := baseConfig(erp)
	body := cfg["create_body"].(map[string]any)
	body["site_id"] = "${site_id}"
	cfg = with(cfg, "site_key", "${wo.ServiceLocation.SpaceId}", "site_lookup_path", "/sites?ref=${site_key}",
		"site_lookup_id_path", "data.0.id", "unknown_location", mode)
	return with(cfg, kv...)
}

func TestKnownSiteIsLookedUpOnceAndCached(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{RequireSite: true})
	defer erp.Close()
	id := erp.AddSite("77", "Store 12")
	c := start(t, siteConfig(erp, erprest.LocationPark))
	for i := int64(1); i <= 2; i++ {
		if acts := mustHandle(t, c, workOrder(i, "WO-"+string(rune('0'+i)))); kinds(acts) != "accept" {
			t.Fatalf("actions = %+v", acts)
		}
	}
	for _, j := range erp.Jobs() {
		if j.SiteID != id {
			t.Errorf("job %s site = %q, want %q", j.ID, j.SiteID, id)
		}
	}
	if n := countRequests(erp, http.MethodGet, "/api/v1/sites"); n != 1 {
		t.Errorf("site lookups = %d, want 1 (then cached)", n)
	}
	if got := string(c.Host.KV()[erprest.SiteKey(account, "77")]); got != id {
		t.Errorf("site cache = %q", got)
	}
}

func TestUnknownLocationPark(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{RequireSite: true})
	defer erp.Close()
	c := start(t, siteConfig(erp, erprest.LocationPark))
	_, err := handle(t, c, workOrder(1, "WO-1"))
	wantPark(t, err, erprest.ParkError+`work order WO-1 (1): the ERP has no site for "77" (location: Store 12; space 77; 1 High St, Leeds, GB)`)
	if len(erp.Jobs()) != 0 {
		t.Error("job created for an unknown site")
	}
	// A person adds the site; the replayed event goes through.
	erp.AddSite("77", "Store 12")
	if acts := mustHandle(t, c, workOrder(1, "WO-1")); kinds(acts) != "accept" {
		t.Fatalf("after adding the site: %+v", acts)
	}
	// A work order without a location is parked too.
	wo := workOrder(2, "WO-2")
	wo.ServiceLocation = nil
	c2 := start(t, with(siteConfig(erp, erprest.LocationPark), "site_key", "${wo.ServiceLocation?.SpaceId ?? ''}"))
	_, err = handle(t, c2, wo)
	wantPark(t, err, "has no value for site_key (location: none given)")
}

func TestUnknownLocationDefault(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{RequireSite: true})
	defer erp.Close()
	def := erp.AddSite("unassigned", "Unassigned")
	c := start(t, siteConfig(erp, erprest.LocationDefault, "default_site_id", def))
	if acts := mustHandle(t, c, workOrder(1, "WO-1")); kinds(acts) != "accept" {
		t.Fatalf("actions = %+v", acts)
	}
	if j := erp.Jobs()[0]; j.SiteID != def {
		t.Errorf("site = %q, want default %q", j.SiteID, def)
	}
	if _, cached := c.Host.KV()[erprest.SiteKey(account, "77")]; cached {
		t.Error("the default was cached as the site's id: a site added later would never be used")
	}
}

func TestUnknownLocationCreate(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{RequireSite: true})
	defer erp.Close()
	cfg := siteConfig(erp, erprest.LocationCreate, "site_create_path", "/sites",
		"site_create_body", map[string]any{"ref": "${site_key}", "name": "${wo.ServiceLocation.SpaceName}", "city": "${wo.ServiceLocation.Address.City}"})
	c := start(t, cfg)
	if acts := mustHandle(t, c, workOrder(1, "WO-1")); kinds(acts) != "accept" {
		t.Fatalf("actions = %+v", acts)
	}
	sites := erp.Sites()
	if len(sites) != 1 || sites[0].Ref != "77" || sites[0].Name != "Store 12" {
		t.Fatalf("sites = %+v", sites)
	}
	if erp.Jobs()[0].SiteID != sites[0].ID {
		t.Errorf("job site = %q, want %q", erp.Jobs()[0].SiteID, sites[0].ID)
	}
	// Another instance (empty cache) meets the existing site: 409 carries its id.
	c2 := start(t, with(cfg, "site_lookup_path", nil))
	if acts := mustHandle(t, c2, workOrder(2, "WO-2")); kinds(acts) != "accept" || len(erp.Sites()) != 1 {
		t.Fatalf("second: %+v, sites %d", acts, len(erp.Sites()))
	}
	// The ERP refuses the site: parked with its reason.
	c3 := start(t, with(cfg, "site_create_body", map[string]any{"name": "no ref"}))
	wo := workOrder(3, "WO-3")
	wo.ServiceLocation = &corrigo.ServiceLocation{SpaceId: 99}
	_, err := handle(t, c3, wo)
	wantPark(t, err, erprest.ParkError+`work order WO-3 (3): the ERP refused to create site "99": ref is required`)
}

func TestSiteLookupFailureIsRetried(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := start(t, siteConfig(erp, erprest.LocationPark))
	erp.FailNext(503)
	_, err := handle(t, c, workOrder(1, "WO-1"))
	wantErr(t, err, true, "look up site: ERP answered 503")
}

func TestLongSiteKeysAreHashed(t *testing.T) {
	k := erprest.SiteKey("a", strings.Repeat("x", 500))
	if len(k) > 100 || !strings.HasPrefix(k, "site:a:sha256-") {
		t.Errorf("key = %q", k)
	}
}
