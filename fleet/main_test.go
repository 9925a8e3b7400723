package fleet_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/fleettest"
)

var shared cdptest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	fleettest.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// chromium is the package's one real Chromium; each room has a tab.
func chromium(t *testing.T) *cdptest.Chromium {
	t.Helper()
	return shared.Get(t)
}

// watch runs f and applies its updates to a board that tests wait on.
type watch struct {
	t       *testing.T
	f       *fleet.Fleet
	mu      sync.Mutex
	board   *fleet.Board
	changed chan struct{}
	updates []fleet.Update
}

func startWatch(t *testing.T, rooms []fleet.Room, opts fleet.Options) *watch {
	t.Helper()
	f := fleet.New(rooms, opts)
	w := &watch{t: t, f: f, board: fleet.NewBoard(rooms, time.Now()), changed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	go func() {
		for u := range f.Updates() {
			w.mu.Lock()
			w.board.Apply(u)
			w.updates = append(w.updates, u)
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// row is room i now.
func (w *watch) row(i int) fleet.Row {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.board.Row(i, time.Now())
}

// until waits for cond on room i's row, re-checked after every update.
func (w *watch) until(i int, what string, cond func(fleet.Row) bool) fleet.Row {
	w.t.Helper()
	deadline := time.After(fleettest.Timeout)
	for {
		w.mu.Lock()
		r := w.board.Row(i, time.Now())
		changed := w.changed
		w.mu.Unlock()
		if cond(r) {
			return r
		}
		select {
		case <-changed:
		case <-deadline:
			w.t.Fatalf("room %s never %s; last: need %s, health %s (%s), status %+v", r.Name, what, r.Need, r.Snapshot.Health, r.Snapshot.Err, r.Status())
		}
	}
}

func ready(r fleet.Row) bool { return r.Snapshot.Health == fleet.HealthReady && r.Snapshot.Known }
