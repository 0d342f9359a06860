package admin

import (
	"net/http"
	"testing"
	"time"
)

func TestLoginThrottleBackoff(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := newLoginThrottle(func() time.Time { return now })
	a := &http.Request{RemoteAddr: "203.0.113.7:5000"}
	other := &http.Request{RemoteAddr: "198.51.100.1:5000"}
	for i := range throttleFree {
		if th.blocked(a) != 0 {
			t.Fatalf("blocked after %d failures", i)
		}
		th.failed(a)
	}
	if th.blocked(a) != 0 {
		t.Fatal("blocked after the free failures")
	}
	// Each further failure doubles the block.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		th.failed(a)
		if got := th.blocked(a); got != want {
			t.Fatalf("failure %d: blocked %v, want %v", throttleFree+i+1, got, want)
		}
		now = now.Add(want)
		if th.blocked(a) != 0 {
			t.Fatal("still blocked after the wait")
		}
	}
	for range 20 {
		th.failed(a)
	}
	if got := th.blocked(a); got != throttleMaxBlock {
		t.Fatalf("blocked %v, want the cap %v", got, throttleMaxBlock)
	}
	if th.blocked(other) != 0 {
		t.Fatal("another address is blocked")
	}
	// A quiet spell forgets the record; a success clears it at once.
	now = now.Add(throttleMaxBlock + throttleForget + time.Second)
	th.failed(a)
	if th.blocked(a) != 0 {
		t.Fatal("a forgotten record still counts")
	}
	th.succeeded(a)
	if _, ok := th.addrs["203.0.113.7"]; ok {
		t.Fatal("success did not clear the record")
	}
}

// Many addresses (IPv6 makes them cheap) share one record beyond the cap,
// so the map is bounded and a spread-out attack is throttled as one.
func TestLoginThrottleBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := newLoginThrottle(func() time.Time { return now })
	for i := range throttleMaxAddrs + 100 {
		th.failed(&http.Request{RemoteAddr: "[2001:db8::" + itoaHex(i) + "]:1"})
	}
	if n := len(th.addrs); n > throttleMaxAddrs+1 {
		t.Fatalf("%d records, want at most %d", n, throttleMaxAddrs+1)
	}
	if rec := th.addrs[overflowAddr]; rec == nil || rec.failures != 100 {
		t.Fatalf("overflow record %+v", rec)
	}
}

func itoaHex(i int) string {
	const digits = "0123456789abcdef"
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 16 {
		b = append([]byte{digits[i%16]}, b...)
	}
	return string(b)
}
