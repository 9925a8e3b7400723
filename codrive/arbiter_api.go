package codrive

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/codrive/codrive/neko"
)

// Client is the REST client of codrive's neko session.
func (a *Arbiter) Client() *neko.Client { return a.client }

// Conn is codrive's neko WebSocket.
func (a *Arbiter) Conn() *neko.Conn { return a.conn }

// Admin reports whether codrive logged in as a neko admin.
func (a *Arbiter) Admin() bool { return a.admin }

// Subscribe delivers every arbitration event from now on, in order. The
// channel closes when the Arbiter closes or cancel is called.
func (a *Arbiter) Subscribe() (<-chan Event, func()) { return a.events.Subscribe() }

// Status returns the current arbitration state.
func (a *Arbiter) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

func (a *Arbiter) statusAndChange() (Status, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status, a.changed
}

// Begin waits until automation may act (codrive hosts and nothing paused
// it), asking for control if nobody hosts, and then counts one automation
// step in flight until done is called. Passing the gate and counting the
// step are one decision, so policy finish-step never hands control over
// between the two. It never takes control from a person; when ctx ends it
// returns an error naming who holds control.
func (a *Arbiter) Begin(ctx context.Context) (done func(), err error) {
	c, err := a.begin(ctx, true)
	if err != nil {
		return nil, err
	}
	return c.Done, nil
}

// command is one step that passed the gate. A proxied CDP command says when
// it has been written to Chromium (Sent) and when Chromium answered (Done):
// control is not handed over between the gate and the write.
type command struct {
	a          *Arbiter
	id         callID
	sent, done sync.Once
}

// Sent: the command is on its way to Chromium.
func (c *command) Sent() { c.sent.Do(func() { c.a.post(envelope{in: inStepSent{Call: c.id}}) }) }

// Done: Chromium answered, or the command will never be answered.
func (c *command) Done() {
	c.Sent()
	c.done.Do(func() { c.a.post(envelope{in: inStepEnd{Call: c.id}}) })
}

func (a *Arbiter) begin(ctx context.Context, sent bool) (*command, error) {
	for {
		// The change channel is taken before asking: a change between the
		// answer and the wait below then wakes the wait at once.
		_, changed := a.statusAndChange()
		id, err := a.callNow(func(id callID) input { return inBegin{Call: id, Sent: sent} })
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

// Wait blocks until automation may act, like Begin, without counting a
// step.
func (a *Arbiter) Wait(ctx context.Context) error {
	done, err := a.Begin(ctx)
	if err != nil {
		return err
	}
	done()
	return nil
}

// Do runs step as one automation step: it passes the gate first and counts
// as in flight until step returns (policy finish-step waits for it).
func (a *Arbiter) Do(ctx context.Context, step func(ctx context.Context) error) error {
	done, err := a.Begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	return step(ctx)
}

func (a *Arbiter) waitError(err error) error {
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
	case s.State == StateDisconnected:
		return fmt.Errorf("waiting for control: not connected to neko: %w", err)
	default:
		return fmt.Errorf("waiting for control (%s, gate %s): %w", s.State, s.Gate, err)
	}
}

// Acquire makes codrive the host. If nobody hosts it requests control. If a
// person hosts it does not steal: their client is sent control requests, at
// RequestInterval, until they release or ctx ends; with Takeover and an admin
// login it takes control instead.
func (a *Arbiter) Acquire(ctx context.Context) error {
	_, err := a.call(ctx, func(id callID) input { return inAcquire{Call: id} })
	if err != nil && ctx.Err() != nil && !errors.Is(err, ErrClosed) {
		return a.waitError(ctx.Err())
	}
	return err
}

// Release gives control back to the room (if codrive hosts), after
// restoring any room setting it locked, and drops the demand for it:
// automation does not take it again until Wait, Begin or Acquire.
func (a *Arbiter) Release(ctx context.Context) error {
	_, err := a.call(ctx, func(id callID) input { return inRelease{Call: id} })
	return err
}

// Pause stops automation for the operator: the gate closes and, if codrive
// hosts, control is released so a person can take it.
func (a *Arbiter) Pause(ctx context.Context) error {
	_, err := a.call(ctx, func(id callID) input { return inPause{Call: id} })
	return err
}

// Resume undoes Pause: automation takes control again when it needs it.
func (a *Arbiter) Resume() { a.post(envelope{in: inResume{}}) }

// Handoff asks a person for help: codrive unlocks the room if it locked it,
// releases control, tells every viewer why (send/broadcast, subject
// "codrive"), and returns when a person has taken control and released it
// again, or when ctx ends or Config.HandoffTimeout passes. Automation then
// takes control back.
func (a *Arbiter) Handoff(ctx context.Context, reason string) error {
	if reason == "" {
		reason = "automation needs a person"
	}
	_, err := a.call(ctx, func(id callID) input { return inHandoff{Call: id, Reason: reason} })
	return err
}

// Give hands control to a person (session id) on the operator's behalf.
// Automation then waits as after a yield, and takes control back when they
// release (unless NoReclaim).
func (a *Arbiter) Give(ctx context.Context, sessionID string) error {
	_, err := a.call(ctx, func(id callID) input { return inGive{Call: id, To: sessionID} })
	return err
}

// Take makes codrive the host at once, from whoever holds control. neko
// allows it to admins only.
func (a *Arbiter) Take(ctx context.Context) error {
	_, err := a.call(ctx, func(id callID) input { return inTake{Call: id} })
	return err
}

// WaitState blocks until the state satisfies ok or ctx ends.
func (a *Arbiter) WaitState(ctx context.Context, ok func(Status) bool) (Status, error) {
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
// codrive holds it, closes the socket with a normal close (so neko clears
// the host at once rather than after its 5 s grace) and logs out. When ctx
// ends first, the REST calls still under way are abandoned and Close
// finishes at once with what it has.
func (a *Arbiter) Close(ctx context.Context) error {
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

// Done is closed when codrive's neko connection has ended for good: Close,
// or neko refusing it (a password that no longer works after a restart,
// another socket taking over the session). Err says why.
func (a *Arbiter) Done() <-chan struct{} { return a.conn.Done() }

// Err is why the neko connection ended, nil while it lives.
func (a *Arbiter) Err() error {
	select {
	case <-a.conn.Done():
		return a.conn.Err()
	default:
		return nil
	}
}
