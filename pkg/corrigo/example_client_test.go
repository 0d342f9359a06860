package corrigo_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Example runs the client against a tiny stand-in for CorrigoPro: a token
// endpoint and GET api/customers.
func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /OAuth/Token", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"access_token":"H4sI-example<---->sig","token_type":"bearer","expires_in":1199}`)
	})
	mux.HandleFunc("GET /Direct/api/customers", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer H4sI-example<---->sig" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, `{"Customers":[{"BranchIds":[101138],"Id":100160,"Name":"APAC Demo"}],"MessageId":%q}`, r.URL.Query().Get("messageId"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, err := corrigo.NewClient(corrigo.Config{
		BaseURL:         srv.URL + "/Direct/", // or Region: corrigo.RegionAM
		OAuthURL:        srv.URL + "/OAuth/Token",
		ClientID:        "my-client",
		ClientSecret:    "my-secret",
		MessageIDPrefix: "acme-",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	customers, err := c.Customers(context.Background())
	if err != nil {
		fmt.Println(corrigo.ClassOf(err), err)
		return
	}
	for _, cu := range customers {
		fmt.Println(cu.Id, cu.Name, cu.BranchIds)
	}
	// Output: 100160 APAC Demo [101138]
}
