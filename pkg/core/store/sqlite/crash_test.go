package sqlite_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

const crashEnv = "WOGATE_SQLITE_CRASH_CHILD"

// TestCrashChild is the child half of TestCrashKeepsAcceptedEvents: it
// inserts events from many goroutines and prints "ACK <msg> <id>" after
// each InsertEvent that returned inserted, until it is killed.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("child process of TestCrashKeepsAcceptedEvents")
	}
	path, round, _ := strings.Cut(spec, "|")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		fmt.Printf("ERR open: %v\n", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; ; i++ {
				msg := fmt.Sprintf("r%s-g%d-%d", round, g, i)
				if i%5 == 4 {
					// A redelivery of an earlier message: must dedup.
					msg = fmt.Sprintf("r%s-g%d-%d", round, g, i-3)
				}
				e := &store.Event{Account: "acme", MessageID: msg, WorkOrderID: int64(g), Source: "webhook",
					ActionDate: time.Now(), Body: []byte(`{"crash":true}`)}
				ok, err := st.InsertEvent(context.Background(), e)
				if err != nil {
					mu.Lock()
					fmt.Fprintf(out, "ERR %v\n", err)
					_ = out.Flush()
					mu.Unlock()
					return
				}
				if ok {
					// The ack goes out only after InsertEvent returned:
					// exactly what a webhook's 2xx promises.
					mu.Lock()
					fmt.Fprintf(out, "ACK %s %d\n", msg, e.ID)
					_ = out.Flush()
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestCrashKeepsAcceptedEvents kills a process that is inserting events
// with SIGKILL at a random moment, several times over the same file, and
// checks that every event it acknowledged is in the database afterwards.
func TestCrashKeepsAcceptedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[string]int64{}
	for round := 0; round < 3; round++ {
		kill := 30 + rand.IntN(150)
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path+"|"+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		n := 0
		killed := false
		deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "ERR ") {
				t.Errorf("child: %s", line)
				continue
			}
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "ACK" {
				continue
			}
			id, _ := strconv.ParseInt(f[2], 10, 64)
			if prev, dup := acked[f[1]]; dup {
				t.Fatalf("message %s acknowledged twice (ids %d and %d)", f[1], prev, id)
			}
			acked[f[1]] = id
			n++
			if n == kill && !killed {
				// Lines already in the pipe are still read below: they
				// were acknowledged before the kill.
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		deadline.Stop()
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended after %d acks without being killed", round, n)
		}
		t.Logf("round %d: killed after %d acks (%d in all)", round, kill, len(acked))
	}

	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("reopen after crashes: %v", err)
	}
	defer func() { _ = st.Close() }()
	ctx := context.Background()
	for msg, id := range acked {
		ev, err := st.GetEvent(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged event %s (id %d) lost: %v", msg, id, err)
		}
		if ev.MessageID != msg {
			t.Fatalf("event %d is %s, acknowledged as %s", id, ev.MessageID, msg)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var check string
	if err := db.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
}

// TestUncleanHandleReopen drops a store without Close and opens the file
// with a new handle: what InsertEvent acknowledged is there.
func TestUncleanHandleReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "unclean.db")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := 0; i < 20; i++ {
		e := &store.Event{Account: "acme", MessageID: fmt.Sprintf("u%d", i), WorkOrderID: 1}
		if _, err := st.InsertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	// No Close: the first handle stays open, as if its process hung.
	st2, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st2.Close() }()
	for _, id := range ids {
		if _, err := st2.GetEvent(ctx, id); err != nil {
			t.Fatalf("event %d: %v", id, err)
		}
	}
	if ok, err := st2.InsertEvent(ctx, &store.Event{Account: "acme", MessageID: "u0"}); ok || err != nil {
		t.Fatalf("dedup across handles: %v, %v", ok, err)
	}
	_ = st.Close()
}
