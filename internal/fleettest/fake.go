package fleettest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
	"github.com/codrive/codrive/fleet"
)

// FakeRoom is an in-process stand-in for one codrive's operator listener,
// for the benchmarks only (the tests use real rooms, Start): it serves GET
// /codrive/state and the event stream GET /codrive/events in the wire
// format of package codrive/operator (events.go: "retry", then "id",
// "event" and "data" per event, a first "state" event, a comment as
// keep-alive), and sends the events Publish is given. It has no actions.
type FakeRoom struct {
	Name string
	// URL is the listener's base URL.
	URL string

	srv       *httptest.Server
	keepAlive time.Duration

	mu     sync.Mutex
	status codrive.Status
	subs   map[chan codrive.Event]struct{}
	// subscribed is closed at the first stream, and replaced when the
	// last one goes.
	subscribed chan struct{}
}

// FakeStatus is a fake room's first status: automation drives.
func FakeStatus(since time.Time) codrive.Status {
	return codrive.Status{State: codrive.StateAutomation, Gate: codrive.GateOpen, Go: true, HostName: "codrive", Host: "codrive-1",
		Session: "codrive-1", Policy: codrive.PolicyYield, Since: since, Reason: "automation runs"}
}

// StartFakes starts n fake rooms named room-000…, each its own listener on
// 127.0.0.1, with a keep-alive comment every keepAlive (the operator's is
// 15s). Close them with CloseFakes.
func StartFakes(n int, keepAlive time.Duration) []*FakeRoom {
	rooms := make([]*FakeRoom, n)
	now := time.Now()
	for i := range rooms {
		r := &FakeRoom{Name: fmt.Sprintf("room-%03d", i), keepAlive: keepAlive, status: FakeStatus(now),
			subs: map[chan codrive.Event]struct{}{}, subscribed: make(chan struct{})}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /codrive/state", r.serveState)
		mux.HandleFunc("GET /codrive/events", r.serveEvents)
		r.srv = httptest.NewServer(mux)
		r.URL = r.srv.URL
		rooms[i] = r
	}
	return rooms
}

// CloseFakes stops the rooms' listeners, ending their streams.
func CloseFakes(rooms []*FakeRoom) {
	for _, r := range rooms {
		r.srv.CloseClientConnections()
		r.srv.Close()
	}
}

// FleetRooms are the rooms for fleet.New.
func FleetRooms(rooms []*FakeRoom) []fleet.Room {
	out := make([]fleet.Room, len(rooms))
	for i, r := range rooms {
		out[i] = fleet.Room{Name: r.Name, URL: r.URL}
	}
	return out
}

// Subscribed waits until the room has a stream open, or ctx ends.
func (r *FakeRoom) Subscribed(ctx context.Context) error {
	r.mu.Lock()
	ch := r.subscribed
	r.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("room %s: no event stream: %w", r.Name, ctx.Err())
	}
}

// Publish makes ev.Status the room's and sends ev to every open stream,
// waiting while a stream's reader lags (as codrive's subscribers do not:
// a benchmark must count every event), until ctx ends.
func (r *FakeRoom) Publish(ctx context.Context, ev codrive.Event) error {
	r.mu.Lock()
	r.status = ev.Status
	subs := make([]chan codrive.Event, 0, len(r.subs))
	for ch := range r.subs {
		subs = append(subs, ch)
	}
	r.mu.Unlock()
	for _, ch := range subs {
		select {
		case ch <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (r *FakeRoom) serveState(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	st := operator.State{Ready: true, Status: r.status,
		Connection:   codrive.Connection{Connected: true, Admin: true, LastHeard: time.Now()},
		Page:         codrive.PageInfo{TargetID: "T-" + r.Name, URL: "about:blank", Attached: true},
		Participants: []codrive.Participant{{ID: "codrive-1", Name: "codrive", Admin: true, Connected: true, Self: true}}}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

func (r *FakeRoom) serveEvents(w http.ResponseWriter, req *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	ch := make(chan codrive.Event, 64)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	select {
	case <-r.subscribed:
	default:
		close(r.subscribed)
	}
	first := codrive.Event{Time: time.Now(), Kind: codrive.EventState, Reason: "subscribed", Status: r.status}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.subs, ch)
		if len(r.subs) == 0 {
			r.subscribed = make(chan struct{})
		}
		r.mu.Unlock()
	}()
	seq := 0
	send := func(ev codrive.Event) bool {
		b, err := json.Marshal(ev)
		if err != nil {
			return false
		}
		seq++
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, ev.Kind, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || !send(first) {
		return
	}
	keep := time.NewTicker(r.keepAlive)
	defer keep.Stop()
	for {
		select {
		case ev := <-ch:
			if !send(ev) {
				return
			}
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-req.Context().Done():
			return
		}
	}
}
