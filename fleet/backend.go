package fleet

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codrive/codrive/codrive"
)

// Backend drives one room over its operator API: what the single-room
// monitor (package tui) needs of a Session, without a neko password. Reads
// answer from the fleet's last knowledge at once (the monitor calls them
// on its screen's goroutine); actions are HTTP requests that last as long
// as their context. Open it with Fleet.Backend, and Close it when the
// monitor is done with it.
type Backend struct {
	w    *watcher
	errs chan string
}

// Open subscribes to the room for a monitor: it returns the room's events
// from now on (closed when the fleet stops) and a channel of the failures
// of Resume, which has no error of its own. close ends the subscription.
// Call it once.
func (b *Backend) Open() (events <-chan codrive.Event, failures <-chan string, close func()) {
	ch, unsub := b.w.hub.Subscribe()
	b.errs = make(chan string, 16)
	return ch, b.errs, unsub
}

// Focus says whether a person looks at the room now: while focused, every
// event refreshes its participants and connection, and Participants asks
// for a fresh state when the last is older than a second. Calls must
// alternate, starting with true.
func (b *Backend) Focus(on bool) {
	if on {
		b.w.detail.Add(1)
		b.w.kick()
		return
	}
	b.w.detail.Add(-1)
}

// Room is the room's name and listener.
func (b *Backend) Room() Room { return b.w.room }

// Snapshot is the room as last known.
func (b *Backend) Snapshot() Snapshot { return b.w.snapshot() }

// Status is the room's arbitration as last known.
func (b *Backend) Status() codrive.Status { return b.w.snapshot().State.Status }

// PageInfo is the room's tab as last known.
func (b *Backend) PageInfo() codrive.PageInfo { return b.w.snapshot().State.Page }

// Connection is codrive's link to neko as last fetched; a room the fleet
// cannot reach shows as not connected.
func (b *Backend) Connection() codrive.Connection {
	s := b.w.snapshot()
	c := s.State.Connection
	if !s.Stream {
		c.Connected = false
	}
	return c
}

// refreshEvery is how stale the participants of an open room may get.
const refreshEvery = time.Second

// Participants are the room's sessions as last fetched.
func (b *Backend) Participants() []codrive.Participant {
	if b.w.detail.Load() > 0 && time.Since(time.Unix(0, b.w.lastFetch.Load())) >= refreshEvery {
		b.w.kick()
	}
	return append([]codrive.Participant(nil), b.w.snapshot().State.Participants...)
}

// act runs one action and takes the Status it answers as the room's.
func (b *Backend) act(ctx context.Context, name string, body any) error {
	st, err := b.w.c.Act(ctx, name, body)
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.Unauthorized() {
			return fmt.Errorf("room %s refused the token (see its tokenFile): %w", b.w.room.Name, err)
		}
		return err
	}
	b.w.change(ctx, UpdateState, nil, func(s *Snapshot) {
		if s.Known {
			s.State.Status = st
		}
	})
	return nil
}

// timeoutBody passes ctx's deadline to codrive, which otherwise applies
// its own default (30s, a handoff 5m).
func timeoutBody(ctx context.Context, body map[string]any) map[string]any {
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left > time.Second {
			if body == nil {
				body = map[string]any{}
			}
			body["timeout"] = left.Round(time.Second).String()
		}
	}
	return body
}

// Acquire asks for control (POST /codrive/request).
func (b *Backend) Acquire(ctx context.Context) error {
	return b.act(ctx, "request", timeoutBody(ctx, nil))
}

// Release lets control go (POST /codrive/release).
func (b *Backend) Release(ctx context.Context) error {
	return b.act(ctx, "release", timeoutBody(ctx, nil))
}

// Take takes control from anyone (POST /codrive/take; codrive's login
// must be a neko admin).
func (b *Backend) Take(ctx context.Context) error {
	return b.act(ctx, "take", timeoutBody(ctx, nil))
}

// Give hands control to a session (POST /codrive/give).
func (b *Backend) Give(ctx context.Context, sessionID string) error {
	return b.act(ctx, "give", timeoutBody(ctx, map[string]any{"to": sessionID}))
}

// Pause pauses automation (POST /codrive/pause).
func (b *Backend) Pause(ctx context.Context) error {
	return b.act(ctx, "pause", timeoutBody(ctx, nil))
}

// resumeTimeout bounds Resume, which has no context.
const resumeTimeout = 30 * time.Second

// Resume resumes automation (POST /codrive/resume). Its failure, which it
// cannot return, goes to Open's failures channel.
func (b *Backend) Resume() {
	ctx, cancel := context.WithTimeout(context.Background(), resumeTimeout)
	defer cancel()
	if err := b.act(ctx, "resume", nil); err != nil && b.errs != nil {
		select {
		case b.errs <- "resume failed: " + err.Error():
		default:
		}
	}
}

// Handoff asks a person for help and returns once they are done (POST
// /codrive/handoff, which lasts as long as the handoff).
func (b *Backend) Handoff(ctx context.Context, reason string) error {
	return b.act(ctx, "handoff", timeoutBody(ctx, map[string]any{"reason": reason}))
}
