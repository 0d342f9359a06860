package corrigo

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzVerify feeds arbitrary tokens to two verifiers that trust one fixed
// key: the default one and a discovery one with every hash and every
// signed-bytes definition. It checks that Verify never panics, that every
// failure is a *VerifyError with a known reason, and that whatever verifies
// was signed by the key: the signed bytes and the signature must be a pair
// the test itself produced. The seeds are valid tokens in every shape, so
// the fuzzer mutates signed data and signatures.
func FuzzVerify(f *testing.F) {
	// A 1024-bit key (the smallest the verifier accepts) makes each RSA
	// check about four times cheaper than 2048 bits. That matters here: a
	// near-valid token costs one RSA check per configured combination, and
	// the fuzzer's minimizer replays such inputs thousands of times.
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	def := mustVerifier(f, cert, VerifyOptions{})
	all := mustVerifier(f, cert, VerifyOptions{
		Hashes:      []crypto.Hash{crypto.SHA256, crypto.SHA1},
		SignedBytes: AllSignedBytes,
	})

	// signed maps "mode|signed bytes|signature" for every token the test
	// signed: the only combinations allowed to verify.
	signed := map[string]bool{}
	remember := func(tok string, sb SignedBytes) {
		data, sig, _ := strings.Cut(tok, TokenSeparator)
		raw, _ := decodeTokenSegment(data)
		s, _ := decodeTokenSegment(sig)
		var msg []byte
		switch sb {
		case SignedDecoded:
			msg = raw
		case SignedSegment:
			msg = []byte(data)
		case SignedGunzipped:
			msg = raw
			if bytes.HasPrefix(raw, gzipMagic) {
				msg, _ = gunzipBounded(raw, defaultMaxInflated)
			}
		}
		signed[string(sb)+"|"+string(msg)+"|"+string(s)] = true
		if sb != SignedSegment && !bytes.HasPrefix(raw, gzipMagic) {
			// Without gzip, decoded and gunzipped bytes coincide.
			signed[string(SignedDecoded)+"|"+string(msg)+"|"+string(s)] = true
			signed[string(SignedGunzipped)+"|"+string(msg)+"|"+string(s)] = true
		}
	}

	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA1, crypto.SHA512} { // SHA-512 tokens must never verify
		for _, sb := range AllSignedBytes {
			for _, noGzip := range []bool{false, true} {
				iss := NewTokenIssuer(key, IssuerOptions{Hash: h, SignedBytes: sb, NoGzip: noGzip, Padding: h == crypto.SHA1, Now: fixedClock(testNow)})
				tok := mustIssue(f, iss, "client-1", "", 0)
				remember(tok, sb)
				f.Add(tok)
			}
		}
	}
	js := bytes.TrimSpace(readTestdata(f, "tokens/apimd-ticket.json"))
	for _, data := range [][]byte{js, mustGzipTicket(f, js)} {
		tok, err := NewTokenIssuer(key, IssuerOptions{}).Sign(data)
		if err != nil {
			f.Fatal(err)
		}
		remember(tok, SignedDecoded)
		f.Add(tok)
		f.Add("Bearer " + stdAlphabet(tok))
	}
	for _, line := range strings.Split(string(readTestdata(f, "tokens/doc-examples.txt")), "\n") {
		f.Add(line)
	}
	f.Add("")
	f.Add("Bearer")
	f.Add("a<---->b<---->c")
	f.Add("H4sI<---->")

	f.Fuzz(func(t *testing.T, token string) {
		for _, v := range []*Verifier{def, all} {
			res, err := v.VerifyToken(token)
			if err != nil {
				var ve *VerifyError
				if !errors.As(err, &ve) || !slices.Contains(AllVerifyReasons, ve.Reason) || res != nil {
					t.Fatalf("error %T %v with result %v", err, err, res)
				}
				continue
			}
			if res.Ticket == nil || res.Expires.IsZero() {
				t.Fatalf("verified without a ticket or expiry: %+v", res)
			}
			tok := strings.TrimSpace(token)
			if len(tok) >= 6 && strings.EqualFold(tok[:6], "bearer") {
				tok = strings.TrimSpace(tok[6:])
			}
			data, sig, _ := strings.Cut(tok, TokenSeparator)
			raw, err1 := decodeTokenSegment(data)
			s, err2 := decodeTokenSegment(sig)
			if err1 != nil || err2 != nil {
				t.Fatalf("verified a token whose segments do not decode: %v %v", err1, err2)
			}
			var msg []byte
			switch res.SignedBytes {
			case SignedDecoded:
				msg = raw
			case SignedSegment:
				msg = []byte(data)
			case SignedGunzipped:
				msg = raw
				if res.Gzipped {
					msg, _ = gunzipBounded(raw, defaultMaxInflated)
				}
			}
			if !signed[string(res.SignedBytes)+"|"+string(msg)+"|"+string(s)] {
				t.Fatalf("token verified (%s) but the test never signed those bytes: %q", res.Combination(), token)
			}
		}
	})
}
