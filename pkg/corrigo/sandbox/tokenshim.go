package sandbox

// TEMPORARY: a local token issuer in CorrigoPro's format until
// corrigo.TokenIssuer / corrigo.GenerateCertificate land (contracts.md).

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"time"
)

type localIssuer struct {
	key *rsa.PrivateKey
	now func() time.Time
}

func newIssuer(key *rsa.PrivateKey, now func() time.Time) issuer {
	return &localIssuer{key: key, now: now}
}

func (i *localIssuer) Issue(name, audience string, lifetime time.Duration) (string, error) {
	const nameType = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	claim := func(typ, v string) map[string]string {
		return map[string]string{"Type": typ, "Value": v, "ValueType": "http://www.w3.org/2001/XMLSchema#string", "Issuer": "LOCAL AUTHORITY", "OriginalIssuer": "LOCAL AUTHORITY"}
	}
	now := i.now().UTC()
	ticket := map[string]any{
		"AuthenticationType": "Bearer",
		"NameClaimType":      nameType,
		"RoleClaimType":      nameType,
		"Claims":             []any{claim(nameType, name), claim("urn:oauth:scope", ""), claim("Aud", audience)},
		"Properties": map[string]any{"Dictionary": map[string]string{
			".issued":  now.Format(time.RFC1123),
			".expires": now.Add(lifetime).Format(time.RFC1123),
		}},
	}
	js, err := json.Marshal(ticket)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(js)
	if err := zw.Close(); err != nil {
		return "", err
	}
	data := buf.Bytes()
	sum := sha256.Sum256(data)
	sig, err := rsa.SignPKCS1v15(rand.Reader, i.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(data) + "<---->" + enc.EncodeToString(sig), nil
}

func generateCertificate(cn string, validFor time.Duration) (*rsa.PrivateKey, []byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
