package neko

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gorilla/websocket"
)

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
		if errors.Is(err, ErrReplaced) {
			c.log.Warn("neko: another socket took over our session; not reconnecting", "session", c.Room().SessionID)
			c.finish(err, reason)
			return
		}
		if c.opts.NoReconnect {
			c.finish(fmt.Errorf("neko: connection lost (reconnect disabled): %w", err), reason)
			return
		}
		c.log.Info("neko: connection lost, reconnecting", "err", err, "reason", reason)
		ws, reason, err = c.reconnect(err, reason)
		if err != nil {
			if !c.isClosing() {
				c.finish(err, reason)
			}
			return
		}
	}
}

// reconnect dials until a socket is initialised, logging in again when neko
// no longer knows our session. It returns an error only when the Conn must
// end (Close, or a refusal retrying cannot fix), with the last
// system/disconnect reason.
func (c *Conn) reconnect(cause error, reason string) (_ *websocket.Conn, lastReason string, _ error) {
	for attempt := 1; ; attempt++ {
		delay := backoff(attempt, c.opts.ReconnectMin, c.opts.ReconnectMax)
		c.emit(EventReconnecting, &ConnState{Attempt: attempt, Delay: delay, Err: cause, Reason: reason})
		t := time.NewTimer(delay)
		select {
		case <-c.closing:
			t.Stop()
			return nil, reason, ErrClosed
		case <-t.C:
		}

		relogin := false
		sid := c.client.SessionID()
		l, err := c.dial(c.ctx)
		if errors.Is(err, ErrUnauthorized) {
			c.surfaceRefusal(err, &reason)
			// neko forgot the session (restart) or it was logged out: a new
			// session is the only way back in.
			c.log.Info("neko: session refused, logging in again", "session", sid, "err", err)
			if lerr := c.client.relogin(c.ctx, sid); lerr != nil {
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
		c.emit(EventReconnected, &ConnState{Attempt: attempt, Relogin: relogin, Reason: reason})
		c.publish(l.init)
		for _, ev := range l.pending {
			c.handle(ev)
		}
		return l.ws, reason, nil
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
