package codrive

import (
	"context"

	"github.com/codrive/codrive/neko"
)

// Status returns the arbitration as it is now: who drives, why, and
// whether automation may act (Status.Gate).
func (s *Session) Status() Status { return s.arb.Status() }

// Subscribe delivers the session's events from now on, in order, until the
// session closes (the channel closes) or cancel is called. A subscriber
// that falls behind never blocks codrive or other subscribers: its events
// queue for it. Call cancel when done reading. Status may be a moment ahead
// of the last event delivered: to wait for a state, use WaitState.
func (s *Session) Subscribe() (events <-chan Event, cancel func()) { return s.hub.Subscribe() }

// Begin waits until automation may act (codrive hosts and nothing paused
// it), asking neko for control if nobody hosts, and then counts one
// automation step in flight until done is called. Passing the gate and
// counting the step are one decision, so policy finish-step never hands
// control over between the two. Begin never takes control from a person;
// when ctx ends first it returns an error naming who holds control.
func (s *Session) Begin(ctx context.Context) (done func(), err error) { return s.arb.Begin(ctx) }

// Do runs step as one automation step: it passes the gate first (see Begin)
// and counts as in flight until step returns, so policy finish-step lets it
// finish before handing control to a person.
func (s *Session) Do(ctx context.Context, step func(ctx context.Context) error) error {
	return s.arb.Do(ctx, step)
}

// Wait blocks until automation may act, like Begin, without counting a
// step: for automation that acts right after, and does not mind a person
// taking over in between.
func (s *Session) Wait(ctx context.Context) error { return s.arb.Wait(ctx) }

// WaitState blocks until the status satisfies ok, and returns that status.
// When ctx ends first it returns the last status and ctx's error; after
// Close, ErrClosed.
func (s *Session) WaitState(ctx context.Context, ok func(Status) bool) (Status, error) {
	return s.arb.WaitState(ctx, ok)
}

// Acquire makes codrive the host now, rather than when automation first
// acts. If nobody hosts it requests control. If a person hosts it does not
// steal: their client is sent control requests until they release or ctx
// ends; with Options.Takeover and an admin login it takes control instead.
func (s *Session) Acquire(ctx context.Context) error { return s.arb.Acquire(ctx) }

// Release gives control back to the room (if codrive hosts), after
// restoring any room setting it locked, and drops the demand for it:
// automation does not take it again until Begin, Do, Wait or Acquire.
func (s *Session) Release(ctx context.Context) error { return s.arb.Release(ctx) }

// Pause stops automation for the operator: the gate closes and, if codrive
// hosts, control is released so a person can take it. Resume undoes it.
func (s *Session) Pause(ctx context.Context) error { return s.arb.Pause(ctx) }

// Resume undoes Pause: automation takes control again when it needs it.
func (s *Session) Resume() { s.arb.Resume() }

// Handoff asks a person for help (a CAPTCHA, a login): codrive unlocks the
// room if it locked it, releases control and tells every viewer why (neko's
// send/broadcast, subject "codrive", with the reason and a message). It
// returns when a person has taken control and released it again, or when
// ctx ends or Options.HandoffTimeout passes; automation then takes control
// back. An empty reason says "automation needs a person".
// Scripts behind the proxy can do the same with the CDP command
// Codrive.handoff.
func (s *Session) Handoff(ctx context.Context, reason string) error {
	return s.arb.Handoff(ctx, reason)
}

// Give hands control to the session id (a Participant's ID) on the
// operator's behalf. Automation then waits as after a yield, and takes
// control back when they release (unless Options.NoReclaim).
func (s *Session) Give(ctx context.Context, sessionID string) error {
	return s.arb.Give(ctx, sessionID)
}

// Take makes codrive the host at once, from whoever holds control. neko
// allows it to admins only.
func (s *Session) Take(ctx context.Context) error { return s.arb.Take(ctx) }

// Participants lists the sessions in the neko room, codrive's own included
// (Self), sorted by name: who a Give can go to, and who is watching.
func (s *Session) Participants() []Participant {
	room := s.arb.conn.Room()
	return participantsOf(room, func(d neko.SessionData) bool { return s.arb.isCodrive(d, room.SessionID) })
}

// Connection reports the health of codrive's link to neko.
func (s *Session) Connection() Connection { return s.arb.connection() }

// Done is closed when the session's link to neko has ended for good: after
// Close, or when neko refused codrive (a password that no longer works
// after a neko restart, another client taking over the session). codrive
// reconnects by itself after every other drop. Err says why it ended.
func (s *Session) Done() <-chan struct{} { return s.arb.Done() }

// Err says why Done closed; nil while the link lives.
func (s *Session) Err() error { return s.arb.Err() }

// PageInfo is the attached tab's last known URL and title; Attached is
// false while Chromium is gone and codrive re-attaches (and without
// Options.CDPURL).
func (s *Session) PageInfo() PageInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}
