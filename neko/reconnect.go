package neko

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// healthProbeTimeout bounds one GET /health before a reconnect dial (or
// InitTimeout, if shorter). A frozen neko never answers; a live one answers
// in milliseconds.
const healthProbeTimeout = time.Second

// run owns the socket life cycle: serve until the link ends, then reconnect
// or end the Conn.
func (c *Conn) run(ws *websocket.Conn) {
	defer close(c.runDone)
	for {
		reason, err := c.serve(ws)
		c.wmu.Lock()
		c.ws = nil
		c.wmu.Unlock()
		ws.Close()
		c.mu.Lock()
		c.room.Connected = false
		c.mu.Unlock()
		if c.isClosing() {
			return
		}
		now := false
		if errors.Is(err, ErrReplaced) {
			if !c.stale.claim() {
				c.log.Warn("neko: another socket took over our session; not reconnecting", "session", c.Room().SessionID)
				c.finish(err, reason)
				return
			}
			// Our own late upgrade took the session, and the socket neko
			// now holds for it is one we closed long ago: come back at once,
			// within neko's delayed-disconnect window, to keep host.
			c.log.Info("neko: our socket was replaced by a connection attempt of ours that neko handled late; reconnecting at once",
				"session", c.Room().SessionID, "stale_left", c.stale.n)
			err = fmt.Errorf("neko: %w", ErrStaleAttempt)
			now = true
		}
		if c.opts.NoReconnect {
			c.finish(fmt.Errorf("neko: connection lost (reconnect disabled): %w", err), reason)
			return
		}
		c.log.Info("neko: connection lost, reconnecting", "err", err, "reason", reason)
		ws, reason, err = c.reconnect(err, reason, now)
		if err != nil {
			if !c.isClosing() {
				c.finish(err, reason)
			}
			return
		}
	}
}

// reconnect dials until a socket is initialised, logging in again when neko
// no longer knows our session. Each attempt waits its backoff delay (none
// right after a stale attempt of ours replaced our socket: now), then asks
// GET /health and dials only if neko answers, so that no upgrade request is
// left queued in a frozen neko. It returns an error only when the Conn must
// end (Close, or a refusal retrying cannot fix), with the last
// system/disconnect reason.
func (c *Conn) reconnect(cause error, reason string, now bool) (_ *websocket.Conn, lastReason string, _ error) {
	for attempt := 1; ; attempt++ {
		delay := backoff(attempt, c.opts.ReconnectMin, c.opts.ReconnectMax)
		if now {
			delay, now = 0, false
		}
		c.emit(EventReconnecting, &ConnState{Attempt: attempt, Delay: delay, Err: cause, Reason: reason, Stale: c.stale.n})
		t := time.NewTimer(delay)
		select {
		case <-c.closing:
			t.Stop()
			return nil, reason, ErrClosed
		case <-t.C:
		}

		if err := c.probe(); err != nil {
			if c.isClosing() {
				return nil, reason, ErrClosed
			}
			cause = err
			continue
		}
		relogin := false
		sid := c.client.SessionID()
		l, err := c.dial(c.ctx)
		if errors.Is(err, ErrUnauthorized) {
			c.surfaceRefusal(err, &reason)
			// neko forgot the session (restart) or it was logged out: a new
			// session is the only way back in.
			c.log.Info("neko: session refused, logging in again", "session", sid, "err", err)
			if lerr := c.relogin(sid); lerr != nil {
				if c.isClosing() {
					return nil, reason, ErrClosed
				}
				if errors.Is(lerr, ErrUnauthorized) || errors.Is(lerr, ErrNotLoggedIn) {
					return nil, reason, fmt.Errorf("neko: reconnect: re-login failed: %w", lerr)
				}
				cause = lerr
				continue
			}
			relogin = true
			l, err = c.dial(c.ctx)
		}
		if err != nil {
			if c.isClosing() {
				return nil, reason, ErrClosed
			}
			c.surfaceRefusal(err, &reason)
			if errors.Is(err, ErrForbidden) {
				return nil, reason, fmt.Errorf("neko: reconnect: %w", err)
			}
			if errors.Is(err, ErrReplaced) {
				// Replaced before system/init: by one of our stale
				// attempts, or by another client.
				if !c.stale.claim() {
					c.log.Warn("neko: another socket took over our session; not reconnecting", "session", sid)
					return nil, reason, fmt.Errorf("neko: reconnect: %w", err)
				}
				c.log.Info("neko: our new socket was replaced by a connection attempt of ours that neko handled late; retrying at once",
					"session", sid, "stale_left", c.stale.n)
				err, now = fmt.Errorf("neko: %w", ErrStaleAttempt), true
			}
			cause = err
			continue
		}

		c.wmu.Lock()
		if c.isClosing() {
			c.wmu.Unlock()
			l.ws.Close()
			return nil, reason, ErrClosed
		}
		c.ws = l.ws
		c.wmu.Unlock()

		c.mu.Lock()
		c.room.apply(l.init)
		c.room.Connected = true
		c.room.LastServerFrame = l.init.Time
		c.room.Reconnects++
		c.mu.Unlock()
		c.log.Info("neko: reconnected", "attempt", attempt, "relogin", relogin, "session", l.init.Payload.(*SystemInit).SessionID)
		c.emit(EventReconnected, &ConnState{Attempt: attempt, Relogin: relogin, Reason: reason, Stale: c.stale.n})
		c.publish(l.init)
		for _, ev := range l.pending {
			c.handle(ev)
		}
		return l.ws, reason, nil
	}
}

// relogin is Client.relogin bounded like a dial, so that a neko freezing
// right after a successful probe holds up the next attempt no longer.
func (c *Conn) relogin(staleSession string) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.InitTimeout)
	defer cancel()
	return c.client.relogin(ctx, staleSession)
}

// probe reports whether neko answers HTTP at all: GET /health within
// min(InitTimeout, 1s). Any answer counts except a gateway's 502, 503 or 504
// (a proxy whose neko is down): a proxy that does not route /health still
// lets the dial through, as it did before the probe existed.
func (c *Conn) probe() error {
	if c.opts.noProbe {
		return nil
	}
	timeout := min(healthProbeTimeout, c.opts.InitTimeout)
	ctx, cancel := context.WithTimeout(c.ctx, timeout)
	defer cancel()
	_, err := c.client.do(ctx, "health", http.MethodGet, "/health", nil, maxJSONBody)
	var ae *APIError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Status != 0:
		switch ae.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return fmt.Errorf("neko: reconnect: health probe: %w: %w", ErrUnreachable, err)
		}
		return nil
	case c.ctx.Err() != nil:
		return ErrClosed
	case ctx.Err() != nil:
		return fmt.Errorf("neko: reconnect: health probe: %w: no answer from %s within %v (neko frozen or overloaded?)",
			ErrUnreachable, c.client.baseStr, timeout)
	}
	return fmt.Errorf("neko: reconnect: health probe: %w", err)
}

// staleAttempts counts our connection attempts that were given up after
// their upgrade request had reached neko's socket. A frozen neko (SIGSTOP,
// a stalled VM) keeps such requests queued in the kernel and handles them
// when it runs again, each registering a socket on our session that replaces
// the current one (internal/session/session.go ConnectWebSocketPeer); real
// neko serves queued connections concurrently (one goroutine each, as any Go
// http.Server), so one may come after our newest socket and replace it with
// "connection replaced", after or even before its system/init. While the
// count is above zero, that message is taken for one of them (claim)
// instead of another client on our session. The count is cleared when neko
// sends a heartbeat or ping on a socket made after them: neko has then run
// for a whole heartbeat period since it took that socket, long enough to
// have handled every request that reached it earlier.
//
// Only the run goroutine (and Connect, before it starts) touches it.
type staleAttempts struct{ n int }

func (s *staleAttempts) abandoned(log *slog.Logger) {
	s.n++
	log.Info("neko: gave up on a connection attempt neko has not answered; neko may still handle it later", "stale", s.n)
}

// claim takes one stale attempt for a "connection replaced"; false if there
// is none, i.e. another client really uses our session.
func (s *staleAttempts) claim() bool {
	if s.n == 0 {
		return false
	}
	s.n--
	return true
}

func (s *staleAttempts) settled(log *slog.Logger) {
	if s.n > 0 {
		log.Debug("neko: earlier connection attempts are settled", "forgotten", s.n)
		s.n = 0
	}
}

// surfaceRefusal delivers a pre-init system/disconnect as an event, since
// the reason is often the only explanation the server gives.
func (c *Conn) surfaceRefusal(err error, reason *string) {
	var re *refusedError
	if !errors.As(err, &re) {
		return
	}
	*reason = re.reason
	raw, _ := json.Marshal(SystemDisconnect{Message: re.reason})
	c.publish(Event{Name: EventSystemDisconnect, Time: time.Now(),
		Payload: &SystemDisconnect{Message: re.reason}, Raw: raw})
}

// backoff is min·2^(attempt-1), capped at max, with ±20% jitter.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return clampDuration(d, min*8/10, max)
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	if d < lo {
		return lo
	}
	if d > hi {
		return hi
	}
	return d
}
