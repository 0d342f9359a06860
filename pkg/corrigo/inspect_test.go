package corrigo

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestInspectTokenFindsTheCombination signs with every combination and
// checks that InspectToken reports exactly the ones that verify: the
// signing one, plus gunzipped/decoded coinciding on an uncompressed ticket.
func TestInspectTokenFindsTheCombination(t *testing.T) {
	key, cert, _, certB := testKeys(t)
	for _, h := range InspectHashes {
		for _, sb := range AllSignedBytes {
			for _, gz := range []bool{true, false} {
				iss := NewTokenIssuer(key, IssuerOptions{Hash: h, SignedBytes: sb, NoGzip: !gz, Now: fixedClock(testNow)})
				tok := mustIssue(t, iss, "CorrigoPro", "", 0)
				ti, err := InspectToken("Bearer "+tok, cert)
				if err != nil {
					t.Fatalf("%v/%s gz=%v: %v", h, sb, gz, err)
				}
				var got []string
				for _, c := range ti.Verified() {
					got = append(got, c.Combination())
					if c.Key != 0 {
						t.Errorf("key %d, want 0", c.Key)
					}
				}
				want := []string{h.String() + "/" + string(sb)}
				if !gz && sb != SignedSegment {
					want = []string{h.String() + "/decoded", h.String() + "/gunzipped"}
				}
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("%v/%s gz=%v: verified %v, want %v", h, sb, gz, got, want)
				}
				if ti.Ticket == nil || ti.Ticket.Name() != "CorrigoPro" || ti.Gzipped != gz {
					t.Errorf("ticket %+v gzipped %v", ti.Ticket, ti.Gzipped)
				}
				if len(ti.Combos) != len(InspectHashes)*len(AllSignedBytes) || len(ti.KeyBits) != 1 {
					t.Errorf("%d combos, keys %v", len(ti.Combos), ti.KeyBits)
				}
				// Another certificate: nothing verifies, the claims are still shown.
				other, err := InspectToken(tok, certB)
				if err != nil || len(other.Verified()) != 0 || other.Ticket == nil {
					t.Errorf("other cert: %v verified %v", err, other.Verified())
				}
			}
		}
	}
}

func TestInspectTokenErrors(t *testing.T) {
	_, cert, _, _ := testKeys(t)
	for in, want := range map[string]VerifyReason{
		"":                ReasonMissingToken,
		"Bearer ":         ReasonMissingToken,
		"abc":             ReasonMalformed,
		"a<---->b<---->c": ReasonMalformed,
		"<---->abc":       ReasonMalformed,
		"a b<---->abc":    ReasonBadBase64,
		"eyJ9<---->a$":    ReasonBadBase64,
		strings.Repeat("a", DefaultMaxTokenBytes+1): ReasonMalformed,
	} {
		_, err := InspectToken(in, cert)
		if ReasonOf(err) != want {
			t.Errorf("%.20q: %v, want %s", in, err, want)
		}
	}
	// A decodable token with garbage data: no ticket, a reason, no error.
	ti, err := InspectToken("H4sIAAAA<---->AAAA", cert)
	if err != nil || ti.Ticket != nil || ReasonOf(ti.TicketErr) != ReasonBadGzip {
		t.Errorf("corrupt gzip: %v %+v", err, ti)
	}
	if _, err := InspectToken("eyJ9<---->AAAA", []byte("not a pem")); err == nil {
		t.Error("a bad certificate is not an error")
	}
	var ve *VerifyError
	if _, err := InspectToken("x", nil); !errors.As(err, &ve) {
		t.Errorf("%T is not a *VerifyError", err)
	}
}

func TestTokenFromCapture(t *testing.T) {
	key, _, _, _ := testKeys(t)
	tok := mustIssue(t, NewTokenIssuer(key, IssuerOptions{Now: time.Now}), "CorrigoPro", "", 0)
	for name, in := range map[string]string{
		"bare":            tok + "\n",
		"value":           "Bearer " + tok,
		"header":          "Authorization: Bearer " + tok + "\n",
		"headers":         "Host: gw.example\nAuthorization: Bearer " + tok + "\nContent-Type: application/json\n",
		"request crlf":    "POST /webhooks/main HTTP/1.1\r\nHost: gw.example\r\nAuthorization: Bearer " + tok + "\r\nContent-Length: 2\r\n\r\n{}",
		"request lf":      "POST /webhooks/main HTTP/1.1\nHost: gw.example\nauthorization: Bearer " + tok + "\n\n{\"Header\":{}}\n",
		"request no body": "POST /webhooks/main HTTP/1.1\nHost: gw.example\nAuthorization: Bearer " + tok,
		"bom":             "\xef\xbb\xbf" + tok,
	} {
		got, err := TokenFromCapture([]byte(in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if strings.TrimPrefix(got, "Bearer ") != tok {
			t.Errorf("%s: got %.40q…", name, got)
		}
	}
	for name, in := range map[string]string{
		"empty":     " \n",
		"no header": "POST /x HTTP/1.1\nHost: a\n\n",
		"two":       "POST /x HTTP/1.1\nHost: a\nAuthorization: a\nAuthorization: b\n\n",
		"lines":     "Host: a\nAccept: b\n",
		"two lines": "Authorization: a\nAuthorization: b",
		"bad":       "POST /x HTTP/1.1\nno colon here\n\n",
		"huge":      strings.Repeat("a", 1<<20+1),
	} {
		got, err := TokenFromCapture([]byte(in))
		if err == nil {
			t.Errorf("%s: no error (got %q)", name, got)
		} else if strings.Contains(err.Error(), tok[:20]) {
			t.Errorf("%s: the error repeats the token", name)
		}
	}
}

// FuzzTokenFromCapture: any capture is read without a panic, and whatever
// it yields is handed to InspectToken without a panic either.
func FuzzTokenFromCapture(f *testing.F) {
	_, cert, _, _ := testKeys(f)
	for _, s := range []string{
		"Bearer eyJ9<---->AAAA",
		"Authorization: Bearer eyJ9<---->AAAA",
		"POST /webhooks/main HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer H4sIAAAA<---->AAAA\r\n\r\n{}",
		"POST / HTTP/1.1\nAuthorization: x\nAuthorization: y\n\n",
		"Host: a\nAuthorization: eyJ9<---->AA==",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := TokenFromCapture(b)
		if err != nil {
			return
		}
		ti, err := InspectToken(tok, cert)
		if err == nil && ti == nil {
			t.Fatal("nil inspection without an error")
		}
		if err == nil && len(ti.Verified()) > 0 {
			t.Fatalf("a fuzzed token verified: %q", tok)
		}
	})
}
