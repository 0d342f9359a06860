// Package testhttp has the http.Get, http.Post and http.PostForm shortcuts
// with a context, for tests: a request of a test ends with the test
// (t.Context()) instead of running on after it.
package testhttp

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Get is http.Get with ctx.
func Get(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return http.DefaultClient.Do(req)
}

// Post is http.Post with ctx.
func Post(ctx context.Context, url, contentType string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	return http.DefaultClient.Do(req)
}

// PostForm is http.PostForm with ctx.
func PostForm(ctx context.Context, url string, data url.Values) (*http.Response, error) {
	return Post(ctx, url, "application/x-www-form-urlencoded", strings.NewReader(data.Encode()))
}
