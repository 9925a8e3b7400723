package codrive

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// The rule's status snapshot and its small helpers.

func (r *rule) status() Status {
	s := Status{
		State: r.state(), Since: r.since, Reason: r.reason, Session: r.self,
		Policy: r.cfg.Policy, Gate: r.gate(), Paused: r.paused || r.handoff != nil,
		Locked: r.lockApplied && !r.lockDeclined, Steps: len(r.steps),
	}
	if s.State == StateAutomation || someoneElse(s.State) {
		s.Host, s.HostName = r.host, r.name(r.host)
	}
	if r.handoff != nil {
		s.Handoff = r.handoff.reason
	}
	s.Go = s.Gate == GateOpen
	if len(r.pending) == 0 {
		return s
	}
	for _, id := range slices.Sorted(maps.Keys(r.pending)) {
		s.Pending = append(s.Pending, r.pending[id])
	}
	slices.SortStableFunc(s.Pending, func(a, b PendingRequest) int { return a.Since.Compare(b.Since) })
	return s
}

func (r *rule) rest(e effREST) opID {
	r.nextOp++
	e.Op = r.nextOp
	r.ops[e.Op] = e
	if r.closing {
		r.closeTried[e.Kind] = true
	}
	r.out = append(r.out, e)
	return e.Op
}

func (r *rule) opInFlight(k restKind) bool {
	for _, op := range r.ops {
		if op.Kind == k {
			return true
		}
	}
	return false
}

// may: an operation of this kind may be tried now (not before its retry
// time; while closing, once).
func (r *rule) may(k restKind) bool {
	if r.closing {
		return !r.closeTried[k]
	}
	if at, ok := r.retryAt[k]; ok && r.now.Before(at) {
		r.wakeBy(at)
		return false
	}
	return true
}

// retryErr reports the last failure of kind k if it is still waiting for
// its retry.
func (r *rule) retryErr(k restKind) error {
	if at, ok := r.retryAt[k]; ok && r.now.Before(at) {
		return fmt.Errorf("codrive: %s failed (see the error event)", k)
	}
	return nil
}

// answered: neko answered the release or give behind the expectation. A
// refusal means the change will not come; a yes, that its report must come
// within reportGrace.
func (r *rule) answered(res restResult) {
	e := r.expect
	if e == nil || e.op != res.Op {
		return
	}
	if res.Err != nil || res.NotHost {
		r.expect = nil
		return
	}
	e.by = r.now.Add(reportGrace)
}

func (r *rule) wakeBy(t time.Time) {
	if r.nextWake.IsZero() || t.Before(r.nextWake) {
		r.nextWake = t
	}
}

func (r *rule) wait(call callID, kind string, check func() (bool, error)) {
	r.waiters = append(r.waiters, waiter{call: call, kind: kind, check: check})
}

func (r *rule) hasWaiter(kind string) bool {
	return slices.ContainsFunc(r.waiters, func(w waiter) bool { return w.kind == kind })
}

func (r *rule) dropWaiters(kind string, err error) {
	r.waiters = slices.DeleteFunc(r.waiters, func(w waiter) bool {
		if w.kind == kind {
			r.reply(w.call, err)
			return true
		}
		return false
	})
}

func (r *rule) reply(call callID, err error) {
	r.out = append(r.out, effReply{Call: call, Err: err})
}

func (r *rule) send(to string, body map[string]any) {
	r.out = append(r.out, effSend{To: to, Body: body})
}

func (r *rule) emit(kind EventKind, actor, reason string) {
	r.out = append(r.out, effEmit{Ev: Event{
		Time: r.now, Kind: kind, Actor: actor, ActorName: r.name(actor), Reason: reason, Status: r.status(),
	}})
}

func (r *rule) fail(reason string) { r.emit(EventError, "", reason) }

func (r *rule) holdMessage() string {
	msg := r.pol.Notice
	if r.cfg.IdleRelease > 0 {
		msg += fmt.Sprintf("; it releases control after %s without activity", r.cfg.IdleRelease)
	}
	return msg
}

func (r *rule) name(id string) string {
	if id == "" {
		return ""
	}
	if s, ok := r.sessions[id]; ok && s.Name != "" {
		return s.Name
	}
	return id
}

func (r *rule) describe(id string) string { return describeHost(id, r.name(id)) }

func locked(s lockSettings) bool { return s.LockedControls && !s.ImplicitHosting }

func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}

// --- Derived state ---------------------------------------------------------

func (r *rule) state() State {
	switch {
	case !r.connected:
		return StateDisconnected
	case r.host == "":
		return StateFree
	case r.host == r.self:
		return StateAutomation
	case r.isCodrive(r.host):
		return StateCodrive
	}
	return StateHuman
}

// deadHost: the host is a session neko says is not connected.
func (r *rule) deadHost() bool {
	s, ok := r.sessions[r.host]
	return ok && !s.Connected
}

// wantsHost: automation wants to host now.
func (r *rule) wantsHost() bool {
	return r.want && !r.paused && r.handoff == nil && !r.closing && !r.ended
}

func (r *rule) gate() Gate {
	st := r.state()
	switch {
	case r.closing || r.ended:
		return GateClosed
	case r.handoff != nil:
		return GateHandoff
	case r.paused:
		return GatePaused
	case st == StateAutomation && (r.yield != nil || r.opInFlight(opGive)):
		return GateYielding
	case st == StateAutomation && r.expect != nil:
		return GateWaiting // letting go: neko's control/host is on its way
	case st == StateAutomation:
		return GateOpen
	}
	return GateWaiting
}
