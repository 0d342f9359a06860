package corrigo

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test keys are generated once per test binary: RSA key generation is the
// slowest thing these tests do.
var (
	testKeysOnce sync.Once
	testKeyA     *rsa.PrivateKey
	testCertA    []byte
	testKeyB     *rsa.PrivateKey
	testCertB    []byte
	testKeysErr  error
)

func testKeys(tb testing.TB) (keyA *rsa.PrivateKey, certA []byte, keyB *rsa.PrivateKey, certB []byte) {
	tb.Helper()
	testKeysOnce.Do(func() {
		testKeyA, testCertA, testKeysErr = GenerateCertificate("wogate test A", time.Hour)
		if testKeysErr == nil {
			testKeyB, testCertB, testKeysErr = GenerateCertificate("wogate test B", time.Hour)
		}
	})
	if testKeysErr != nil {
		tb.Fatalf("generate test keys: %v", testKeysErr)
	}
	return testKeyA, testCertA, testKeyB, testCertB
}

// The instants of the real ticket in API.md §6.1.
var (
	apimdIssued  = time.Date(2024, 2, 28, 2, 3, 24, 0, time.UTC)
	apimdExpires = time.Date(2024, 2, 28, 2, 23, 24, 0, time.UTC)
	// testNow lies inside the API.md ticket's lifetime.
	testNow = time.Date(2024, 2, 28, 2, 10, 0, 0, time.UTC)
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseHashAndSignedBytes(t *testing.T) {
	hashes := map[string]crypto.Hash{
		"sha256": crypto.SHA256, "SHA-256": crypto.SHA256, " Sha1 ": crypto.SHA1,
		"SHA-1": crypto.SHA1, "sha384": crypto.SHA384, "sha-512": crypto.SHA512,
	}
	for in, want := range hashes {
		got, err := ParseHash(in)
		if err != nil || got != want {
			t.Errorf("ParseHash(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "md5", "sha3-256", "rsa"} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) succeeded", bad)
		}
	}
	for _, sb := range AllSignedBytes {
		got, err := ParseSignedBytes(strings.ToUpper(string(sb)))
		if err != nil || got != sb {
			t.Errorf("ParseSignedBytes(%q) = %q, %v", sb, got, err)
		}
	}
	if _, err := ParseSignedBytes("raw"); err == nil {
		t.Error("ParseSignedBytes(raw) succeeded")
	}
}

func TestDecodeTokenSegment(t *testing.T) {
	payload := []byte{0xfb, 0xff, 0xfe, 0x00, 0x01}
	std := base64.StdEncoding.EncodeToString(payload) // "+//+AAE="
	url := base64.URLEncoding.EncodeToString(payload) // "-__-AAE="
	good := []string{std, url, strings.TrimRight(std, "="), strings.TrimRight(url, "=")}
	for _, s := range good {
		got, err := decodeTokenSegment(s)
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("decode %q = %x, %v", s, got, err)
		}
	}
	bad := []string{
		"-__-AA E",   // whitespace (Go's decoder would skip it)
		"-__-AAE\n",  // newline
		"-__-AAE===", // too much padding
		"-__-AA=E",   // padding inside
		"-__-AAE==",  // padding to a length that is not a multiple of 4
		"-__-AAF",    // non-zero trailing bits: a second spelling of the same bytes
		"-__-A",      // impossible length
		"abc*",
		"é",
	}
	for _, s := range bad {
		if got, err := decodeTokenSegment(s); err == nil {
			t.Errorf("decode %q succeeded: %x", s, got)
		}
	}
}

func TestIssueShapes(t *testing.T) {
	key, _, _, _ := testKeys(t)
	tests := []struct {
		name       string
		opts       IssuerOptions
		dataPrefix string
	}{
		// The gzip header .NET writes (1f 8b 08 00 00000000 04 00) encodes
		// to "H4sIAAAAAAAEA", exactly as in the documented tokens.
		{"gzip", IssuerOptions{}, "H4sIAAAAAAAEA"},
		{"plain", IssuerOptions{NoGzip: true}, "eyJ"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = fixedClock(testNow)
			tok, err := NewTokenIssuer(key, tc.opts).Issue("client-1", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			data, sig, ok := strings.Cut(tok, TokenSeparator)
			if !ok || strings.Contains(sig, TokenSeparator) {
				t.Fatalf("token %q has not exactly one separator", tok)
			}
			if !strings.HasPrefix(data, tc.dataPrefix) {
				t.Errorf("data segment %.20q does not start with %q", data, tc.dataPrefix)
			}
			if strings.ContainsAny(tok, "=+/") {
				t.Errorf("unpadded base64url token contains =, + or /: %q", tok)
			}
			raw, err := decodeTokenSegment(data)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(raw))
				if err != nil {
					t.Fatal(err)
				}
				var buf bytes.Buffer
				if _, err := buf.ReadFrom(zr); err != nil {
					t.Fatal(err)
				}
				raw = buf.Bytes()
			}
			var tk Ticket
			if err := json.Unmarshal(raw, &tk); err != nil {
				t.Fatalf("ticket JSON: %v\n%s", err, raw)
			}
			if tk.Audience() != DefaultAudience || tk.Name() != "client-1" || tk.AuthenticationType != "Bearer" {
				t.Errorf("ticket = %+v", tk)
			}
			if got := tk.Properties.Dictionary[TicketExpiresKey]; got != "Wed, 28 Feb 2024 02:30:00 GMT" {
				t.Errorf(".expires = %q, want 20 minutes after issue", got)
			}
		})
	}
}

func TestIssueErrors(t *testing.T) {
	key, _, _, _ := testKeys(t)
	if _, err := NewTokenIssuer(nil, IssuerOptions{}).Issue("x", "", 0); err == nil {
		t.Error("issuer without key succeeded")
	}
	if _, err := NewTokenIssuer(key, IssuerOptions{Hash: crypto.MD5}).Issue("x", "", 0); err == nil {
		t.Error("MD5 issuer succeeded")
	}
	if _, err := NewTokenIssuer(key, IssuerOptions{SignedBytes: "raw"}).Issue("x", "", 0); err == nil {
		t.Error("unknown signed bytes succeeded")
	}
}
