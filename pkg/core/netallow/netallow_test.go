package netallow

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      []string
		wantErr string
		in4     []string // addresses inside
		out     []string // addresses outside
	}{
		{in: []string{"10.0.0.0/8", "2001:db8::/32", "203.0.113.7"},
			in4: []string{"10.1.2.3", "2001:db8::5", "203.0.113.7", "::ffff:10.9.9.9"},
			out: []string{"11.0.0.1", "2001:db9::1", "203.0.113.8", "::1"}},
		{in: []string{"0.0.0.0/0"}, in4: []string{"1.2.3.4", "::ffff:1.2.3.4"}, out: []string{"::1"}},
		{in: []string{"10.0.0.1/8"}, wantErr: "host bits are set; did you mean 10.0.0.0/8"},
		{in: []string{"10.0.0.0/33"}, wantErr: "not a CIDR prefix"},
		{in: []string{"example.com"}, wantErr: "not an IP address"},
		{in: []string{"fe80::1%eth0"}, wantErr: "not an IP address"},
		{in: []string{" "}, wantErr: "entry 0 is empty"},
		{in: nil, out: []string{"127.0.0.1"}},
	}
	for _, tc := range cases {
		l, err := Parse(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.in, err)
		}
		for _, a := range tc.in4 {
			if !l.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%s: %s should be inside", l, a)
			}
		}
		for _, a := range tc.out {
			if l.Contains(netip.MustParseAddr(a)) {
				t.Errorf("%s: %s should be outside", l, a)
			}
		}
	}
}

func TestClientAddr(t *testing.T) {
	proxies := MustParse("10.0.0.0/8", "fd00::/8")
	cases := []struct {
		name    string
		remote  string
		xff     []string
		trusted List
		want    string // "" = not ok
	}{
		{name: "direct", remote: "203.0.113.7:4000", want: "203.0.113.7"},
		{name: "direct, header ignored without trusted proxies", remote: "203.0.113.7:4000", xff: []string{"198.51.100.1"}, want: "203.0.113.7"},
		{name: "untrusted peer's header ignored", remote: "203.0.113.7:4000", xff: []string{"10.0.0.1"}, trusted: proxies, want: "203.0.113.7"},
		{name: "one trusted proxy", remote: "10.0.0.5:4000", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "client-written entries left of the real one", remote: "10.0.0.5:4000", xff: []string{"1.1.1.1, 198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "two trusted proxies", remote: "10.0.0.5:4000", xff: []string{"198.51.100.1, 10.0.0.9"}, trusted: proxies, want: "198.51.100.1"},
		{name: "several header lines", remote: "10.0.0.5:4000", xff: []string{"6.6.6.6", "198.51.100.1", "10.0.0.9"}, trusted: proxies, want: "198.51.100.1"},
		{name: "entry with a port", remote: "10.0.0.5:4000", xff: []string{"198.51.100.1:5555"}, trusted: proxies, want: "198.51.100.1"},
		{name: "ipv6 entry with a port", remote: "[fd00::1]:4000", xff: []string{"[2001:db8::7]:5555"}, trusted: proxies, want: "2001:db8::7"},
		{name: "mapped peer", remote: "[::ffff:10.0.0.5]:4000", xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "proxy without header", remote: "10.0.0.5:4000", trusted: proxies, want: "10.0.0.5"},
		{name: "all hops trusted", remote: "10.0.0.5:4000", xff: []string{"10.1.1.1, 10.2.2.2"}, trusted: proxies, want: "10.1.1.1"},
		{name: "garbage entry from a proxy", remote: "10.0.0.5:4000", xff: []string{"evil, 198.51.100.1, nonsense"}, trusted: proxies},
		{name: "empty entry", remote: "10.0.0.5:4000", xff: []string{"198.51.100.1,"}, trusted: proxies},
		{name: "too many hops", remote: "10.0.0.5:4000", xff: []string{strings.Repeat("10.0.0.1,", 40) + "10.0.0.1"}, trusted: proxies},
		{name: "bad RemoteAddr", remote: "nonsense"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, ok := ClientAddr(r, tc.trusted)
			if tc.want == "" {
				if ok {
					t.Fatalf("got %s, want not ok", got)
				}
				return
			}
			if !ok || got != netip.MustParseAddr(tc.want) {
				t.Fatalf("got %s %v, want %s", got, ok, tc.want)
			}
		})
	}
}

// FuzzClientAddr: X-Forwarded-For and RemoteAddr are outside input; no
// value panics, and an address the function returns is either the peer
// or an entry of the header, never an address a trusted proxy is in when
// an untrusted entry exists to its right.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.5:4000", "198.51.100.1, 10.0.0.9")
	f.Add("203.0.113.7:1", "1.1.1.1")
	f.Add("[fd00::1]:4000", "[2001:db8::7]:5555,,")
	f.Add("10.0.0.5:4000", strings.Repeat("10.0.0.1,", 50))
	f.Add("x", "\x00")
	trusted := MustParse("10.0.0.0/8", "fd00::/8")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		a, ok := ClientAddr(r, trusted)
		if !ok {
			return
		}
		if !a.IsValid() {
			t.Fatalf("ok with an invalid address for %q %q", remote, xff)
		}
		peer, _ := parseHostPort(remote)
		if a != peer && !strings.Contains(xff, strings.TrimPrefix(a.String(), "::ffff:")) && !strings.Contains(strings.ToLower(xff), a.String()) {
			// An address from the header appears in it (modulo
			// normalisation, which only shortens IPv6 forms).
			if a.Is4() {
				t.Fatalf("address %s is neither the peer nor in the header %q", a, xff)
			}
		}
	})
}
