package corrigo

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// minRSABits is the smallest RSA key the verifier accepts. Go itself refuses
// smaller keys at verification time; refusing them when the certificate is
// loaded gives the operator a clear error at startup instead of every
// webhook failing with bad_signature.
const minRSABits = 1024

// GenerateCertificate creates a 2048-bit RSA key and a self-signed X.509
// certificate for it, valid from one minute ago for validFor (0 means one
// year). The sandbox signs its tokens with the key and serves the PEM
// certificate the way CorrigoPro Desktop offers its certificate for download.
func GenerateCertificate(commonName string, validFor time.Duration) (*rsa.PrivateKey, []byte, error) {
	if validFor <= 0 {
		validFor = 365 * 24 * time.Hour
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generate rsa key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("certificate serial: %w", err)
	}
	now := time.Now().Add(-time.Minute)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now,
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// ErrNoPublicKey is returned by NewVerifier when the input holds no usable
// certificate or public key.
var ErrNoPublicKey = errors.New("no certificate or public key found")

// parseRSAPublicKeys reads every RSA public key in a PEM file: CERTIFICATE,
// PUBLIC KEY (PKIX) and RSA PUBLIC KEY (PKCS#1) blocks. Several keys let an
// operator list the old and the new certificate while CorrigoPro rotates.
// Input without any PEM block is tried as one DER certificate, since Windows
// exports .cer files that way. Private keys are refused loudly: pasting one
// into a config file is a mistake worth stopping.
func parseRSAPublicKeys(in []byte) ([]*rsa.PublicKey, error) {
	var keys []*rsa.PublicKey
	rest := in
	sawPEM := false
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		sawPEM = true
		var (
			pub any
			err error
		)
		switch block.Type {
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d is a %s: give the certificate (public part) only, and keep the private key secret", n, block.Type)
		default:
			return nil, fmt.Errorf("PEM block %d has type %q: want CERTIFICATE or PUBLIC KEY", n, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		rk, err := checkRSAKey(pub)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		keys = append(keys, rk)
	}
	if !sawPEM && len(in) > 0 {
		cert, err := x509.ParseCertificate(in)
		if err != nil {
			return nil, fmt.Errorf("%w: input is neither PEM nor a DER certificate", ErrNoPublicKey)
		}
		rk, err := checkRSAKey(cert.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("DER certificate: %w", err)
		}
		keys = append(keys, rk)
	}
	if len(keys) == 0 {
		return nil, ErrNoPublicKey
	}
	return keys, nil
}

func checkRSAKey(pub any) (*rsa.PublicKey, error) {
	rk, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, want RSA", pub)
	}
	if bits := rk.N.BitLen(); bits < minRSABits {
		return nil, fmt.Errorf("RSA key has %d bits, want at least %d", bits, minRSABits)
	}
	return rk, nil
}
