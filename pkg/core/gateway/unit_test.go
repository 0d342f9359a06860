package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/reconcile"
	"github.com/wogate/wogate/pkg/corrigo"
)

func TestCachedVerifier(t *testing.T) {
	key, certPEM, err := corrigo.GenerateCertificate("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	iss := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{})
	good, err := iss.Issue("CorrigoPro", "", 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	v, err := corrigo.NewVerifier(certPEM, corrigo.VerifyOptions{Now: func() time.Time { return now }, ClockSkew: -1})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	c := newCachedVerifier(v, func(combo string, key int) { seen = append(seen, fmt.Sprintf("%s#%d", combo, key)) })
	c.now = func() time.Time { return now }
	for range 3 {
		if reason, err := c.Check(good); err != nil {
			t.Fatalf("good token: %s %v", reason, err)
		}
	}
	if len(c.ok) != 1 {
		t.Errorf("cache holds %d tokens, want 1", len(c.ok))
	}
	// Every accepted token, cached or not, reports how it verified.
	if strings.Join(seen, " ") != "SHA-256/decoded#0 SHA-256/decoded#0 SHA-256/decoded#0" {
		t.Errorf("reported %q", seen)
	}
	// A forged token is checked every time and never cached.
	otherKey, _, _ := corrigo.GenerateCertificate("mallory", time.Hour)
	forged, _ := corrigo.NewTokenIssuer(otherKey, corrigo.IssuerOptions{}).Issue("CorrigoPro", "", 20*time.Minute)
	for range 2 {
		if reason, err := c.Check(forged); err == nil || reason != "bad_signature" {
			t.Fatalf("forged token: reason %q, err %v", reason, err)
		}
	}
	// A tampered copy of the good token is not the cached string.
	if _, err := c.Check(good[:len(good)-2] + "AA"); err == nil {
		t.Fatal("tampered token accepted")
	}
	// Past its expiry the cached token is checked again, and refused.
	now = now.Add(21 * time.Minute)
	if reason, err := c.Check(good); err == nil || reason != "expired" {
		t.Fatalf("expired cached token: reason %q, err %v", reason, err)
	}
	if len(c.ok) != 0 {
		t.Errorf("expired token still cached")
	}
	if len(seen) != 3 {
		t.Errorf("refused tokens were reported as verified: %q", seen)
	}
}

// A token past its .expires but within the clock skew is accepted, and is
// cached like any other: it used to be verified in full on every request
// of its last minutes (issue 13).
func TestCachedVerifierKeepsTokensWithinTheSkew(t *testing.T) {
	key, certPEM, err := corrigo.GenerateCertificate("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Now()
	tok, err := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{Now: func() time.Time { return issued }}).Issue("CorrigoPro", "", 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	expires := issued.Add(20 * time.Minute)
	verifierNow := expires.Add(time.Minute) // inside the 2-minute skew
	v, err := corrigo.NewVerifier(certPEM, corrigo.VerifyOptions{Now: func() time.Time { return verifierNow }, ClockSkew: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := newCachedVerifier(v, nil)
	cacheNow := verifierNow
	c.now = func() time.Time { return cacheNow }
	if reason, err := c.Check(tok); err != nil {
		t.Fatalf("token within the skew refused: %s %v", reason, err)
	}
	// The verifier would refuse it now; only a cache hit still accepts it.
	verifierNow = expires.Add(time.Hour)
	cacheNow = expires.Add(2*time.Minute - time.Second)
	if reason, err := c.Check(tok); err != nil {
		t.Fatalf("token within the skew was not cached: %s %v", reason, err)
	}
	// From expiry + skew on, the cache lets go and the verifier refuses.
	cacheNow = expires.Add(2 * time.Minute)
	if _, err := c.Check(tok); err == nil {
		t.Fatal("token accepted from the cache past expiry + skew")
	}
}

// Each gateway keeps its own silence reports, the last per account, until
// its maintenance loops stop.
func TestWebhookSilencePerGateway(t *testing.T) {
	var a, b Gateway
	a.silences.put(reconcile.Silence{Account: "main", Silent: true})
	a.silences.put(reconcile.Silence{Account: "main", Silent: false})
	a.silences.put(reconcile.Silence{Account: "other", Silent: true})
	got := a.WebhookSilence()
	if len(got) != 2 || got["main"].Silent || !got["other"].Silent {
		t.Fatalf("a: %+v", got)
	}
	got["main"] = reconcile.Silence{Account: "main", Silent: true}
	if a.WebhookSilence()["main"].Silent {
		t.Fatal("the returned map is the gateway's own")
	}
	if len(b.WebhookSilence()) != 0 {
		t.Fatalf("b sees a's reports: %+v", b.WebhookSilence())
	}
	a.silences.clear()
	if len(a.WebhookSilence()) != 0 {
		t.Fatal("reports kept after the loops stopped")
	}
}
