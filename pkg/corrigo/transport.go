package corrigo

import (
	"net"
	"net/http"
	"time"
)

// Transport defaults. Go's http.DefaultTransport keeps only two idle
// connections per host; a gateway that talks to one CorrigoPro host from
// dozens of goroutines then closes and reopens connections on nearly every
// call, paying a TLS handshake each time and piling sockets up in TIME_WAIT
// until throughput collapses. These numbers keep a pool sized for that load.
const (
	DefaultMaxIdleConns          = 256
	DefaultMaxIdleConnsPerHost   = 128
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultDialTimeout           = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	// DefaultRequestTimeout bounds a whole exchange when the caller's
	// context has no deadline; it leaves room for a 20 MB attachment upload.
	DefaultRequestTimeout = 2 * time.Minute
)

// NewTransport returns the tuned *http.Transport the client uses by default.
// It honours HTTP(S)_PROXY from the environment.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          DefaultMaxIdleConns,
		MaxIdleConnsPerHost:   DefaultMaxIdleConnsPerHost,
		IdleConnTimeout:       DefaultIdleConnTimeout,
		TLSHandshakeTimeout:   DefaultTLSHandshakeTimeout,
		ResponseHeaderTimeout: DefaultResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
	}
}

// NewHTTPClient returns an *http.Client on NewTransport with
// DefaultRequestTimeout. No retries happen at this layer.
func NewHTTPClient() *http.Client {
	return &http.Client{Transport: NewTransport(), Timeout: DefaultRequestTimeout}
}
