package fleettest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/fleet"
)

// Load is a fleet watching fake rooms, for the benchmarks: Start it, wait
// for Ready, then Publish events and read them back from Updates (or
// through a view that reads them).
type Load struct {
	Rooms []*FakeRoom
	Fleet *fleet.Fleet

	tr     *http.Transport
	cancel context.CancelFunc
	done   chan struct{}
}

// StartLoad starts n fake rooms and a Fleet watching them.
func StartLoad(n int) *Load {
	l := &Load{Rooms: StartFakes(n, 15*time.Second), tr: fleet.NewTransport(), done: make(chan struct{})}
	// Every room is its own host: a connection each, as in a real fleet.
	l.Fleet = fleet.New(FleetRooms(l.Rooms), fleet.Options{HTTPClient: &http.Client{Transport: l.tr}})
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go func() {
		defer close(l.done)
		l.Fleet.Run(ctx)
	}()
	return l
}

// Ready waits until every room's stream is open on the fake's side.
func (l *Load) Ready(ctx context.Context) error {
	for _, r := range l.Rooms {
		if err := r.Subscribed(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the fleet and the rooms.
func (l *Load) Close() {
	l.cancel()
	<-l.done
	CloseFakes(l.Rooms)
	l.tr.CloseIdleConnections()
}

// Reason marks the benchmark's events: "bench N".
func Reason(n int) string { return fmt.Sprintf("bench %d", n) }

// BenchEvent is the benchmark's event number n for a room: control goes
// back and forth between a person and automation, so that every event
// moves the room in the table.
func BenchEvent(n int) codrive.Event {
	now := time.Now()
	st := FakeStatus(now)
	if n%2 == 0 {
		st = codrive.Status{State: codrive.StateHuman, Gate: codrive.GateWaiting, Host: "alice-1", HostName: "alice",
			Session: "codrive-1", Policy: codrive.PolicyYield, Since: now, Reason: "alice asked for control",
			Pending: []codrive.PendingRequest{{ID: "bob-1", Name: "bob", Since: now}}}
	}
	return codrive.Event{Time: now, Kind: codrive.EventState, Reason: Reason(n), Status: st}
}

// PublishSpread publishes total events spread over the rooms, a goroutine
// per room, numbered from first; it returns the first error.
func (l *Load) PublishSpread(ctx context.Context, first, total int) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(l.Rooms))
	for i, r := range l.Rooms {
		share := total / len(l.Rooms)
		if i < total%len(l.Rooms) {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range share {
				if err := r.Publish(ctx, BenchEvent(first+k*len(l.Rooms)+i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// Latencies summarises event-to-somewhere delays.
type Latencies []time.Duration

// Quantile is the q-quantile (0.5, 0.99) of the delays.
func (ls Latencies) Quantile(q float64) time.Duration {
	if len(ls) == 0 {
		return 0
	}
	s := slices.Clone(ls)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}
