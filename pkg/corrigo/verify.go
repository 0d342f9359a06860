package corrigo

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// This file verifies CorrigoPro webhook bearer tokens (API.md §6). The
// signature algorithm is not confirmed (§6.2), so the verifier tries a
// configurable list of hashes and signed-byte definitions, reports which
// combination verified, and lets the operator pin it. docs/webhook-tokens.md
// explains the choices.

// VerifyReason is the machine-readable reason a token was refused. Each
// failure has its own reason so operators can tell a clock problem from a
// wrong certificate from an attack in logs and metrics.
type VerifyReason string

// Verification failure reasons.
const (
	ReasonMissingToken  VerifyReason = "missing_token"  // no token, or "Bearer" with nothing after it
	ReasonMalformed     VerifyReason = "malformed"      // not data<---->signature, empty segment, or too long
	ReasonBadBase64     VerifyReason = "bad_base64"     // a segment is not base64/base64url
	ReasonBadSignature  VerifyReason = "bad_signature"  // no configured key/hash/bytes combination verifies
	ReasonBadGzip       VerifyReason = "bad_gzip"       // gzip data is corrupt or inflates beyond the limit
	ReasonBadJSON       VerifyReason = "bad_json"       // data is not a ticket JSON object, or .issued is unreadable
	ReasonExpired       VerifyReason = "expired"        // .expires is in the past (beyond the clock skew)
	ReasonNotYetValid   VerifyReason = "not_yet_valid"  // .issued is in the future (beyond the clock skew)
	ReasonWrongAudience VerifyReason = "wrong_audience" // no Aud claim equals the expected audience
	ReasonMissingExpiry VerifyReason = "missing_expiry" // .expires is absent or unreadable
	ReasonWrongName     VerifyReason = "wrong_name"     // the name claim is not one of VerifyOptions.Names
	// ReasonNotWebhookToken: the ticket is one the verifier was told is
	// not a webhook token (VerifyOptions.RefuseNames: the name claim is
	// an OAuth client id, so it is an API access token).
	ReasonNotWebhookToken VerifyReason = "not_webhook_token"
)

// AllVerifyReasons lists every reason, for metrics label sets and docs.
var AllVerifyReasons = []VerifyReason{
	ReasonMissingToken, ReasonMalformed, ReasonBadBase64, ReasonBadSignature, ReasonBadGzip,
	ReasonBadJSON, ReasonExpired, ReasonNotYetValid, ReasonWrongAudience, ReasonMissingExpiry,
	ReasonWrongName, ReasonNotWebhookToken,
}

// VerifyError is the error of every failed verification. Its message is
// safe to log: it never contains the token, the ticket's name claim or key
// material, only the reason and what was checked.
type VerifyError struct {
	Reason VerifyReason
	Err    error
}

func (e *VerifyError) Error() string {
	if e.Err == nil {
		return "webhook token rejected: " + string(e.Reason)
	}
	return "webhook token rejected: " + string(e.Reason) + ": " + e.Err.Error()
}

func (e *VerifyError) Unwrap() error { return e.Err }

// ReasonOf returns the reason of a *VerifyError anywhere in err's chain, or
// "" when err is not one.
func ReasonOf(err error) VerifyReason {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return ""
}

func verr(r VerifyReason, format string, args ...any) *VerifyError {
	return &VerifyError{Reason: r, Err: fmt.Errorf(format, args...)}
}

// Verifier defaults.
const (
	// AudienceAny disables the audience check when given as
	// VerifyOptions.Audience.
	AudienceAny = "-"
	// DefaultClockSkew is how far the token's instants may be off from the
	// local clock.
	DefaultClockSkew = 2 * time.Minute
	// DefaultMaxTokenBytes bounds the token length. Real tokens are well
	// under 2 KiB.
	DefaultMaxTokenBytes = 64 << 10
	// defaultMaxInflated bounds decompression: a gzip bomb stops here.
	defaultMaxInflated = 1 << 20
)

// DefaultHashes is the hash order tried when VerifyOptions.Hashes is empty.
var DefaultHashes = []crypto.Hash{crypto.SHA256, crypto.SHA1}

// VerifyOptions configure a Verifier. The zero value verifies the way
// API.md §6.2 recommends: RSA PKCS#1 v1.5, SHA-256 then SHA-1, over the
// decoded data bytes, audience "CorrigoProDirect", two minutes of clock skew.
type VerifyOptions struct {
	// Hashes are tried in order; empty means DefaultHashes. Once the
	// operator knows which one CorrigoPro uses, pinning it to one entry
	// halves the cost of a forged token.
	Hashes []crypto.Hash
	// SignedBytes are tried in order (outer loop, before Hashes); empty
	// means only SignedDecoded. SignedGunzipped inflates unauthenticated
	// data before checking it (bounded by MaxInflatedBytes): enable it only
	// to discover the algorithm.
	SignedBytes []SignedBytes
	// Audience is the required "Aud" claim; "" means DefaultAudience and
	// AudienceAny ("-") disables the check.
	Audience string
	// ClockSkew is the tolerance for .expires and .issued; 0 means
	// DefaultClockSkew, a negative value means none.
	ClockSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxTokenBytes bounds the token's length; 0 means DefaultMaxTokenBytes.
	MaxTokenBytes int
	// MaxInflatedBytes bounds the decompressed ticket; 0 means 1 MiB.
	MaxInflatedBytes int64
	// Names, when not empty, pins the ticket's name claim (Ticket.Name):
	// a token whose name is none of them is refused with ReasonWrongName.
	// Compared exactly. CorrigoPro's webhook tokens carry a name the
	// published sample redacts [I]; pin the value your tokens carry.
	Names []string
	// RefuseNames are name claims that mark a ticket as something other
	// than a webhook token, refused with ReasonNotWebhookToken. An OAuth
	// access token from /OAuth/Token carries the client id as its name,
	// so passing the client ids of the API clients refuses access tokens
	// sent as webhook bearers. Compared case-insensitively.
	RefuseNames []string
}

// combo is one signature scheme the verifier tries.
type combo struct {
	hash  crypto.Hash
	bytes SignedBytes
	count atomic.Uint64
}

// Verifier checks CorrigoPro tokens against one or more RSA public keys. It
// is immutable after NewVerifier except for its counters, so Verify is safe
// for concurrent use.
type Verifier struct {
	keys        []*rsa.PublicKey
	combos      []*combo
	needGunzip  bool // a SignedGunzipped combo is configured
	audience    string
	skew        time.Duration
	names       map[string]bool
	refuse      []string
	now         func() time.Time
	maxToken    int
	maxInflated int64
}

// NewVerifier builds a verifier from the CorrigoPro webhook certificate as
// downloaded from CorrigoPro Desktop (PEM). CERTIFICATE, PUBLIC KEY and RSA
// PUBLIC KEY blocks are accepted, several of them for key rotation (a token
// verifying with any one is accepted); a DER certificate is accepted too.
// The keys are parsed once, here.
func NewVerifier(certPEM []byte, opts VerifyOptions) (*Verifier, error) {
	keys, err := parseRSAPublicKeys(certPEM)
	if err != nil {
		return nil, fmt.Errorf("webhook certificate: %w", err)
	}
	v := &Verifier{
		keys:        keys,
		audience:    opts.Audience,
		skew:        opts.ClockSkew,
		now:         opts.Now,
		maxToken:    opts.MaxTokenBytes,
		maxInflated: opts.MaxInflatedBytes,
	}
	for _, n := range opts.Names {
		if v.names == nil {
			v.names = map[string]bool{}
		}
		v.names[n] = true
	}
	for _, n := range opts.RefuseNames {
		if n != "" {
			v.refuse = append(v.refuse, n)
		}
	}
	if v.audience == "" {
		v.audience = DefaultAudience
	}
	switch {
	case v.skew == 0:
		v.skew = DefaultClockSkew
	case v.skew < 0:
		v.skew = 0
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxToken <= 0 {
		v.maxToken = DefaultMaxTokenBytes
	}
	if v.maxInflated <= 0 {
		v.maxInflated = defaultMaxInflated
	}
	hashes := opts.Hashes
	if len(hashes) == 0 {
		hashes = DefaultHashes
	}
	for _, h := range hashes {
		if !supportedHash(h) || !h.Available() {
			return nil, fmt.Errorf("webhook verifier: unsupported hash %v (want SHA-1, SHA-256, SHA-384 or SHA-512)", h)
		}
	}
	sbs := opts.SignedBytes
	if len(sbs) == 0 {
		sbs = []SignedBytes{SignedDecoded}
	}
	for _, sb := range sbs {
		switch sb {
		case SignedDecoded, SignedSegment:
		case SignedGunzipped:
			v.needGunzip = true
		default:
			return nil, fmt.Errorf("webhook verifier: unknown signed bytes %q (want decoded, segment or gunzipped)", sb)
		}
		for _, h := range hashes {
			v.combos = append(v.combos, &combo{hash: h, bytes: sb})
		}
	}
	return v, nil
}

// VerifyResult is a verified token: the ticket and how it verified.
type VerifyResult struct {
	Ticket *Ticket
	// Hash and SignedBytes are the combination that verified. Operators
	// pin them (VerifyOptions.Hashes / SignedBytes) once they are known.
	Hash        crypto.Hash
	SignedBytes SignedBytes
	// Key is the index of the key (PEM block order) that verified.
	Key int
	// Gzipped says whether the data segment was gzip-compressed.
	Gzipped bool
	// Issued (zero when absent) and Expires are the ticket's instants.
	Issued, Expires time.Time
	// AcceptedUntil is the first instant this Verifier refuses the token
	// as expired: Expires plus the clock skew it tolerates. A cache of
	// verified tokens keeps one until then, not until Expires, or a token
	// in its last minutes would pay the full check on every request.
	AcceptedUntil time.Time
}

// Combination names the verified scheme, e.g. "SHA-256/decoded".
func (r *VerifyResult) Combination() string {
	return r.Hash.String() + "/" + string(r.SignedBytes)
}

// Verify checks a token and returns its ticket. token may carry a "Bearer "
// prefix. Every error is a *VerifyError.
func (v *Verifier) Verify(token string) (*Ticket, error) {
	r, err := v.VerifyToken(token)
	if err != nil {
		return nil, err
	}
	return r.Ticket, nil
}

// Check adapts Verify to the webhook endpoint's func(token) (reason, error)
// shape: on failure reason is the VerifyReason as a string.
func (v *Verifier) Check(token string) (string, error) {
	if _, err := v.VerifyToken(token); err != nil {
		return string(ReasonOf(err)), err
	}
	return "", nil
}

// VerifyToken checks a token and reports how it verified. The steps, in
// order: strip "Bearer ", split on "<---->", base64-decode both segments,
// check the RSA signature, and only then inflate and parse the ticket and
// check its expiry, issue time and audience. Nothing unauthenticated is
// parsed, except that a SignedGunzipped combination must inflate (bounded)
// to know what was signed.
func (v *Verifier) VerifyToken(token string) (*VerifyResult, error) {
	dataSeg, data, sig, err := splitToken(token, v.maxToken)
	if err != nil {
		return nil, err
	}
	// A signature is exactly as long as the modulus. Checking that first is
	// free, while crypto/rsa rebuilds the key's Montgomery parameters on
	// every call before it looks at the length.
	if !v.sizeMatches(len(sig)) {
		return nil, verr(ReasonBadSignature, "signature is %d bytes, the certificate's key needs %d", len(sig), v.keys[0].Size())
	}
	gzipped := bytes.HasPrefix(data, gzipMagic)

	// The gunzipped form is needed before the signature check only when a
	// SignedGunzipped combination is configured.
	var plain []byte
	var plainErr error
	if v.needGunzip {
		plain, plainErr = v.plainTicket(data, gzipped)
	}

	res := &VerifyResult{Gzipped: gzipped, Key: -1}
	var lastBytes SignedBytes
	var signed []byte
	for _, c := range v.combos {
		if c.bytes != lastBytes {
			lastBytes = c.bytes
			switch c.bytes {
			case SignedDecoded:
				signed = data
			case SignedSegment:
				signed = []byte(dataSeg)
			case SignedGunzipped:
				signed = plain // nil when inflating failed: that combo cannot verify
			}
		}
		if signed == nil {
			continue
		}
		h := c.hash.New()
		h.Write(signed)
		digest := h.Sum(nil)
		for i, k := range v.keys {
			if len(sig) != k.Size() {
				continue
			}
			if rsa.VerifyPKCS1v15(k, c.hash, digest, sig) == nil {
				res.Hash, res.SignedBytes, res.Key = c.hash, c.bytes, i
				c.count.Add(1)
				break
			}
		}
		if res.Key >= 0 {
			break
		}
	}
	if res.Key < 0 {
		if plainErr != nil && v.needGunzip && len(v.combos) > 0 {
			// Say why the gunzipped combinations could not be tried, without
			// giving up the reason: the signature is what failed.
			return nil, verr(ReasonBadSignature, "no combination of %s verifies (gunzipped bytes unavailable: %v)", v.describe(), plainErr)
		}
		return nil, verr(ReasonBadSignature, "no combination of %s verifies", v.describe())
	}

	// Authenticated from here on.
	if plain == nil {
		if plain, err = v.plainTicket(data, gzipped); err != nil {
			return nil, err
		}
	}
	t, err := parseTicket(plain)
	if err != nil {
		return nil, err
	}
	res.Ticket = t
	if err := v.checkTicket(t, res); err != nil {
		return nil, err
	}
	return res, nil
}

// plainTicket returns the ticket JSON bytes: data itself, or data inflated.
// Errors are *VerifyError.
func (v *Verifier) plainTicket(data []byte, gzipped bool) ([]byte, error) {
	if !gzipped {
		return data, nil
	}
	out, err := gunzipBounded(data, v.maxInflated)
	if err != nil {
		return nil, &VerifyError{Reason: ReasonBadGzip, Err: err}
	}
	return out, nil
}

// parseTicket decodes ticket JSON. Errors are *VerifyError.
func parseTicket(js []byte) (*Ticket, error) {
	js = bytes.TrimPrefix(js, []byte("\xef\xbb\xbf")) // a UTF-8 BOM, should a serializer add one
	trimmed := bytes.TrimLeft(js, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, verr(ReasonBadJSON, "data is neither gzip nor a JSON object")
	}
	var t Ticket
	if err := json.Unmarshal(trimmed, &t); err != nil {
		return nil, verr(ReasonBadJSON, "ticket: %w", err)
	}
	return &t, nil
}

// checkTicket applies the time and audience rules and fills res's instants.
func (v *Verifier) checkTicket(t *Ticket, res *VerifyResult) error {
	now := v.now()
	exp, err := t.Expires()
	if err != nil {
		return &VerifyError{Reason: ReasonMissingExpiry, Err: err}
	}
	res.Expires = exp
	res.AcceptedUntil = exp.Add(v.skew)
	if !exp.After(now.Add(-v.skew)) {
		return verr(ReasonExpired, "expired at %s, now %s (clock skew %s)",
			exp.Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.skew)
	}
	iss, err := t.Issued()
	switch {
	case errors.Is(err, ErrNoTicketTime):
		// .issued is optional: expiry bounds the token on its own.
	case err != nil:
		return &VerifyError{Reason: ReasonBadJSON, Err: err}
	default:
		res.Issued = iss
		if iss.After(now.Add(v.skew)) {
			return verr(ReasonNotYetValid, "issued at %s, now %s (clock skew %s)",
				iss.Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.skew)
		}
	}
	if v.audience != AudienceAny {
		auds := t.Audiences()
		found := false
		for _, a := range auds {
			found = found || a == v.audience
		}
		switch {
		case len(auds) == 0:
			return verr(ReasonWrongAudience, "ticket has no Aud claim, want %q", v.audience)
		case !found:
			return verr(ReasonWrongAudience, "audience %q, want %q", truncateForLog(strings.Join(auds, ","), 80), v.audience)
		}
	}
	// The name claim is an identity: the messages say what was checked,
	// never the value.
	name := t.Name()
	for _, n := range v.refuse {
		if strings.EqualFold(name, n) {
			return verr(ReasonNotWebhookToken, "the ticket's name is the client id of an API client: an OAuth access token, not a webhook token")
		}
	}
	if v.names != nil && !v.names[name] {
		return verr(ReasonWrongName, "the ticket's name claim is not one of the %d pinned names", len(v.names))
	}
	return nil
}

// sizeMatches reports whether some key produces signatures of n bytes.
func (v *Verifier) sizeMatches(n int) bool {
	for _, k := range v.keys {
		if k.Size() == n {
			return true
		}
	}
	return false
}

// describe lists the configured combinations for an error message.
func (v *Verifier) describe() string {
	var b strings.Builder
	for i, c := range v.combos {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.hash.String())
		b.WriteByte('/')
		b.WriteString(string(c.bytes))
	}
	fmt.Fprintf(&b, " with %d key(s)", len(v.keys))
	return b.String()
}

// CombinationCount is how many tokens one hash/signed-bytes combination has
// verified since the Verifier was built.
type CombinationCount struct {
	Hash        crypto.Hash
	SignedBytes SignedBytes
	Verified    uint64
}

// Combinations reports, in the order tried, how many tokens each configured
// combination verified. An operator running with several combinations reads
// this (or the logged VerifyResult.Combination) to learn which one
// CorrigoPro uses, then pins it.
func (v *Verifier) Combinations() []CombinationCount {
	out := make([]CombinationCount, len(v.combos))
	for i, c := range v.combos {
		out[i] = CombinationCount{Hash: c.hash, SignedBytes: c.bytes, Verified: c.count.Load()}
	}
	return out
}

// gzipReaders recycles gzip readers: each holds a 32 KiB window, and
// allocating one per webhook would dominate Verify's garbage.
var gzipReaders sync.Pool

// errInflateLimit marks a gzip stream that inflates beyond the limit.
var errInflateLimit = errors.New("inflates beyond the size limit")

// gunzipBounded inflates data, refusing output beyond limit bytes so that a
// small token cannot expand into a memory exhaustion (a gzip bomb). The gzip
// checksum is verified.
func gunzipBounded(data []byte, limit int64) ([]byte, error) {
	var zr *gzip.Reader
	if p, ok := gzipReaders.Get().(*gzip.Reader); ok {
		if err := p.Reset(bytes.NewReader(data)); err != nil {
			gzipReaders.Put(p)
			return nil, fmt.Errorf("gzip: %w", err)
		}
		zr = p
	} else {
		var err error
		if zr, err = gzip.NewReader(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	}
	defer gzipReaders.Put(zr)
	var buf bytes.Buffer
	buf.Grow(min(4*len(data)+512, int(limit)+1))
	n, err := buf.ReadFrom(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("gzip: %w (%d bytes)", errInflateLimit, limit)
	}
	return buf.Bytes(), nil
}

// splitToken strips an optional "Bearer " prefix, checks the token's size
// and shape (one "<---->" between two non-empty segments) and
// base64-decodes both segments; dataSeg is the data segment as sent (one
// of the byte strings a signature may cover). VerifyToken and InspectToken
// share it, so a token inspected is read exactly as the verifier reads it.
func splitToken(token string, limit int) (dataSeg string, data, sig []byte, err error) {
	token = strings.TrimSpace(token)
	if len(token) >= 6 && strings.EqualFold(token[:6], "bearer") && (len(token) == 6 || token[6] == ' ' || token[6] == '\t') {
		token = strings.TrimSpace(token[6:])
	}
	if token == "" {
		return "", nil, nil, &VerifyError{Reason: ReasonMissingToken, Err: errors.New("no token")}
	}
	if len(token) > limit {
		return "", nil, nil, verr(ReasonMalformed, "token is %d bytes, limit %d", len(token), limit)
	}
	dataSeg, sigSeg, ok := strings.Cut(token, TokenSeparator)
	if !ok {
		return "", nil, nil, verr(ReasonMalformed, "no %s separator", TokenSeparator)
	}
	if strings.Contains(sigSeg, TokenSeparator) {
		return "", nil, nil, verr(ReasonMalformed, "more than one %s separator", TokenSeparator)
	}
	if dataSeg == "" || sigSeg == "" {
		return "", nil, nil, verr(ReasonMalformed, "empty data or signature segment")
	}
	if data, err = decodeTokenSegment(dataSeg); err != nil {
		return "", nil, nil, verr(ReasonBadBase64, "data segment: %w", err)
	}
	if sig, err = decodeTokenSegment(sigSeg); err != nil {
		return "", nil, nil, verr(ReasonBadBase64, "signature segment: %w", err)
	}
	return dataSeg, data, sig, nil
}
