package corrigo_test

import (
	"fmt"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// A webhook endpoint builds one Verifier from the certificate downloaded
// from CorrigoPro Desktop and checks each request's Authorization header.
// Here the sandbox side (TokenIssuer) mints the token.
func ExampleVerifier() {
	key, certPEM, err := corrigo.GenerateCertificate("CorrigoPro sandbox", 24*time.Hour)
	if err != nil {
		panic(err)
	}
	token, err := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{}).Issue("CorrigoPro", "", 0)
	if err != nil {
		panic(err)
	}

	v, err := corrigo.NewVerifier(certPEM, corrigo.VerifyOptions{})
	if err != nil {
		panic(err)
	}
	res, err := v.VerifyToken("Bearer " + token)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Ticket.Audience(), res.Combination(), res.Expires.Sub(res.Issued))

	_, err = v.Verify("h" + token[1:]) // tampered: "H4sI…" became "h4sI…"
	fmt.Println(corrigo.ReasonOf(err))
	// Output:
	// CorrigoProDirect SHA-256/decoded 20m0s
	// bad_signature
}
