package corrigo

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" //nolint:gosec // G505: register SHA-1 for crypto.SHA1.New: CorrigoPro may sign with it (API.md §6.2)
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// This file holds the CorrigoPro token format (API.md §6.1) and the issuer
// the sandbox uses to mint tokens in that format. A token is
//
//	base64url(data) + "<---->" + base64url(signature)
//
// where data is the JSON ticket, gzip-compressed in the documented examples
// ("H4sI…") and plain in the one real token published ("eyJ…"), and the
// signature is RSA over bytes whose definition CorrigoPro has not published
// (API.md §6.2): see SignedBytes.

// TokenSeparator splits a token's data segment from its signature segment.
const TokenSeparator = "<---->"

// DefaultAudience is the audience claim of CorrigoPro Direct tokens.
const DefaultAudience = "CorrigoProDirect"

// DefaultTokenLifetime is CorrigoPro's token lifetime: 20 minutes
// (expires_in 1199, API.md §6.1).
const DefaultTokenLifetime = 20 * time.Minute

// SignedBytes names which bytes a token signature covers. CorrigoPro's
// choice is not confirmed (API.md §6.2), so both the issuer and the verifier
// make it configurable.
type SignedBytes string

const (
	// SignedDecoded: the base64-decoded data segment, i.e. the gzip stream
	// (or plain JSON) as transmitted. The default: it is what
	// RSACryptoServiceProvider.SignData over the payload would produce.
	SignedDecoded SignedBytes = "decoded"
	// SignedSegment: the ASCII of the data segment exactly as received,
	// before base64 decoding.
	SignedSegment SignedBytes = "segment"
	// SignedGunzipped: the JSON ticket bytes after decompression. Verifying
	// this way means inflating unauthenticated data first (bounded).
	SignedGunzipped SignedBytes = "gunzipped"
)

// AllSignedBytes lists every SignedBytes value.
var AllSignedBytes = []SignedBytes{SignedDecoded, SignedSegment, SignedGunzipped}

// ParseSignedBytes reads a SignedBytes name as written in configuration.
func ParseSignedBytes(s string) (SignedBytes, error) {
	switch sb := SignedBytes(strings.ToLower(strings.TrimSpace(s))); sb {
	case SignedDecoded, SignedSegment, SignedGunzipped:
		return sb, nil
	}
	return "", fmt.Errorf("unknown signed bytes %q (want decoded, segment or gunzipped)", s)
}

// ParseHash reads a hash name as written in configuration: "sha256",
// "SHA-256", "sha1", "sha384", "sha512" (case and dashes do not matter).
func ParseHash(s string) (crypto.Hash, error) {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "") {
	case "sha1":
		return crypto.SHA1, nil
	case "sha256":
		return crypto.SHA256, nil
	case "sha384":
		return crypto.SHA384, nil
	case "sha512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("unknown hash %q (want sha256, sha1, sha384 or sha512)", s)
}

// supportedHash reports whether h may be used for token signatures.
func supportedHash(h crypto.Hash) bool {
	switch h {
	case crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return true
	}
	return false
}

// IssuerOptions configure a TokenIssuer. The zero value issues tokens the way
// API.md §6.2 recommends the emulator should: gzip-compressed ticket, no
// base64 padding, RSA PKCS#1 v1.5 with SHA-256 over the decoded data bytes.
type IssuerOptions struct {
	// Hash is the signature hash; 0 means SHA-256.
	Hash crypto.Hash
	// SignedBytes is what the signature covers; "" means SignedDecoded.
	SignedBytes SignedBytes
	// NoGzip leaves the ticket JSON uncompressed (the "eyJ…" form).
	NoGzip bool
	// Padding keeps the base64 "=" padding on both segments.
	Padding bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// TokenIssuer mints tokens in CorrigoPro's format with an RSA key. The
// sandbox uses it for OAuth access tokens and webhook bearer tokens; tests
// use it to produce every variant the verifier must handle. It is safe for
// concurrent use.
type TokenIssuer struct {
	key  *rsa.PrivateKey
	opts IssuerOptions
}

// NewTokenIssuer returns an issuer signing with key. Invalid options (an
// unsupported hash or signed-bytes name) make Issue fail, naming the option.
func NewTokenIssuer(key *rsa.PrivateKey, opts IssuerOptions) *TokenIssuer {
	if opts.Hash == 0 {
		opts.Hash = crypto.SHA256
	}
	if opts.SignedBytes == "" {
		opts.SignedBytes = SignedDecoded
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &TokenIssuer{key: key, opts: opts}
}

// Issue mints a token for name (the OAuth client id, say) and audience (""
// means DefaultAudience), valid from now for lifetime (0 means
// DefaultTokenLifetime; a negative lifetime yields an already expired token,
// which tests want).
func (i *TokenIssuer) Issue(name, audience string, lifetime time.Duration) (string, error) {
	if audience == "" {
		audience = DefaultAudience
	}
	if lifetime == 0 {
		lifetime = DefaultTokenLifetime
	}
	return i.IssueTicket(NewTicket(name, audience, i.opts.Now(), lifetime))
}

// IssueTicket mints a token carrying t as is, for callers that need claims
// or properties Issue does not set.
func (i *TokenIssuer) IssueTicket(t *Ticket) (string, error) {
	js, err := json.Marshal(t)
	if err != nil {
		return "", fmt.Errorf("encode ticket: %w", err)
	}
	data := js
	if !i.opts.NoGzip {
		if data, err = gzipTicket(js); err != nil {
			return "", err
		}
	}
	return i.Sign(data)
}

// Sign mints a token whose data segment is exactly data (already compressed
// or not: Sign does not gzip), signed per the issuer's options. Tests use it
// to sign malformed payloads; the verifier must still reject those.
func (i *TokenIssuer) Sign(data []byte) (string, error) {
	if i.key == nil {
		return "", errors.New("token issuer has no key")
	}
	if !supportedHash(i.opts.Hash) {
		return "", fmt.Errorf("token issuer: unsupported hash %v", i.opts.Hash)
	}
	enc := base64.RawURLEncoding
	if i.opts.Padding {
		enc = base64.URLEncoding
	}
	segment := enc.EncodeToString(data)
	var signed []byte
	switch i.opts.SignedBytes {
	case SignedDecoded:
		signed = data
	case SignedSegment:
		signed = []byte(segment)
	case SignedGunzipped:
		if bytes.HasPrefix(data, gzipMagic) {
			var err error
			if signed, err = gunzipBounded(data, defaultMaxInflated); err != nil {
				return "", fmt.Errorf("token issuer: %w", err)
			}
		} else {
			signed = data
		}
	default:
		return "", fmt.Errorf("token issuer: unknown signed bytes %q", i.opts.SignedBytes)
	}
	h := i.opts.Hash.New()
	h.Write(signed)
	sig, err := rsa.SignPKCS1v15(rand.Reader, i.key, i.opts.Hash, h.Sum(nil))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return segment + TokenSeparator + enc.EncodeToString(sig), nil
}

// gzipMagic starts every gzip stream ("H4sI" once base64-encoded).
var gzipMagic = []byte{0x1f, 0x8b}

// gzipTicket compresses a ticket the way .NET's GZipStream does, down to the
// header bytes 1f 8b 08 00 00000000 04 00 seen in the documented tokens
// (no name, no mtime, "fastest" flag, OS 0).
func gzipTicket(js []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, fmt.Errorf("gzip ticket: %w", err)
	}
	zw.OS = 0
	if _, err := zw.Write(js); err != nil {
		return nil, fmt.Errorf("gzip ticket: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip ticket: %w", err)
	}
	return buf.Bytes(), nil
}

// errBase64 describes why a segment is not base64.
var errBase64 = errors.New("not base64")

// decodeTokenSegment decodes a token segment written in base64url or
// standard base64, with or without "=" padding. It is strict otherwise:
// characters outside the two alphabets (including whitespace, which Go's
// decoder would silently skip), misplaced padding and non-zero trailing bits
// are errors, so that one byte string has only a few spellings.
func decodeTokenSegment(s string) ([]byte, error) {
	body := strings.TrimRight(s, "=")
	pad := len(s) - len(body)
	if pad > 2 || (pad > 0 && len(s)%4 != 0) {
		return nil, fmt.Errorf("%w: bad padding", errBase64)
	}
	var buf []byte // translated copy, made only when the std alphabet is used
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '+' || c == '/':
			if buf == nil {
				buf = []byte(body)
			}
			if c == '+' {
				buf[i] = '-'
			} else {
				buf[i] = '_'
			}
		default:
			return nil, fmt.Errorf("%w: invalid character at offset %d", errBase64, i)
		}
	}
	if buf != nil {
		body = string(buf)
	}
	out, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBase64, err)
	}
	return out, nil
}
