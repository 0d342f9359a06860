// Package netallow decides whether a request's source address is allowed:
// a list of CIDR prefixes from the config, and the client address of a
// request that may have come through trusted reverse proxies.
//
// X-Forwarded-For is outside input: any client can send it. It is read
// only when the connection comes from a configured proxy, and only the
// part of it those proxies appended: walking from the right, every address
// that is itself a trusted proxy is skipped, and the first one that is not
// is the client. Entries left of it were written by the client and mean
// nothing.
package netallow

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// List is a set of address prefixes. The zero value matches nothing.
type List struct {
	prefixes []netip.Prefix
}

// Parse reads CIDR prefixes ("10.0.0.0/8", "2001:db8::/32") and single
// addresses ("203.0.113.7", a /32 or /128). Each entry's error names it.
func Parse(entries []string) (List, error) {
	var l List
	for i, e := range entries {
		s := strings.TrimSpace(e)
		if s == "" {
			return List{}, fmt.Errorf("entry %d is empty", i)
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return List{}, fmt.Errorf("entry %d (%q): not a CIDR prefix such as 203.0.113.0/24", i, s)
			}
			if p.Masked() != p {
				return List{}, fmt.Errorf("entry %d (%q): host bits are set; did you mean %s?", i, s, p.Masked())
			}
			l.prefixes = append(l.prefixes, p)
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return List{}, fmt.Errorf("entry %d (%q): not an IP address or CIDR prefix", i, s)
		}
		a = a.Unmap()
		l.prefixes = append(l.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return l, nil
}

// MustParse is Parse for tests and constants; it panics on an error.
func MustParse(entries ...string) List {
	l, err := Parse(entries)
	if err != nil {
		panic(err)
	}
	return l
}

// Empty reports whether the list has no prefix.
func (l List) Empty() bool { return len(l.prefixes) == 0 }

// Contains reports whether a is inside one of the prefixes. IPv4-mapped
// IPv6 addresses (::ffff:203.0.113.7) count as their IPv4 address.
func (l List) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// String lists the prefixes, for logs.
func (l List) String() string {
	s := make([]string, len(l.prefixes))
	for i, p := range l.prefixes {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// maxForwardedHops bounds the X-Forwarded-For entries examined: a header
// of thousands of addresses costs nothing more than this.
const maxForwardedHops = 32

// ClientAddr returns the address a request came from: its peer
// (RemoteAddr), or, when the peer is in trusted, the rightmost
// X-Forwarded-For entry that is not itself a trusted proxy. ok is false
// when the address cannot be told (a RemoteAddr that is not host:port, a
// proxy that sent a malformed or over-long header): callers refuse such
// requests.
func ClientAddr(r *http.Request, trusted List) (addr netip.Addr, ok bool) {
	peer, ok := parseHostPort(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if trusted.Empty() || !trusted.Contains(peer) {
		return peer, true
	}
	values := r.Header.Values("X-Forwarded-For")
	if len(values) == 0 {
		// The proxy itself is the client (a health check, say).
		return peer, true
	}
	// Join every header line; proxies may append a line rather than
	// extend the last one. Walk from the right.
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		parts := strings.Split(values[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hops++
			if hops > maxForwardedHops {
				return netip.Addr{}, false
			}
			a, ok := parseForwarded(parts[j])
			if !ok {
				return netip.Addr{}, false
			}
			if !trusted.Contains(a) {
				return a, true
			}
		}
	}
	// Every hop was a trusted proxy: the leftmost one is the origin.
	a, _ := parseForwarded(strings.Split(values[0], ",")[0])
	return a, true
}

// parseHostPort reads a RemoteAddr ("203.0.113.7:4000", "[::1]:80").
func parseHostPort(s string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// parseForwarded reads one X-Forwarded-For entry: an address, possibly
// with a port ("203.0.113.7:4000", "[2001:db8::1]:443") as some proxies
// write it.
func parseForwarded(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}
