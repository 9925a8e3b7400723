package codrive

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// The arbiter's side of the Session API: Session (session_api.go) documents
// each call for users and forwards it here.

// Subscribe delivers every arbitration event from now on, in order. The
// channel closes when the arbiter closes or cancel is called.
func (a *arbiter) Subscribe() (<-chan Event, func()) { return a.events.Subscribe() }

// Status returns the current arbitration state.
func (a *arbiter) Status() Status {
	a.mu.Lock()
	s := a.status
	a.mu.Unlock()
	s.Steps += a.fast.inFlight()
	return s
}

func (a *arbiter) statusAndChange() (Status, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status, a.changed
}

// Begin: see Session.Begin.
func (a *arbiter) Begin(ctx context.Context) (done func(), err error) {
	c, err := a.begin(ctx, true, stepCommand)
	if err != nil {
		return nil, err
	}
	return c.Done, nil
}

// command is one step that passed the gate. A proxied CDP command says when
// it has been written to Chromium (Sent) and when Chromium answered (Done):
// control is not handed over between the gate and the write.
type command struct {
	a          *arbiter
	id         callID
	fast       bool // passed the fast gate (fastgate.go)
	sent, done sync.Once
}

// Sent: the command is on its way to Chromium.
func (c *command) Sent() {
	c.sent.Do(func() {
		if c.fast && c.a.fast.sent(c.id) {
			return
		}
		c.a.post(envelope{in: inStepSent{Call: c.id}})
	})
}

// Done: Chromium answered, or the command will never be answered.
func (c *command) Done() {
	c.Sent()
	c.done.Do(func() {
		if c.fast && c.a.fast.end(c.id, time.Now()) {
			return
		}
		c.a.post(envelope{in: inStepEnd{Call: c.id}})
	})
}

func (a *arbiter) begin(ctx context.Context, sent bool, kind stepKindT) (*command, error) {
	for {
		// The change channel is taken before asking: a change between the
		// answer and the wait below then wakes the wait at once.
		_, changed := a.statusAndChange()
		if kind == stepCommand {
			id := callID(a.nextCall.Add(1))
			if a.fast.begin(id, sent, time.Now()) {
				return &command{a: a, id: id, fast: true}, nil
			}
		}
		id, err := a.callNow(func(id callID) input { return inBegin{Call: id, Sent: sent, Kind: kind} })
		switch {
		case err == nil:
			return &command{a: a, id: id}, nil
		case !errors.Is(err, errNotNow):
			return nil, err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, a.waitError(ctx.Err())
		case <-a.quit:
			return nil, ErrClosed
		}
	}
}

// Wait: see Session.Wait.
func (a *arbiter) Wait(ctx context.Context) error {
	done, err := a.Begin(ctx)
	if err != nil {
		return err
	}
	done()
	return nil
}

// Do: see Session.Do.
func (a *arbiter) Do(ctx context.Context, step func(ctx context.Context) error) error {
	done, err := a.Begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	return step(ctx)
}

func (a *arbiter) waitError(err error) error {
	s := a.Status()
	switch {
	case s.Gate == GateClosed:
		return ErrClosed
	case s.Handoff != "":
		return fmt.Errorf("waiting for control: handoff in progress (%s): %w", s.Handoff, err)
	case s.Gate == GatePaused:
		return fmt.Errorf("waiting for control: automation is paused: %w", err)
	case s.State == StateHuman:
		return fmt.Errorf("waiting for control: held by %s since %s: %w", describeHost(s.Host, s.HostName), s.Since.Format("15:04:05"), err)
	case s.State == StateCodrive:
		return fmt.Errorf("waiting for control: held by another codrive session, %s, since %s: %w", describeHost(s.Host, s.HostName), s.Since.Format("15:04:05"), err)
	case s.State == StateDisconnected:
		return fmt.Errorf("waiting for control: not connected to neko: %w", err)
	default:
		return fmt.Errorf("waiting for control (%s, gate %s): %w", s.State, s.Gate, err)
	}
}

// Acquire: see Session.Acquire.
func (a *arbiter) Acquire(ctx context.Context) error {
	_, err := a.call(ctx, func(id callID) input { return inAcquire{Call: id} })
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrClosed) {
		return a.waitError(ctx.Err())
	}
	return err
}

// Release: see Session.Release.
func (a *arbiter) Release(ctx context.Context) error {
	_, err := a.call(ctx, func(id callID) input { return inRelease{Call: id} })
	return err
}

// Pause: see Session.Pause.
func (a *arbiter) Pause(ctx context.Context) error {
	_, err := a.call(ctx, func(id callID) input { return inPause{Call: id} })
	return err
}

// Resume: see Session.Resume.
func (a *arbiter) Resume() { a.post(envelope{in: inResume{}}) }

// Handoff: see Session.Handoff.
func (a *arbiter) Handoff(ctx context.Context, reason string) error {
	if reason == "" {
		reason = "automation needs a person"
	}
	_, err := a.call(ctx, func(id callID) input { return inHandoff{Call: id, Reason: reason} })
	return err
}

// Give: see Session.Give.
func (a *arbiter) Give(ctx context.Context, sessionID string) error {
	_, err := a.call(ctx, func(id callID) input { return inGive{Call: id, To: sessionID} })
	return err
}

// Take: see Session.Take.
func (a *arbiter) Take(ctx context.Context) error {
	_, err := a.call(ctx, func(id callID) input { return inTake{Call: id} })
	return err
}

// WaitState: see Session.WaitState.
func (a *arbiter) WaitState(ctx context.Context, ok func(Status) bool) (Status, error) {
	for {
		s, changed := a.statusAndChange()
		if ok(s) {
			return s, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return s, ctx.Err()
		case <-a.quit:
			return a.Status(), ErrClosed
		}
	}
}

// Close restores every room setting codrive changed, releases control if
// codrive holds it, closes the socket and logs out (see Session.Close).
// When ctx ends first, the REST calls still under way are abandoned.
func (a *arbiter) Close(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		_, err := a.call(context.Background(), func(id callID) input { return inClose{Call: id} })
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		a.opCancel()
		err = <-done
	}
	<-a.quit
	a.ops.Wait()
	if errors.Is(err, ErrClosed) {
		return nil // closed before
	}
	return err
}

// Done is closed when the neko connection has ended for good.
func (a *arbiter) Done() <-chan struct{} { return a.conn.Done() }

// Err is why the neko connection ended, nil while it lives.
func (a *arbiter) Err() error {
	select {
	case <-a.conn.Done():
		return a.conn.Err()
	default:
		return nil
	}
}
