// Package fleet watches many codrives at once through their operator
// listeners (`codrive attach --http`, package codrive/operator): for each
// room it keeps the event stream open (Server-Sent Events, reconnecting
// with backoff), fetches the state when an event says it changed, and
// delivers every change as one Update on one channel. Board turns the
// updates into one row per room, sorted by what needs a person first;
// Backend drives one room's controls over HTTP for the single-room
// monitor (package tui). `codrive fleet` is the command built on it.
//
// Each room has goroutines of its own: a room that does not answer delays
// nobody but itself.
package fleet

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Options tune a Fleet; the zero value is the codrive command's.
type Options struct {
	// HTTPClient talks to every room; default one with NewTransport.
	HTTPClient *http.Client
	// Now is the clock of Update.At; tests pin it.
	Now func() time.Time
	// MinBackoff and MaxBackoff bound the wait between two failed
	// connections to a room (doubling, with jitter). Default 500ms, 15s.
	MinBackoff, MaxBackoff time.Duration
	// ConnectTimeout bounds opening a room's event stream and each GET of
	// its state. Default 10s.
	ConnectTimeout time.Duration
	// IdleTimeout: a stream that sends nothing for this long is dead (the
	// operator sends a keep-alive every 15s) and is opened again.
	// Default 45s.
	IdleTimeout time.Duration
	// Buffer is the Updates channel's capacity. Default 1024.
	Buffer int
}

func (o *Options) defaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: NewTransport()}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(15*time.Second, o.MinBackoff)
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 45 * time.Second
	}
	if o.Buffer <= 0 {
		o.Buffer = 1024
	}
}

// Fleet watches its rooms from Run until its context ends.
type Fleet struct {
	opts     Options
	rooms    []Room
	watchers []*watcher
	updates  chan Update
	once     sync.Once
}

// New returns a Fleet over rooms (CheckRooms them first).
func New(rooms []Room, opts Options) *Fleet {
	opts.defaults()
	f := &Fleet{opts: opts, rooms: append([]Room(nil), rooms...), updates: make(chan Update, opts.Buffer)}
	for i, r := range f.rooms {
		f.watchers = append(f.watchers, newWatcher(i, r, NewClient(r, opts.HTTPClient), &f.opts, f.updates))
	}
	return f
}

// Rooms are the rooms watched, in the order given; Update.Room indexes
// them.
func (f *Fleet) Rooms() []Room { return append([]Room(nil), f.rooms...) }

// Updates delivers every change of every room, in order per room. It is
// closed when Run returns. Read it promptly: a full channel holds the
// rooms' streams back (never their connections to codrive).
func (f *Fleet) Updates() <-chan Update { return f.updates }

// Snapshot is room i as last known.
func (f *Fleet) Snapshot(i int) Snapshot { return f.watchers[i].snapshot() }

// Backend drives room i over HTTP, for the single-room monitor.
func (f *Fleet) Backend(i int) *Backend { return &Backend{w: f.watchers[i]} }

// Run watches every room until ctx ends, then closes Updates. Call it
// once.
func (f *Fleet) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, w := range f.watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	wg.Wait()
	for _, w := range f.watchers {
		w.hub.Close()
	}
	f.once.Do(func() { close(f.updates) })
}
