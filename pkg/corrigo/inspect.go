package corrigo

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// This file serves `gateway token inspect`: an operator pastes a token
// captured from CorrigoPro (or its Desktop emulator) and learns, before
// going live, which hash / signed-bytes combination verifies it against
// the configured certificate. The signature algorithm is inferred [I]
// (API.md §6.2); this is how it gets confirmed.

// InspectHashes are the hashes InspectToken tries: every one a Verifier
// accepts.
var InspectHashes = []crypto.Hash{crypto.SHA256, crypto.SHA1, crypto.SHA384, crypto.SHA512}

// ComboResult is whether one hash / signed-bytes combination verifies a
// token's signature with one of a certificate's keys.
type ComboResult struct {
	Hash        crypto.Hash
	SignedBytes SignedBytes
	// Verified: the signature checks with key Key (PEM block order).
	Verified bool
	Key      int
}

// Combination names it the way VerifyResult.Combination does.
func (c ComboResult) Combination() string { return c.Hash.String() + "/" + string(c.SignedBytes) }

// TokenInspection is what InspectToken learned from a token. It never
// holds the token or its signature.
type TokenInspection struct {
	// Gzipped: the data segment is a gzip stream.
	Gzipped bool
	// DataBytes and SignatureBytes are the decoded segment lengths; a
	// signature as long as the key's modulus is the first sign of a
	// matching certificate.
	DataBytes, SignatureBytes int
	// Ticket is the parsed ticket, or nil (TicketErr says why). It is
	// parsed whether or not a signature verifies: read it as a claim,
	// not a fact, unless some Combos entry verified.
	Ticket    *Ticket
	TicketErr error
	// Combos lists every hash × signed-bytes combination tried, in
	// InspectHashes × AllSignedBytes order; empty when no certificate was
	// given.
	Combos []ComboResult
	// KeyBits are the sizes of the certificate's keys.
	KeyBits []int
}

// Verified reports the combinations that verified.
func (ti *TokenInspection) Verified() []ComboResult {
	var out []ComboResult
	for _, c := range ti.Combos {
		if c.Verified {
			out = append(out, c)
		}
	}
	return out
}

// InspectToken decodes a token (a "Bearer " prefix is allowed), parses its
// ticket (gunzipped with the verifier's 1 MiB bound) and, when certPEM is
// not empty, tries every supported combination against each of its keys.
// It checks no expiry, audience or name: a Verifier built from the
// configuration decides acceptance. Errors are *VerifyError for a token
// that cannot be decoded, or a certificate error.
func InspectToken(token string, certPEM []byte) (*TokenInspection, error) {
	dataSeg, data, sig, err := splitToken(token, DefaultMaxTokenBytes)
	if err != nil {
		return nil, err
	}
	ti := &TokenInspection{Gzipped: bytes.HasPrefix(data, gzipMagic), DataBytes: len(data), SignatureBytes: len(sig)}
	plain := data
	if ti.Gzipped {
		if plain, err = gunzipBounded(data, defaultMaxInflated); err != nil {
			ti.TicketErr = &VerifyError{Reason: ReasonBadGzip, Err: err}
			plain = nil
		}
	}
	if plain != nil {
		ti.Ticket, ti.TicketErr = parseTicket(plain)
	}
	if len(bytes.TrimSpace(certPEM)) == 0 {
		return ti, nil
	}
	keys, err := parseRSAPublicKeys(certPEM)
	if err != nil {
		return ti, fmt.Errorf("webhook certificate: %w", err)
	}
	for _, k := range keys {
		ti.KeyBits = append(ti.KeyBits, k.N.BitLen())
	}
	for _, h := range InspectHashes {
		for _, sb := range AllSignedBytes {
			r := ComboResult{Hash: h, SignedBytes: sb, Key: -1}
			var signed []byte
			switch sb {
			case SignedDecoded:
				signed = data
			case SignedSegment:
				signed = []byte(dataSeg)
			case SignedGunzipped:
				signed = plain
			}
			if signed != nil {
				d := h.New()
				d.Write(signed)
				digest := d.Sum(nil)
				for i, k := range keys {
					if len(sig) == k.Size() && rsa.VerifyPKCS1v15(k, h, digest, sig) == nil {
						r.Verified, r.Key = true, i
						break
					}
				}
			}
			ti.Combos = append(ti.Combos, r)
		}
	}
	return ti, nil
}

// TokenFromCapture finds the bearer token in what an operator captured: a
// saved HTTP request (request line, headers, optional body), a header line
// ("Authorization: Bearer …"), the header's value ("Bearer …") or the
// bare token. Surrounding whitespace and a trailing newline are ignored.
// The token itself is not checked here (InspectToken does that).
func TokenFromCapture(b []byte) (string, error) {
	if len(b) > 1<<20 {
		return "", errors.New("the capture is larger than 1 MiB; save only the request's headers")
	}
	s := strings.TrimSpace(strings.TrimPrefix(string(b), "\xef\xbb\xbf"))
	if s == "" {
		return "", errors.New("the capture is empty")
	}
	first, _, _ := strings.Cut(s, "\n")
	first = strings.TrimSpace(first)
	if fields := strings.Fields(first); len(fields) == 3 && strings.HasPrefix(fields[2], "HTTP/") {
		// A saved request: let net/http read the headers, with CRLF
		// restored when the capture was saved with bare newlines.
		raw := s
		if !strings.Contains(raw, "\r\n") {
			raw = strings.ReplaceAll(raw, "\n", "\r\n")
		}
		if !strings.Contains(raw, "\r\n\r\n") {
			raw += "\r\n\r\n"
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return "", fmt.Errorf("the capture looks like an HTTP request but does not parse: %w", err)
		}
		if req.Body != nil {
			_ = req.Body.Close()
		}
		vals := req.Header.Values("Authorization")
		switch len(vals) {
		case 0:
			return "", errors.New("the saved request has no Authorization header (a proxy may have stripped it)")
		case 1:
			return strings.TrimSpace(vals[0]), nil
		}
		return "", fmt.Errorf("the saved request has %d Authorization headers; keep one", len(vals))
	}
	if strings.Contains(s, "\n") {
		// Several lines: headers without a request line. Find the one.
		var found []string
		for _, l := range strings.Split(s, "\n") {
			if name, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Authorization") {
				found = append(found, strings.TrimSpace(v))
			}
		}
		switch len(found) {
		case 0:
			return "", errors.New("the capture has several lines but no Authorization header")
		case 1:
			return found[0], nil
		}
		return "", fmt.Errorf("the capture has %d Authorization headers; keep one", len(found))
	}
	if name, v, ok := strings.Cut(s, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Authorization") {
		return strings.TrimSpace(v), nil
	}
	return s, nil
}
