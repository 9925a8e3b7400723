package fleet

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
	"github.com/codrive/codrive/internal/pubsub"
)

// Health is how well the fleet reaches a room.
type Health string

const (
	// HealthConnecting: no answer yet, and no failure either.
	HealthConnecting Health = "connecting"
	// HealthReady: the event stream is open and codrive is ready (logged
	// in to neko, attached to Chromium: its /readyz).
	HealthReady Health = "ready"
	// HealthDegraded: codrive answers but is not ready: starting, neko
	// out of reach, Chromium gone. Snapshot.Err says why.
	HealthDegraded Health = "degraded"
	// HealthUnreachable: the listener does not answer, or refuses the
	// token. Snapshot.Err says why; the fleet keeps trying.
	HealthUnreachable Health = "unreachable"
)

// Snapshot is what the fleet knows of one room.
type Snapshot struct {
	Health Health `json:"health"`
	// Err says why the room is degraded or unreachable.
	Err string `json:"error,omitempty"`
	// Known is true once codrive said anything: State.Status is then its.
	Known bool `json:"known"`
	// Stream is true while the event stream is open.
	Stream bool `json:"stream"`
	// Fetched is true once GET /codrive/state answered: State's ready,
	// connection and participants are then codrive's.
	Fetched bool `json:"fetched"`
	// State is the room's state: the last GET /codrive/state, with the
	// status and page of the events since.
	State operator.State `json:"state"`
	// Down is when the room became unreachable; zero otherwise.
	Down time.Time `json:"down,omitempty"`
}

// UpdateKind says what an Update carries.
type UpdateKind int

const (
	// UpdateEvent: codrive sent an event (Update.Event).
	UpdateEvent UpdateKind = iota
	// UpdateState: a GET /codrive/state answered.
	UpdateState
	// UpdateHealth: the room's reachability changed.
	UpdateHealth
)

// Update is one change of one room, with the room's whole Snapshot after
// it.
type Update struct {
	// Room indexes Fleet.Rooms; Name is its name.
	Room int
	Name string
	// At is when the fleet saw it (Options.Now).
	At   time.Time
	Kind UpdateKind
	// Event is codrive's, for UpdateEvent.
	Event    codrive.Event
	Snapshot Snapshot
}

// watcher keeps one room's event stream open.
type watcher struct {
	idx  int
	room Room
	c    *Client
	opts *Options
	out  chan<- Update

	// send orders the room's updates: the stream's reader and the state
	// fetcher both change the snapshot and send, and the channel must see
	// the changes in the order they were made.
	send sync.Mutex
	mu   sync.Mutex
	snap Snapshot
	// events counts the events applied, so that a state fetched before
	// the latest event does not roll its status back.
	events uint64

	refetch chan struct{}
	// stale: the last fetch failed (codrive was starting); the next event
	// fetches again.
	stale     atomic.Bool
	lastFetch atomic.Int64 // unix nanos of the last fetch's start
	// detail counts the Backends in use: while a person looks at the
	// room, every event refreshes its participants.
	detail atomic.Int32
	hub    pubsub.Hub[codrive.Event]
}

func newWatcher(idx int, r Room, c *Client, opts *Options, out chan<- Update) *watcher {
	return &watcher{idx: idx, room: r, c: c, opts: opts, out: out,
		snap:    Snapshot{Health: HealthConnecting},
		refetch: make(chan struct{}, 1)}
}

func (w *watcher) snapshot() Snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snap
}

// change applies f to the snapshot and sends the Update; ctx ends a
// send the reader no longer takes.
func (w *watcher) change(ctx context.Context, kind UpdateKind, ev *codrive.Event, f func(s *Snapshot)) {
	w.send.Lock()
	defer w.send.Unlock()
	w.mu.Lock()
	before := w.snap
	f(&w.snap)
	w.snap.Health, w.snap.Err = health(w.snap)
	if w.snap.Health == HealthUnreachable && before.Health != HealthUnreachable {
		w.snap.Down = w.opts.Now()
	} else if w.snap.Health != HealthUnreachable {
		w.snap.Down = time.Time{}
	}
	u := Update{Room: w.idx, Name: w.room.Name, At: w.opts.Now(), Kind: kind, Snapshot: w.snap}
	if ev != nil {
		u.Event = *ev
	}
	w.mu.Unlock()
	select {
	case w.out <- u:
	case <-ctx.Done():
	}
}

// health derives the room's health from its snapshot. Without a stream
// it is what run and session set: unreachable after a failed attempt, as
// it was while the stream is opened again.
func health(s Snapshot) (Health, string) {
	switch {
	case !s.Stream:
		return s.Health, s.Err
	case !s.Known && !s.Fetched:
		return HealthConnecting, ""
	case s.State.Status.State == codrive.StateDisconnected:
		return HealthDegraded, "codrive has no live link to neko (reconnecting)"
	case s.State.Status.Gate == codrive.GateClosed:
		return HealthDegraded, "codrive's session is closing or closed"
	case s.Fetched && !s.State.Ready:
		return HealthDegraded, s.State.Reason
	case s.State.Page.TargetID != "" && !s.State.Page.Attached:
		return HealthDegraded, "Chromium's tab is not attached (re-attaching)"
	}
	return HealthReady, ""
}

// run keeps the stream open until ctx ends.
func (w *watcher) run(ctx context.Context) {
	fails := 0
	for ctx.Err() == nil {
		opened, err := w.session(ctx)
		if ctx.Err() != nil {
			return
		}
		// A stream that lived a while was fine: open it again at once. One
		// that never opened (however long the attempt took: a dial to a
		// host that is down times out), or that ended as it opened, backs
		// off; a failed one makes the room unreachable.
		if !opened.IsZero() && time.Since(opened) > streamLived {
			fails = 0
			continue
		}
		if err != nil {
			w.change(ctx, UpdateHealth, nil, func(s *Snapshot) {
				s.Stream = false
				s.Err = describe(err)
				s.Health = HealthUnreachable
			})
		}
		wait := w.backoff(fails)
		fails++
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// backoff doubles from MinBackoff to MaxBackoff, ±20% so that a fleet
// whose rooms all restarted at once does not knock in step.
func (w *watcher) backoff(fails int) time.Duration {
	d := w.opts.MinBackoff
	for range fails {
		d *= 2
		if d >= w.opts.MaxBackoff {
			d = w.opts.MaxBackoff
			break
		}
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// errStreamIdle: the stream sent nothing, not even a keep-alive.
var errStreamIdle = errors.New("the event stream went silent")

// streamLived is how long a stream must have been open for its end to
// be news rather than a failure to connect.
const streamLived = 5 * time.Second

// session opens the stream, fetches the state and applies events until
// the stream ends. opened is when the stream opened, zero if it did not;
// a nil error means it ended after working (codrive closed it).
func (w *watcher) session(ctx context.Context) (opened time.Time, err error) {
	st, err := w.c.Events(ctx, w.opts.ConnectTimeout)
	if err != nil {
		return time.Time{}, err
	}
	opened = time.Now()
	sctx, cancel := context.WithCancel(ctx)
	var idle atomic.Bool
	timer := time.AfterFunc(w.opts.IdleTimeout, func() {
		idle.Store(true)
		_ = st.Close()
	})
	fetched := make(chan struct{})
	defer func() {
		timer.Stop()
		cancel()
		_ = st.Close()
		<-fetched
	}()
	go func() {
		defer close(fetched)
		w.fetcher(sctx)
	}()
	w.kick()
	alive := func() { timer.Reset(w.opts.IdleTimeout) }
	for {
		ev, err := st.Next(alive)
		if err != nil {
			if idle.Load() {
				return opened, fmt.Errorf("%w for %s", errStreamIdle, w.opts.IdleTimeout)
			}
			if ctx.Err() != nil {
				return opened, ctx.Err()
			}
			// The stream ended: codrive closed, or the link broke. The room
			// stays as it was while run opens it again.
			w.change(ctx, UpdateHealth, nil, func(s *Snapshot) {
				s.Stream = false
				s.Err = "event stream ended: " + describe(err)
			})
			return opened, nil
		}
		w.change(ctx, UpdateEvent, &ev, func(s *Snapshot) {
			s.Stream, s.Known = true, true
			s.State.Status = ev.Status
			if ev.Page != nil {
				s.State.Page = *ev.Page
			}
			w.events++
		})
		w.hub.Publish(ev)
		switch ev.Kind {
		case codrive.EventConnection, codrive.EventBrowser, codrive.EventSettings:
			// Readiness, the admin flag and the lock live in the state.
			w.kick()
		default:
			if w.detail.Load() > 0 || w.stale.Load() {
				w.kick()
			}
		}
	}
}

// kick asks the fetcher for a fresh state; kicks while one is pending
// coalesce.
func (w *watcher) kick() {
	select {
	case w.refetch <- struct{}{}:
	default:
	}
}

// fetcher GETs the state each time it is kicked, one at a time.
func (w *watcher) fetcher(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.refetch:
		}
		w.lastFetch.Store(time.Now().UnixNano())
		w.mu.Lock()
		seq := w.events
		w.mu.Unlock()
		fctx, cancel := context.WithTimeout(ctx, w.opts.ConnectTimeout)
		st, err := w.c.State(fctx)
		cancel()
		w.stale.Store(err != nil)
		if ctx.Err() != nil {
			return
		}
		w.change(ctx, UpdateState, nil, func(s *Snapshot) {
			if err != nil {
				var he *HTTPError
				if errors.As(err, &he) && he.Code == http.StatusServiceUnavailable {
					// Starting: the listener answers before its session exists.
					s.Fetched, s.State.Ready, s.State.Reason = true, false, he.Msg
					return
				}
				s.Fetched, s.State.Ready, s.State.Reason = true, false, "GET /codrive/state: "+describe(err)
				return
			}
			if w.events != seq {
				// An event came meanwhile: its status and page are newer.
				st.Status, st.Page = s.State.Status, s.State.Page
			}
			s.State, s.Fetched, s.Known = st, true, true
		})
	}
}

// describe is err for a table cell: the room's URL is beside it, so a
// failed dial says only why ("connection refused"), a refused token what
// codrive said.
func describe(err error) string {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Error()
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		msg := op.Err.Error()
		if op.Timeout() {
			msg = "timed out"
		}
		var sys *os.SyscallError
		if errors.As(op.Err, &sys) {
			msg = sys.Err.Error()
		}
		if op.Op == "dial" {
			return "cannot connect: " + msg
		}
		return msg
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "cannot resolve " + dns.Name
	}
	return err.Error()
}
