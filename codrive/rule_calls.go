package codrive

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/codrive/codrive/neko"
)

// The rule's answers to automation, the operator and neko's REST answers.
// They record what is asked (want, paused, a handoff, a give) and who waits
// for what; what to do about it is decided in settle (rule.go).

func (r *rule) onAcquire(call callID) {
	if r.closing || r.ended {
		r.reply(call, ErrClosed)
		return
	}
	// An explicit acquire needs no reclaim grace and lifts NoReclaim.
	r.want, r.humanHad, r.freeAfterHuman = true, false, false
	r.askAt = r.now
	r.wait(call, "acquire", func() (bool, error) {
		switch {
		case r.state() == StateAutomation:
			return true, nil
		case r.closing || r.ended:
			return true, ErrClosed
		case r.acquireErr != nil:
			return true, r.acquireErr
		}
		return false, nil
	})
}

func (r *rule) onRelease(call callID, reason string) {
	if r.closing || r.ended {
		r.reply(call, nil)
		return
	}
	r.want = false
	r.releaseReason = reason
	r.dropWaiters("acquire", errors.New("codrive: control was released before it was acquired"))
	r.wait(call, "release", r.released)
}

// released: the release codrive asked for is done (or failed).
func (r *rule) released() (bool, error) {
	if r.opInFlight(opRelease) || r.opInFlight(opRestore) {
		return false, nil
	}
	if err := r.retryErr(opRelease); err != nil {
		return true, err
	}
	return r.state() != StateAutomation, nil
}

func (r *rule) onPause(call callID) {
	if r.closing || r.ended {
		r.reply(call, ErrClosed)
		return
	}
	// Paused, not uninterested: want stays, and Resume takes control back.
	r.paused = true
	r.releaseReason = "automation paused by the operator"
	if r.yield != nil && r.yield.op == 0 {
		r.yield = nil // release instead: the person can take it from a free room
	}
	r.emit(EventPause, "", "automation paused by the operator")
	r.wait(call, "pause", r.released)
}

func (r *rule) onResume() {
	// Resume also lifts NoReclaim's wait after a person's turn.
	r.paused, r.humanHad, r.freeAfterHuman = false, false, false
	r.emit(EventResume, "", "automation resumed by the operator")
}

func (r *rule) onHandoff(call callID, reason string) {
	switch {
	case r.closing || r.ended:
		r.tally.handoffs.Failed++
		r.reply(call, ErrClosed)
		return
	case r.handoff != nil:
		r.tally.handoffs.Failed++
		r.reply(call, fmt.Errorf("codrive: a handoff is already in progress (%s)", r.handoff.reason))
		return
	}
	// A person who already hosts is the one whose turn is waited out.
	msg := "codrive: automation needs a person: " + reason + ". Take control, then release it when done."
	if reason == "" {
		reason = "automation needs a person"
		msg = "codrive: automation needs a person. Take control, then release it when done."
	}
	r.handoff = &handoff{call: call, reason: reason, deadline: r.now.Add(r.cfg.HandoffTimeout), took: r.state() == StateHuman}
	r.want = true // automation wants control back afterwards
	r.releaseReason = "handoff: " + reason
	if r.yield != nil && r.yield.op == 0 {
		r.yield = nil
	}
	r.emit(EventHandoff, "", "handoff started: "+reason)
	r.out = append(r.out, effSend{Body: map[string]any{"reason": reason, "message": msg}, Chat: msg})
}

func (r *rule) endHandoff(err error, message string) {
	h := r.handoff
	r.handoff = nil
	switch c := &r.tally.handoffs; {
	case err == nil:
		c.Completed++
	case errors.Is(err, context.DeadlineExceeded):
		c.TimedOut++
	case errors.Is(err, context.Canceled):
		c.Cancelled++
	default:
		c.Failed++
	}
	// The person let go on purpose (or nobody came): automation takes
	// control back at once.
	r.freeAfterHuman, r.humanHad = false, false
	r.reply(h.call, err)
	r.emit(EventHandoff, "", message)
}

func (r *rule) onGive(call callID, to string) {
	switch {
	case r.closing || r.ended:
		r.reply(call, ErrClosed)
	case to == r.self:
		r.reply(call, errors.New("codrive: cannot give control to codrive's own session; use Acquire"))
	case r.give != nil:
		r.reply(call, errors.New("codrive: a give is already in progress"))
	default:
		r.give = &operatorOp{call: call, to: to}
		r.yield = &yielding{to: to, operator: true}
		r.humanHad = true
	}
}

func (r *rule) onTake(call callID) {
	switch {
	case r.closing || r.ended:
		r.reply(call, ErrClosed)
	case !r.cfg.Admin:
		r.reply(call, fmt.Errorf("codrive: take needs an admin login: %w", neko.ErrNotAdmin))
	case r.take != nil:
		r.reply(call, errors.New("codrive: a take is already in progress"))
	default:
		r.take = &operatorOp{call: call}
		r.want, r.humanHad, r.freeAfterHuman = true, false, false
	}
}

func (r *rule) onClose(call callID) {
	if r.closing {
		r.reply(call, nil)
		return
	}
	r.closing, r.want = true, false
	r.closeCall = call
	r.releaseReason = "codrive is closing"
	if r.yield != nil && r.yield.op == 0 {
		r.yield = nil
	}
	if r.give != nil && r.give.op == 0 {
		r.reply(r.give.call, ErrClosed)
		r.give = nil
	}
	if r.take != nil && r.take.op == 0 {
		r.reply(r.take.call, ErrClosed)
		r.take = nil
	}
	for _, w := range r.waiters {
		r.reply(w.call, ErrClosed)
	}
	r.waiters = nil
	if r.handoff != nil {
		r.endHandoff(ErrClosed, "handoff ended: codrive is closing")
	}
}

func (r *rule) onCancel(call callID, err error) {
	if h := r.handoff; h != nil && h.call == call {
		what := "no person took control"
		if h.took {
			what = "the person still holds control"
		}
		r.endHandoff(fmt.Errorf("handoff (%s): %s: %w", h.reason, what, err), "handoff ended: "+h.reason+": "+what)
		return
	}
	for _, o := range []**operatorOp{&r.give, &r.take} {
		if op := *o; op != nil && op.call == call && op.op == 0 {
			// Not sent yet: it never will be. One sent is answered when
			// neko answers.
			*o = nil
			if r.yield != nil && r.yield.operator && r.yield.op == 0 {
				r.yield = nil
			}
			r.reply(call, err)
			return
		}
	}
	for i, w := range r.waiters {
		if w.call == call {
			r.waiters = slices.Delete(r.waiters, i, i+1)
			r.reply(call, err)
			return
		}
	}
}

// --- REST results ----------------------------------------------------------

func (r *rule) onResult(res restResult) {
	op, ok := r.ops[res.Op]
	kind := op.Kind
	if !ok {
		return
	}
	delete(r.ops, res.Op)
	if res.Err != nil {
		r.retryAt[kind] = r.now.Add(r.cfg.RequestInterval)
		if r.closing {
			r.closeErrs = append(r.closeErrs, fmt.Errorf("%s: %w", kind, res.Err))
		}
	} else {
		delete(r.retryAt, kind)
	}
	switch kind {
	case opRequest:
		if res.Err != nil {
			if msg := res.Err.Error(); msg != r.requestErr {
				// Said once per cause: it is retried every RequestInterval.
				r.requestErr = msg
				r.fail(fmt.Sprintf("could not request control: %v; retrying every %s", res.Err, r.cfg.RequestInterval))
			}
			if res.Permanent && r.hasWaiter("acquire") {
				r.acquireErr = fmt.Errorf("request control: %w", res.Err)
			}
			break
		}
		r.requestErr = ""
		if !res.Pending {
			r.grantedAt = r.now // neko says yes; its control/host is on its way
		}
	case opRelease:
		if res.Err != nil {
			r.fail("could not release control: " + res.Err.Error())
		}
		r.answered(res)
	case opGive:
		if y := r.yield; y != nil && y.op == res.Op {
			if res.Err != nil {
				r.yield = nil
				r.fail(fmt.Sprintf("could not give control to %s: %v", r.describe(y.to), res.Err))
			} else {
				y.gaveAt = r.now
			}
		}
		r.answered(res)
		if g := r.give; g != nil && g.op == res.Op {
			r.give = nil
			r.reply(g.call, wrapErr("give control", res.Err))
		}
	case opTake:
		if t := r.take; t != nil && t.op == res.Op {
			r.take = nil
			r.reply(t.call, wrapErr("take control", res.Err))
		} else if res.Err != nil && r.hasWaiter("acquire") {
			r.acquireErr = fmt.Errorf("take control: %w", res.Err)
		}
	case opLock:
		switch {
		case res.Err != nil:
			r.fail("policy locked: could not lock the room: " + res.Err.Error())
		case res.Declined != "":
			r.lockDeclined = true
			r.emit(EventSettings, "", "the room is already locked by another codrive ("+res.Declined+"): not locking it again")
		default:
			r.lockApplied, r.saved = true, res.Before
			r.emit(EventSettings, "", fmt.Sprintf("controls locked while automation runs (before: %s)", res.Before))
		}
	case opRestore:
		switch {
		case res.Op == r.orphanOp:
			r.orphanOp = 0
			if res.Err != nil {
				r.fail("could not restore the room left locked by a codrive that is gone: " + res.Err.Error())
			} else {
				r.emit(EventSettings, "", "restored the room settings a codrive session that is gone had locked")
			}
		case res.Err != nil:
			r.fail("could not restore the room settings: " + res.Err.Error())
		default:
			r.emit(EventSettings, "", fmt.Sprintf("room settings restored (%s)", r.saved))
			r.lockApplied, r.saved = false, nil
		}
	}
}
