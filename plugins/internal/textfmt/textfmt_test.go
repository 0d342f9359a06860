package textfmt

import (
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

func TestFormatValue(t *testing.T) {
	var nilTime *corrigo.Time
	for _, c := range []struct {
		in   any
		want string
	}{
		{nil, ""}, {corrigo.Time{}, ""}, {nilTime, ""}, {int64(5), "5"}, {float64(1) / 3, "0.3333333333333333"},
		{1e21, "1000000000000000000000"}, {corrigo.StatusPaused, "Paused"}, {[]string{"a"}, `["a"]`},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), "2024-01-02T02:04:05Z"},
	} {
		if got := Value(c.in); got != c.want {
			t.Errorf("Value(%#v) = %q, want %q", c.in, got, c.want)
		}
	}
}
