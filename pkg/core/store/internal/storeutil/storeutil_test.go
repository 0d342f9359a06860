package storeutil

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

func TestLoadMigrations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []int // versions, or nil when an error is expected
		err   string
	}{
		{"ordered by number", map[string]string{"m/010_b.sql": "b", "m/002_a.sql": "a", "m/README": "x"}, []int{2, 10}, ""},
		{"bad name", map[string]string{"m/init.sql": "x"}, nil, "NNN_name.sql"},
		{"zero version", map[string]string{"m/000_x.sql": "x"}, nil, "NNN_name.sql"},
		{"duplicate", map[string]string{"m/001_a.sql": "a", "m/1_b.sql": "b"}, nil, "share version 1"},
		{"empty", map[string]string{"m/x.txt": ""}, nil, "no migrations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for k, v := range tc.files {
				fsys[k] = &fstest.MapFile{Data: []byte(v)}
			}
			ms, err := LoadMigrations(fsys, "m")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if len(got) != len(tc.want) || got[0] != tc.want[0] || got[len(got)-1] != tc.want[len(tc.want)-1] {
				t.Fatalf("versions %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPending(t *testing.T) {
	ms := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	todo, err := Pending(ms, map[int]bool{1: true})
	if err != nil || len(todo) != 2 || todo[0].Version != 2 {
		t.Fatalf("Pending = %v, %v", todo, err)
	}
	if todo, _ := Pending(ms, map[int]bool{1: true, 2: true, 3: true}); len(todo) != 0 {
		t.Fatalf("up to date: %v", todo)
	}
	if _, err := Pending(ms, map[int]bool{1: true, 7: true}); err == nil || !strings.Contains(err.Error(), "version 7") {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestMergeDeadLetters(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := []store.Event{{ID: 1, ReceivedAt: t0.Add(3 * time.Hour)}, {ID: 2, ReceivedAt: t0.Add(time.Hour)}}
	acts := []store.OutboxAction{{ID: 9, CreatedAt: t0.Add(2 * time.Hour)}, {ID: 8, CreatedAt: t0}}
	got := MergeDeadLetters(evs, acts, 3)
	var keys []string
	for _, d := range got {
		if d.Kind == "event" {
			keys = append(keys, "e"+string(rune('0'+d.Event.ID)))
		} else {
			keys = append(keys, "a"+string(rune('0'+d.Action.ID)))
		}
	}
	if strings.Join(keys, ",") != "e1,a9,e2" {
		t.Fatalf("merged %v", keys)
	}
}

func TestLimit(t *testing.T) {
	for in, want := range map[int]int{-1: DefaultLimit, 0: DefaultLimit, 5: 5, MaxLimit + 1: MaxLimit} {
		if got := Limit(in); got != want {
			t.Errorf("Limit(%d) = %d, want %d", in, got, want)
		}
	}
}
