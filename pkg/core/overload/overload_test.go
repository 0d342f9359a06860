package overload

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	l := Limits{MaxPendingEvents: 1000, MaxOldestPending: time.Hour, MinFreeDiskBytes: 1000, MaxStoreBytes: 10000, RetryAfter: 30 * time.Second}
	calm := Sample{PendingEvents: 10, OldestPending: time.Second, FreeDiskBytes: 1 << 30, StoreBytes: 100}
	with := func(f func(*Sample)) Sample { s := calm; f(&s); return s }
	for _, tc := range []struct {
		name     string
		l        Limits
		s        Sample
		shedding bool // before
		want     []string
	}{
		{"calm", l, calm, false, nil},
		{"pending at the limit", l, with(func(s *Sample) { s.PendingEvents = 1000 }), false, []string{"pending_events"}},
		{"pending just under", l, with(func(s *Sample) { s.PendingEvents = 999 }), false, nil},
		{"pending at 95% while shedding keeps shedding", l, with(func(s *Sample) { s.PendingEvents = 950 }), true, []string{"pending_events"}},
		{"pending under 90% while shedding stops", l, with(func(s *Sample) { s.PendingEvents = 899 }), true, nil},
		{"oldest", l, with(func(s *Sample) { s.OldestPending = 2 * time.Hour }), false, []string{"oldest_pending"}},
		{"disk low", l, with(func(s *Sample) { s.FreeDiskBytes = 999 }), false, []string{"free_disk"}},
		{"disk at 105% while shedding keeps shedding", l, with(func(s *Sample) { s.FreeDiskBytes = 1050 }), true, []string{"free_disk"}},
		{"disk at 105% when calm is fine", l, with(func(s *Sample) { s.FreeDiskBytes = 1050 }), false, nil},
		{"disk unknown", l, with(func(s *Sample) { s.FreeDiskBytes = -1 }), false, nil},
		{"store big", l, with(func(s *Sample) { s.StoreBytes = 20000 }), false, []string{"store_size"}},
		{"store unknown", l, with(func(s *Sample) { s.StoreBytes = -1 }), false, nil},
		{"several", l, Sample{PendingEvents: 5000, OldestPending: 3 * time.Hour, FreeDiskBytes: 10, StoreBytes: 1 << 20}, false,
			[]string{"pending_events", "oldest_pending", "free_disk", "store_size"}},
		{"no limits", Limits{}, Sample{PendingEvents: 1 << 30, OldestPending: 1000 * time.Hour, FreeDiskBytes: 0, StoreBytes: 1 << 40}, false, nil},
	} {
		st := Decide(tc.l, tc.s, tc.shedding)
		if !slices.Equal(st.Reasons, tc.want) || st.Shedding != (len(tc.want) > 0) || len(st.Detail) != len(st.Reasons) {
			t.Errorf("%s: reasons %v (shedding %v, %d details), want %v", tc.name, st.Reasons, st.Shedding, len(st.Detail), tc.want)
		}
	}
}

func TestShedderSamples(t *testing.T) {
	next := Sample{PendingEvents: 5, FreeDiskBytes: -1, StoreBytes: -1}
	var fail error
	s := New(Limits{MaxPendingEvents: 100, RetryAfter: 7 * time.Second}, time.Hour, func(context.Context) (Sample, error) {
		return next, fail
	}, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	if _, shed := s.Shedding(); shed {
		t.Fatal("shedding before any sample")
	}
	s.Sample(ctx)
	if _, shed := s.Shedding(); shed {
		t.Fatal("shedding at 5 of 100")
	}
	next.PendingEvents = 150
	s.Sample(ctx)
	ra, shed := s.Shedding()
	if !shed || ra != 7*time.Second {
		t.Fatalf("at 150 of 100: shedding %v, retry after %v", shed, ra)
	}
	// A failed sample keeps the last decision and says why.
	fail = errors.New("store unreachable")
	next.PendingEvents = 0
	s.Sample(ctx)
	if _, shed := s.Shedding(); !shed || s.State().Err == nil {
		t.Fatalf("a failed sample changed the decision: %+v", s.State())
	}
	fail = nil
	s.Sample(ctx)
	if _, shed := s.Shedding(); shed {
		t.Fatal("still shedding at 0 of 100")
	}
	if s.Refused() != 2 {
		t.Errorf("refused %d, want 2", s.Refused())
	}
	var nilShedder *Shedder
	if _, shed := nilShedder.Shedding(); shed {
		t.Error("a nil Shedder sheds")
	}
}

func TestFreeBytes(t *testing.T) {
	if n := FreeBytes(t.TempDir()); n <= 0 {
		t.Fatalf("free bytes of a temp dir: %d", n)
	}
	if n := FreeBytes("/does/not/exist"); n != -1 {
		t.Fatalf("free bytes of a missing path: %d, want -1", n)
	}
}
