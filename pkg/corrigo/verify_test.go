package corrigo

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustVerifier(tb testing.TB, cert []byte, opts VerifyOptions) *Verifier {
	tb.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock(testNow)
	}
	v, err := NewVerifier(cert, opts)
	if err != nil {
		tb.Fatalf("NewVerifier: %v", err)
	}
	return v
}

func mustIssue(tb testing.TB, iss *TokenIssuer, name, aud string, life time.Duration) string {
	tb.Helper()
	tok, err := iss.Issue(name, aud, life)
	if err != nil {
		tb.Fatalf("Issue: %v", err)
	}
	return tok
}

// TestRoundTrip issues a token for every hash × signed bytes × gzip ×
// padding combination and checks that a verifier pinned to that
// combination accepts it, reports it, and that a verifier pinned to any
// other hash refuses it.
func TestRoundTrip(t *testing.T) {
	key, cert, _, _ := testKeys(t)
	hashes := []crypto.Hash{crypto.SHA256, crypto.SHA1, crypto.SHA384, crypto.SHA512}
	for _, h := range hashes {
		for _, sb := range AllSignedBytes {
			for _, gz := range []bool{true, false} {
				for _, pad := range []bool{false, true} {
					name := fmt.Sprintf("%v/%s/gzip=%v/pad=%v", h, sb, gz, pad)
					t.Run(name, func(t *testing.T) {
						iss := NewTokenIssuer(key, IssuerOptions{Hash: h, SignedBytes: sb, NoGzip: !gz, Padding: pad, Now: fixedClock(testNow)})
						tok := mustIssue(t, iss, "client-1", "", 0)
						_, sig, _ := strings.Cut(tok, TokenSeparator)
						if pad != strings.HasSuffix(sig, "==") { // 256-byte signatures need "=="
							t.Errorf("signature segment %q: padding=%v", sig, pad)
						}

						pinned := mustVerifier(t, cert, VerifyOptions{Hashes: []crypto.Hash{h}, SignedBytes: []SignedBytes{sb}})
						res, err := pinned.VerifyToken(tok)
						if err != nil {
							t.Fatalf("pinned verifier: %v", err)
						}
						if res.Hash != h || res.SignedBytes != sb || res.Gzipped != gz || res.Key != 0 {
							t.Errorf("result = %v gzipped=%v key=%d", res.Combination(), res.Gzipped, res.Key)
						}
						if res.Ticket.Name() != "client-1" || !res.Expires.Equal(testNow.Add(DefaultTokenLifetime)) || !res.Issued.Equal(testNow) {
							t.Errorf("ticket name %q issued %v expires %v", res.Ticket.Name(), res.Issued, res.Expires)
						}

						// Discovery: everything enabled finds the same hash;
						// without gzip, decoded and gunzipped bytes are the
						// same bytes, so either may be reported.
						all := mustVerifier(t, cert, VerifyOptions{Hashes: hashes, SignedBytes: AllSignedBytes})
						res, err = all.VerifyToken(tok)
						if err != nil {
							t.Fatalf("discovery verifier: %v", err)
						}
						same := res.SignedBytes == sb || (!gz && sb != SignedSegment && res.SignedBytes != SignedSegment)
						if res.Hash != h || !same {
							t.Errorf("discovery found %s, issued %v/%s", res.Combination(), h, sb)
						}

						// Default verifier: SHA-256 then SHA-1 over decoded bytes.
						def := mustVerifier(t, cert, VerifyOptions{})
						_, err = def.Verify(tok)
						wantOK := (h == crypto.SHA256 || h == crypto.SHA1) && (sb == SignedDecoded || (sb == SignedGunzipped && !gz))
						if wantOK != (err == nil) {
							t.Errorf("default verifier: err = %v, want ok=%v", err, wantOK)
						}
						if err != nil && ReasonOf(err) != ReasonBadSignature {
							t.Errorf("default verifier reason = %q, want bad_signature", ReasonOf(err))
						}

						for _, other := range hashes {
							if other == h {
								continue
							}
							v := mustVerifier(t, cert, VerifyOptions{Hashes: []crypto.Hash{other}, SignedBytes: AllSignedBytes})
							if _, err := v.Verify(tok); ReasonOf(err) != ReasonBadSignature {
								t.Errorf("verifier pinned to %v: err = %v, want bad_signature", other, err)
							}
						}
					})
				}
			}
		}
	}
}

// signedTicket signs an arbitrary ticket (gzip or not) with key A.
func signedTicket(tb testing.TB, tk *Ticket, gz bool) string {
	tb.Helper()
	key, _, _, _ := testKeys(tb)
	tok, err := NewTokenIssuer(key, IssuerOptions{NoGzip: !gz}).IssueTicket(tk)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// signedData signs raw data bytes (the data segment content) with key A.
func signedData(tb testing.TB, data []byte) string {
	tb.Helper()
	key, _, _, _ := testKeys(tb)
	tok, err := NewTokenIssuer(key, IssuerOptions{}).Sign(data)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func gz(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// gzipBomb returns a gzip stream inflating to at least n zero bytes: one
// member holding 64 KiB of zeros (about 100 bytes compressed), repeated.
// Concatenated members are one valid gzip stream, and building it this way
// keeps the test fast under -race, where deflating megabytes is slow.
func gzipBomb(tb testing.TB, n int) []byte {
	tb.Helper()
	member := gz(tb, make([]byte, 64<<10))
	return bytes.Repeat(member, (n+(64<<10)-1)/(64<<10))
}

// flip changes one base64url character of s at index i to another valid one.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestVerifyFailures(t *testing.T) {
	keyA, certA, keyB, _ := testKeys(t)
	issA := NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow)})
	good := mustIssue(t, issA, "secret-client-name", "", 0)
	data, sig, _ := strings.Cut(good, TokenSeparator)

	ticket := func(mut func(*Ticket)) *Ticket {
		tk := NewTicket("secret-client-name", DefaultAudience, testNow, DefaultTokenLifetime)
		mut(tk)
		return tk
	}
	ticketJSON, _ := json.Marshal(ticket(func(*Ticket) {}))
	corruptCRC := gz(t, ticketJSON)
	corruptCRC[len(corruptCRC)-6] ^= 0xff // last CRC byte... of the trailer's CRC32
	badDeflate := gz(t, ticketJSON)
	badDeflate[12] ^= 0xff
	bomb := signedData(t, gzipBomb(t, 2<<20)) // 2 MiB of zeros in a few KiB

	tests := []struct {
		name  string
		token string
		opts  VerifyOptions
		want  VerifyReason
	}{
		{"empty", "", VerifyOptions{}, ReasonMissingToken},
		{"blank", " \t ", VerifyOptions{}, ReasonMissingToken},
		{"bearer only", "Bearer ", VerifyOptions{}, ReasonMissingToken},

		{"no separator", data + sig, VerifyOptions{}, ReasonMalformed},
		{"double separator", data + TokenSeparator + sig + TokenSeparator + sig, VerifyOptions{}, ReasonMalformed},
		{"separator twice in a row", data + TokenSeparator + TokenSeparator + sig, VerifyOptions{}, ReasonMalformed},
		{"empty data", TokenSeparator + sig, VerifyOptions{}, ReasonMalformed},
		{"empty signature", data + TokenSeparator, VerifyOptions{}, ReasonMalformed},
		{"too long", strings.Repeat("A", DefaultMaxTokenBytes) + TokenSeparator + sig, VerifyOptions{}, ReasonMalformed},
		{"short separator", data + "<--->" + sig, VerifyOptions{}, ReasonMalformed},

		{"bad base64 data", "H4sI*AAA" + TokenSeparator + sig, VerifyOptions{}, ReasonBadBase64},
		{"bad base64 signature", data + TokenSeparator + sig[:10] + "!" + sig[11:], VerifyOptions{}, ReasonBadBase64},
		{"space in data", data[:8] + " " + data[8:] + TokenSeparator + sig, VerifyOptions{}, ReasonBadBase64},
		{"bad padding", data + "===" + TokenSeparator + sig, VerifyOptions{}, ReasonBadBase64},

		{"tampered data", flip(data, len(data)/2) + TokenSeparator + sig, VerifyOptions{}, ReasonBadSignature},
		{"tampered first data char", flip(data, 0) + TokenSeparator + sig, VerifyOptions{}, ReasonBadSignature},
		{"tampered signature", data + TokenSeparator + flip(sig, len(sig)/2), VerifyOptions{}, ReasonBadSignature},
		{"truncated signature", data + TokenSeparator + sig[:len(sig)-2], VerifyOptions{}, ReasonBadSignature},
		{"swapped segments", sig + TokenSeparator + data, VerifyOptions{}, ReasonBadSignature},
		{"wrong certificate", mustIssue(t, NewTokenIssuer(keyB, IssuerOptions{Now: fixedClock(testNow)}), "x", "", 0), VerifyOptions{}, ReasonBadSignature},
		{"sha512 against default", mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{Hash: crypto.SHA512, Now: fixedClock(testNow)}), "x", "", 0), VerifyOptions{}, ReasonBadSignature},
		{"segment-signed against default", mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{SignedBytes: SignedSegment, Now: fixedClock(testNow)}), "x", "", 0), VerifyOptions{}, ReasonBadSignature},
		{"short signature", data + TokenSeparator + "fyyoO7AkAOIJGw", VerifyOptions{}, ReasonBadSignature},
		// As printed in the docs (truncated): the signature's last character
		// leaves non-zero trailing bits, which no encoder produces.
		{"documented truncated token", "H4sIAAAAAAAEAG2NvQrCMBzE" + TokenSeparator + "fyyoO7AkAOIJG3", VerifyOptions{}, ReasonBadBase64},
		{"gzip bomb with gunzipped bytes enabled", bomb, VerifyOptions{SignedBytes: []SignedBytes{SignedGunzipped}}, ReasonBadSignature},

		{"gzip bomb", bomb, VerifyOptions{}, ReasonBadGzip},
		{"gzip just over the limit", signedData(t, append(gzipBomb(t, 1<<20), gz(t, []byte{0})...)), VerifyOptions{}, ReasonBadGzip},
		{"gzip bomb under a small limit", signedTicket(t, ticket(func(*Ticket) {}), true), VerifyOptions{MaxInflatedBytes: 64}, ReasonBadGzip},
		{"truncated gzip", signedData(t, gz(t, ticketJSON)[:20]), VerifyOptions{}, ReasonBadGzip},
		{"gzip checksum mismatch", signedData(t, corruptCRC), VerifyOptions{}, ReasonBadGzip},
		{"corrupt deflate", signedData(t, badDeflate), VerifyOptions{}, ReasonBadGzip},
		{"gzip magic only", signedData(t, []byte{0x1f, 0x8b}), VerifyOptions{}, ReasonBadGzip},

		{"not json", signedData(t, []byte("hello, world")), VerifyOptions{}, ReasonBadJSON},
		{"gzipped non-json", signedData(t, gz(t, []byte("hello, world"))), VerifyOptions{}, ReasonBadJSON},
		{"json array", signedData(t, []byte(`[{"Claims":[]}]`)), VerifyOptions{}, ReasonBadJSON},
		{"json wrong types", signedData(t, []byte(`{"Claims":5}`)), VerifyOptions{}, ReasonBadJSON},
		{"truncated json", signedData(t, ticketJSON[:len(ticketJSON)-3]), VerifyOptions{}, ReasonBadJSON},
		{"unreadable .issued", signedTicket(t, ticket(func(tk *Ticket) { tk.Properties.Dictionary[TicketIssuedKey] = "yesterday" }), true), VerifyOptions{}, ReasonBadJSON},

		{"expired", mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow.Add(-time.Hour))}), "x", "", 0), VerifyOptions{}, ReasonExpired},
		{"negative lifetime", mustIssue(t, issA, "x", "", -10*time.Minute), VerifyOptions{}, ReasonExpired},
		{"expired within skew but skew disabled", mustIssue(t, issA, "x", "", -time.Minute), VerifyOptions{ClockSkew: -1}, ReasonExpired},
		{"expired beyond a custom skew", mustIssue(t, issA, "x", "", -time.Minute), VerifyOptions{ClockSkew: 30 * time.Second}, ReasonExpired},

		{"not yet valid", mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow.Add(10 * time.Minute))}), "x", "", 0), VerifyOptions{}, ReasonNotYetValid},
		{"issued just beyond skew", mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow.Add(2*time.Minute + time.Second))}), "x", "", 0), VerifyOptions{}, ReasonNotYetValid},

		{"wrong audience", mustIssue(t, issA, "x", "SomeOtherApi", 0), VerifyOptions{}, ReasonWrongAudience},
		{"audience differs in case", mustIssue(t, issA, "x", "corrigoprodirect", 0), VerifyOptions{}, ReasonWrongAudience},
		{"custom audience expected", good, VerifyOptions{Audience: "Elsewhere"}, ReasonWrongAudience},
		{"no audience claim", signedTicket(t, ticket(func(tk *Ticket) { tk.Claims = tk.Claims[:2] }), true), VerifyOptions{}, ReasonWrongAudience},

		{"name not pinned", good, VerifyOptions{Names: []string{"CorrigoPro"}}, ReasonWrongName},
		{"pinned name differs in case", mustIssue(t, issA, "corrigopro", "", 0), VerifyOptions{Names: []string{"CorrigoPro"}}, ReasonWrongName},
		{"no name claim with names pinned", signedTicket(t, ticket(func(tk *Ticket) { tk.Claims = tk.Claims[1:] }), true), VerifyOptions{Names: []string{"CorrigoPro"}}, ReasonWrongName},
		{"an access token (name is the client id)", good, VerifyOptions{RefuseNames: []string{"other", "secret-client-name"}}, ReasonNotWebhookToken},
		{"an access token, client id in another case", good, VerifyOptions{RefuseNames: []string{"SECRET-CLIENT-NAME"}}, ReasonNotWebhookToken},
		{"an access token even when its name is pinned", good, VerifyOptions{Names: []string{"secret-client-name"}, RefuseNames: []string{"secret-client-name"}}, ReasonNotWebhookToken},

		{"no .expires", signedTicket(t, ticket(func(tk *Ticket) { delete(tk.Properties.Dictionary, TicketExpiresKey) }), true), VerifyOptions{}, ReasonMissingExpiry},
		{"no properties", signedData(t, []byte(`{"AuthenticationType":"Bearer","Claims":[{"Type":"Aud","Value":"CorrigoProDirect"}]}`)), VerifyOptions{}, ReasonMissingExpiry},
		{"unreadable .expires", signedTicket(t, ticket(func(tk *Ticket) { tk.Properties.Dictionary[TicketExpiresKey] = "soon" }), false), VerifyOptions{}, ReasonMissingExpiry},
		{"empty .expires", signedTicket(t, ticket(func(tk *Ticket) { tk.Properties.Dictionary[TicketExpiresKey] = "" }), false), VerifyOptions{}, ReasonMissingExpiry},
	}
	seen := map[VerifyReason]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerifier(t, certA, tc.opts)
			tk, err := v.Verify(tc.token)
			if err == nil {
				t.Fatalf("verified, ticket %+v", tk)
			}
			if tk != nil {
				t.Errorf("ticket returned with error")
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T %v is not a *VerifyError", err, err)
			}
			if ve.Reason != tc.want {
				t.Fatalf("reason = %q (%v), want %q", ve.Reason, err, tc.want)
			}
			seen[ve.Reason] = true
			msg := err.Error()
			if !strings.Contains(msg, string(tc.want)) {
				t.Errorf("message %q does not name the reason", msg)
			}
			if strings.Contains(msg, "secret-client-name") || (len(tc.token) > 16 && strings.Contains(msg, tc.token[:16])) {
				t.Errorf("message leaks token content: %q", msg)
			}
			reason, cerr := v.Check(tc.token)
			if reason != string(tc.want) || cerr == nil {
				t.Errorf("Check = %q, %v", reason, cerr)
			}
		})
	}
	for _, r := range AllVerifyReasons {
		if !seen[r] {
			t.Errorf("no test case produces reason %q", r)
		}
	}
	if good := mustVerifier(t, certA, VerifyOptions{}); good != nil {
		if _, err := good.Verify(mustIssue(t, issA, "x", "", 0)); err != nil {
			t.Errorf("control token refused: %v", err)
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	keyA, certA, _, _ := testKeys(t)
	issA := NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow)})
	tok := mustIssue(t, issA, "client-1", "", 0)
	tests := []struct {
		name  string
		token string
		opts  VerifyOptions
	}{
		{"plain", tok, VerifyOptions{}},
		{"Bearer prefix", "Bearer " + tok, VerifyOptions{}},
		{"bearer prefix", "bearer " + tok, VerifyOptions{}},
		{"BEARER prefix and spaces", "  BEARER   " + tok + " ", VerifyOptions{}},
		{"std base64 alphabet", stdAlphabet(tok), VerifyOptions{}},
		{"std base64 with padding", stdAlphabet(mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{Padding: true, Now: fixedClock(testNow)}), "x", "", 0)), VerifyOptions{}},
		{"expired within skew", mustIssue(t, issA, "x", "", -time.Minute), VerifyOptions{}},
		{"issued within skew", mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow.Add(time.Minute))}), "x", "", 0), VerifyOptions{}},
		{"audience check disabled", mustIssue(t, issA, "x", "Other", 0), VerifyOptions{Audience: AudienceAny}},
		{"custom audience", mustIssue(t, issA, "x", "Other", 0), VerifyOptions{Audience: "Other"}},
		{"pinned name", mustIssue(t, issA, "CorrigoPro", "", 0), VerifyOptions{Names: []string{"Acme Facilities", "CorrigoPro"}}},
		{"refused names are someone else", mustIssue(t, issA, "CorrigoPro", "", 0), VerifyOptions{RefuseNames: []string{"client-1", ""}}},
		{"no .issued", signedTicket(t, func() *Ticket {
			tk := NewTicket("x", DefaultAudience, testNow, time.Minute)
			delete(tk.Properties.Dictionary, TicketIssuedKey)
			return tk
		}(), true), VerifyOptions{}},
		{"second of two audiences", signedTicket(t, func() *Ticket {
			tk := NewTicket("x", "First", testNow, time.Minute)
			tk.Claims = append(tk.Claims, Claim{Type: "aud", Value: DefaultAudience})
			return tk
		}(), false), VerifyOptions{}},
		{"iso instants", signedTicket(t, func() *Ticket {
			tk := NewTicket("x", DefaultAudience, testNow, time.Minute)
			tk.Properties.Dictionary[TicketExpiresKey] = "2024-02-28T02:11:00.0000000Z"
			return tk
		}(), true), VerifyOptions{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mustVerifier(t, certA, tc.opts).Verify(tc.token); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAPIMdExamples signs the real ticket from API.md §6.1 in both
// documented shapes and checks the verifier reads it as CorrigoPro meant.
func TestAPIMdExamples(t *testing.T) {
	keyA, certA, _, _ := testKeys(t)
	js := bytes.TrimSpace(readTestdata(t, "tokens/apimd-ticket.json"))
	for _, shape := range []struct {
		name, prefix string
		data         []byte
	}{
		{"uncompressed eyJ", "eyJBdXRoZW50aWNhdGlvblR5cGUiOiJCZWFyZXIi", js},
		{"gzip H4sI", "H4sIAAAAAAAEA", mustGzipTicket(t, js)},
	} {
		t.Run(shape.name, func(t *testing.T) {
			tok, err := NewTokenIssuer(keyA, IssuerOptions{}).Sign(shape.data)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok, shape.prefix) {
				t.Errorf("token %.40q does not start with %q", tok, shape.prefix)
			}
			res, err := mustVerifier(t, certA, VerifyOptions{}).VerifyToken(tok)
			if err != nil {
				t.Fatal(err)
			}
			tk := res.Ticket
			if tk.Audience() != "CorrigoProDirect" || tk.Name() != "<redacted>" || !res.Issued.Equal(apimdIssued) || !res.Expires.Equal(apimdExpires) {
				t.Errorf("ticket: aud %q name %q issued %v expires %v", tk.Audience(), tk.Name(), res.Issued, res.Expires)
			}
			if res.Combination() != "SHA-256/decoded" {
				t.Errorf("combination %q", res.Combination())
			}
			if _, err := mustVerifier(t, certA, VerifyOptions{Now: fixedClock(apimdExpires.Add(3 * time.Minute))}).Verify(tok); ReasonOf(err) != ReasonExpired {
				t.Errorf("after expiry: %v", err)
			}
			if _, err := mustVerifier(t, certA, VerifyOptions{Now: fixedClock(apimdIssued.Add(-3 * time.Minute))}).Verify(tok); ReasonOf(err) != ReasonNotYetValid {
				t.Errorf("before issue: %v", err)
			}
		})
	}
	// The tokens as printed (truncated) in the docs.
	for _, line := range strings.Split(strings.TrimSpace(string(readTestdata(t, "tokens/doc-examples.txt"))), "\n") {
		_, err := mustVerifier(t, certA, VerifyOptions{}).Verify("Bearer " + line)
		if r := ReasonOf(err); r != ReasonBadSignature && r != ReasonBadBase64 {
			t.Errorf("%q: %v", line, err)
		}
	}
}

// stdAlphabet rewrites a token's segments in the standard base64 alphabet.
func stdAlphabet(tok string) string {
	data, sig, _ := strings.Cut(tok, TokenSeparator)
	r := strings.NewReplacer("-", "+", "_", "/")
	return r.Replace(data) + TokenSeparator + r.Replace(sig)
}

func mustGzipTicket(tb testing.TB, js []byte) []byte {
	tb.Helper()
	b, err := gzipTicket(js)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestNewVerifierInputs(t *testing.T) {
	keyA, certA, keyB, certB := testKeys(t)
	pkixDER, err := x509.MarshalPKIXPublicKey(&keyA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkixDER})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&keyA.PublicKey)})
	der, _ := pem.Decode(certA)
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(keyA)})

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	ecDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ecDER})

	good := map[string][]byte{
		"certificate":            certA,
		"certificate with text":  append([]byte("subject=CN = CorrigoPro\n"), certA...),
		"public key":             pubPEM,
		"rsa public key":         pkcs1PEM,
		"der certificate":        der.Bytes,
		"certificate with CRLFs": bytes.ReplaceAll(certA, []byte("\n"), []byte("\r\n")),
	}
	tok := mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow)}), "x", "", 0)
	for name, in := range good {
		t.Run(name, func(t *testing.T) {
			if _, err := mustVerifier(t, in, VerifyOptions{}).Verify(tok); err != nil {
				t.Fatal(err)
			}
		})
	}

	bad := []struct {
		name, in, wantErr string
	}{
		{"empty", "", "no certificate or public key"},
		{"garbage", "not a certificate", "neither PEM nor a DER certificate"},
		{"private key", string(privPEM), "keep the private key secret"},
		{"other block", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", `type "CERTIFICATE REQUEST"`},
		{"corrupt certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "PEM block 1 (CERTIFICATE)"},
		{"ec certificate", string(ecPEM), "want RSA"},
		{"good then bad", string(certA) + string(privPEM), "PEM block 2"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewVerifier([]byte(tc.in), VerifyOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") || strings.Contains(err.Error(), "MII") {
				t.Errorf("error echoes key material: %v", err)
			}
		})
	}

	// Rotation: two certificates, a token from either verifies, and the
	// result names the key.
	both := mustVerifier(t, append(append([]byte{}, certA...), certB...), VerifyOptions{})
	for i, k := range []*rsa.PrivateKey{keyA, keyB} {
		res, err := both.VerifyToken(mustIssue(t, NewTokenIssuer(k, IssuerOptions{Now: fixedClock(testNow)}), "x", "", 0))
		if err != nil || res.Key != i {
			t.Errorf("key %d: res %+v err %v", i, res, err)
		}
	}
}

func TestVerifyOptionsValidation(t *testing.T) {
	_, certA, _, _ := testKeys(t)
	if _, err := NewVerifier(certA, VerifyOptions{Hashes: []crypto.Hash{crypto.MD5}}); err == nil {
		t.Error("MD5 accepted")
	}
	if _, err := NewVerifier(certA, VerifyOptions{SignedBytes: []SignedBytes{"Decoded"}}); err == nil {
		t.Error("non-canonical signed bytes accepted")
	}
	if _, err := NewVerifier(certA, VerifyOptions{SignedBytes: []SignedBytes{"raw"}}); err == nil {
		t.Error("unknown signed bytes accepted")
	}
}

func TestCombinationCounts(t *testing.T) {
	keyA, certA, _, _ := testKeys(t)
	v := mustVerifier(t, certA, VerifyOptions{SignedBytes: []SignedBytes{SignedDecoded, SignedSegment}})
	sha1seg := NewTokenIssuer(keyA, IssuerOptions{Hash: crypto.SHA1, SignedBytes: SignedSegment, Now: fixedClock(testNow)})
	for range 3 {
		if _, err := v.Verify(mustIssue(t, sha1seg, "x", "", 0)); err != nil {
			t.Fatal(err)
		}
	}
	got := v.Combinations()
	want := []CombinationCount{
		{crypto.SHA256, SignedDecoded, 0}, {crypto.SHA1, SignedDecoded, 0},
		{crypto.SHA256, SignedSegment, 0}, {crypto.SHA1, SignedSegment, 3},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Combinations = %v, want %v", got, want)
	}
}

// TestVerifyConcurrent runs Verify from many goroutines (meaningful under
// -race): the verifier shares its keys, counters and gzip reader pool.
func TestVerifyConcurrent(t *testing.T) {
	keyA, certA, keyB, _ := testKeys(t)
	v := mustVerifier(t, certA, VerifyOptions{})
	good := mustIssue(t, NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow)}), "x", "", 0)
	bad := mustIssue(t, NewTokenIssuer(keyB, IssuerOptions{Now: fixedClock(testNow)}), "x", "", 0)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := v.Verify(good); err != nil {
					errs <- err
					return
				}
				if _, err := v.Verify(bad); ReasonOf(err) != ReasonBadSignature {
					errs <- fmt.Errorf("goroutine %d iteration %d: bad token: %w", g, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := v.Combinations()[0].Verified; n != 160 {
		t.Errorf("SHA-256/decoded verified %d tokens, want 160", n)
	}
}

func BenchmarkVerify(b *testing.B) {
	keyA, certA, keyB, _ := testKeys(b)
	v := mustVerifier(b, certA, VerifyOptions{})
	tokens := map[string]string{
		"gzip":            mustIssue(b, NewTokenIssuer(keyA, IssuerOptions{Now: fixedClock(testNow)}), "client-1", "", 0),
		"plain":           mustIssue(b, NewTokenIssuer(keyA, IssuerOptions{NoGzip: true, Now: fixedClock(testNow)}), "client-1", "", 0),
		"sha1":            mustIssue(b, NewTokenIssuer(keyA, IssuerOptions{Hash: crypto.SHA1, Now: fixedClock(testNow)}), "client-1", "", 0),
		"wrong-cert":      mustIssue(b, NewTokenIssuer(keyB, IssuerOptions{Now: fixedClock(testNow)}), "client-1", "", 0),
		"short-signature": "H4sIAAAAAAAEAG2NvQrCMBzE" + TokenSeparator + "fyyoO7AkAOIJGw",
	}
	for _, name := range []string{"gzip", "plain", "sha1", "wrong-cert", "short-signature"} {
		tok := tokens[name]
		wantErr := name == "wrong-cert" || name == "short-signature"
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); (err != nil) != wantErr {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("gzip-parallel", func(b *testing.B) {
		tok := tokens["gzip"]
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
