package codrive

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// This file is codrive's arbitration rule: a pure transition function from
// one input (rule_io.go) to a new state plus effects. Here are its state,
// the policy table and settle, which decides every action; rule_neko.go
// records what neko reports, rule_calls.go what callers ask, rule_steps.go
// the automation steps in flight. It does no I/O and reads no clock, so tests drive it with simulated time and random
// interleavings (rule_sim_test.go). The Arbiter (arbiter.go) is its only
// owner: one goroutine feeds it inputs and carries out its effects.
//
// The rule keeps these promises (the invariants the tests check):
//
//	I1 automation never acts while a person hosts: the gate opens only
//	   while codrive hosts, closes before codrive hands control over, and
//	   control goes only once every command that passed the gate has
//	   reached Chromium (finish-step: once it has been answered). A person
//	   who takes control unasked can only meet what was already on its way;
//	I2 codrive never takes control from a person except by policy or an
//	   explicit takeover (Take, Acquire with Takeover); a session without a
//	   socket that holds control is nobody's hands;
//	I3 when the room stays free for ReclaimAfter and automation wants
//	   control, it asks for it; nothing blocks automation for ever;
//	I4 every host change neko reports becomes exactly one state event, in
//	   order;
//	I5 after Close the room's settings are as codrive found them and codrive
//	   does not host.
//
// Everything that decides an action is re-derived in settle after every
// input, from the state alone: a missed trigger can delay an action until
// the next input or wake-up, never lose it.

// policyRule is what a policy does, side by side with the others.
type policyRule struct {
	// Yields: a person asking for control gets it; automation pauses.
	Yields bool
	// FinishStep: before handing over, wait for the automation steps in
	// flight (at most StepTimeout).
	FinishStep bool
	// LocksRoom: while automation hosts, locked_controls is on and
	// implicit_hosting off, so viewers watch but cannot take; the exact
	// previous values come back afterwards.
	LocksRoom bool
	// NeedsAdmin: changing room settings is for neko admins.
	NeedsAdmin bool
	// Notice is what a person asking for control is told when automation
	// keeps it.
	Notice string
}

func (p Policy) rule() policyRule {
	switch p {
	case PolicyYield:
		return policyRule{Yields: true}
	case PolicyFinishStep:
		return policyRule{Yields: true, FinishStep: true}
	case PolicyHold:
		return policyRule{Notice: "codrive: automation is running and keeps control"}
	case PolicyLocked:
		return policyRule{LocksRoom: true, NeedsAdmin: true, Notice: "codrive: automation is running; controls are locked until it finishes"}
	}
	return policyRule{Yields: true}
}

// ruleConfig is the part of Config the rule reads.
type ruleConfig struct {
	Policy          Policy
	Admin           bool
	ReclaimAfter    time.Duration
	NoReclaim       bool
	StepTimeout     time.Duration
	IdleRelease     time.Duration
	RequestInterval time.Duration
	HandoffTimeout  time.Duration
	Takeover        bool
	// User is codrive's neko user: another session of the same user is
	// codrive too (StateCodrive), never a person.
	User string
}

// reportGrace bounds the wait for the control/host of a change neko said yes
// to. neko broadcasts it before it answers the REST call
// (internal/session/manager.go, then api/room/control.go), so it comes within
// milliseconds unless something is broken; then codrive stops waiting rather
// than block for ever, and says so.
const reportGrace = 10 * time.Second

// sentGrace bounds the wait for a command that passed the gate to reach
// Chromium before control is handed over: microseconds normally.
const sentGrace = time.Second

// errNotNow answers a Begin while the gate is closed: wait for a change and
// ask again.
var errNotNow = errors.New("codrive: gate closed")

// yielding is a hand-over of control to a person: a policy's answer to
// their request, or an operator's Give (operator). The gate stays closed
// from its start until neko reports the new host.
type yielding struct {
	to       string
	operator bool
	deadline time.Time // finish-step: hand over by then, steps or not
	told     bool      // the yield event about steps in flight was emitted
	op       opID      // the give, once sent
	gaveAt   time.Time // when neko said yes to it
}

type handoff struct {
	call     callID
	reason   string
	deadline time.Time
	// took: a person has hosted since the handoff started (counted from
	// neko's events, so a quick take-and-release is not missed).
	took bool
}

// operatorOp is a Give or Take the operator asked for.
type operatorOp struct {
	call callID
	to   string
	op   opID // once sent
}

// expectation is a host change codrive asked neko for (a release or a
// give) and neko has yet to report, with the reason to give it. Until it is
// reported, the gate stays closed: neko's answer and its control/host race
// on different sockets, and an older control/host still on its way can show
// the same host. The report is the one whose actor is codrive itself.
type expectation struct {
	host, reason string
	op           opID
	by           time.Time // set when neko said yes: give up waiting then
}

type rule struct {
	cfg ruleConfig
	pol policyRule
	now time.Time
	out []effect

	// What neko said, in the order it said it.
	connected, ended bool
	self, host       string
	since            time.Time // of the current state
	reason           string    // why the state last changed
	settings         roomSettings
	sessions         map[string]sessionInfo
	// codrives are the sessions that announced themselves as codrive
	// (inHello), by session id.
	codrives map[string]bool
	// At the last drop: did codrive host, did a person?
	heldAtDrop, personAtDrop bool

	// What automation and the operator want.
	want    bool // automation wants to host
	paused  bool
	closing bool
	// humanHad: a person hosted since automation last claimed control
	// (NoReclaim then keeps automation away).
	humanHad bool
	// freeAfterHuman: the room became free when a person let go, at freeSince;
	// automation waits ReclaimAfter before asking.
	freeAfterHuman bool
	freeSince      time.Time
	// steps in flight (see stepInfo), and since when a gesture has held up
	// a hand-over.
	steps         map[callID]stepInfo
	gestureWait   time.Time
	lastActive    time.Time
	releaseReason string

	// Hand-overs and requests in progress.
	yield   *yielding
	handoff *handoff
	give    *operatorOp
	take    *operatorOp
	pending map[string]PendingRequest
	expect  *expectation

	// REST operations in flight, and when each kind may be tried again.
	ops        map[opID]effREST
	nextOp     opID
	retryAt    map[restKind]time.Time
	grantedAt  time.Time // a request was granted; its control/host is due
	askAt      time.Time // Acquire asks the person who hosts again at
	takeTried  bool      // Acquire's takeover, once per person's turn
	acquireErr error
	requestErr string // the last request failure reported

	// Policy locked.
	lockApplied  bool
	lockDeclined bool // someone else undid or holds the lock: not fought this turn
	saved        *lockSettings
	orphanOp     opID
	orphanWarned string
	deadWarned   string

	waiters []waiter

	closeCall  callID
	closeTried map[restKind]bool
	closeErrs  []error
	shutdown   bool

	wakeAt, nextWake time.Time
	// helloBy: until then, control waits for codrive's announcement to have
	// gone out (zero: it has).
	helloBy time.Time

	// Counted for Stats; nothing decides on them.
	tally tally
}

// waiter is a caller waiting for a condition of the state.
type waiter struct {
	call  callID
	kind  string
	check func() (done bool, err error)
}

func newRule(cfg ruleConfig) *rule {
	return &rule{
		cfg:        cfg,
		pol:        cfg.Policy.rule(),
		sessions:   map[string]sessionInfo{},
		codrives:   map[string]bool{},
		steps:      map[callID]stepInfo{},
		pending:    map[string]PendingRequest{},
		ops:        map[opID]effREST{},
		retryAt:    map[restKind]time.Time{},
		closeTried: map[restKind]bool{},
	}
}

// step applies one input at time now and returns the effects to carry out,
// in order.
func (r *rule) step(now time.Time, in input) []effect {
	// The effects of the last step have been carried out: reuse the slice.
	r.now, r.out = now, r.out[:0]
	switch in := in.(type) {
	case inInit:
		r.onInit(in)
	case inHost:
		r.onHost(in.Actor, in.Host)
	case inRequest:
		r.onRequest(in.From)
	case inSettings:
		r.onSettings(in)
	case inSession:
		r.onSession(in)
	case inHello:
		r.onHello(in)
	case inConnLost:
		r.onConnLost(in.Reason, in.Attempt)
	case inConnEnded:
		r.onConnEnded(in.Reason)
	case inBegin:
		r.onBegin(in.Call, in.Sent, in.Kind)
	case inStepSent:
		r.onStepSent(in.Call)
	case inStepEnd:
		r.onStepEnd(in.Call)
	case inAdopt:
		r.onAdopt(in)
	case inAcquire:
		r.onAcquire(in.Call)
	case inRelease:
		r.onRelease(in.Call, "automation released control")
	case inPause:
		r.onPause(in.Call)
	case inResume:
		r.onResume()
	case inHandoff:
		r.onHandoff(in.Call, in.Reason)
	case inGive:
		r.onGive(in.Call, in.To)
	case inTake:
		r.onTake(in.Call)
	case inClose:
		r.onClose(in.Call)
	case inCancel:
		r.onCancel(in.Call, in.Err)
	case restResult:
		r.onResult(in)
	case inTick:
	}
	r.settle()
	return r.out
}

// --- settle: what follows from the state -----------------------------------

func (r *rule) settle() {
	r.nextWake = time.Time{}
	if e := r.expect; e != nil && !e.by.IsZero() {
		if r.now.Before(e.by) {
			r.wakeBy(e.by)
		} else {
			r.expect = nil
			r.fail("neko moved control for codrive but never reported it; going by what it said before")
		}
	}
	r.progressYield()
	r.checkIdle()
	r.checkHandoff()
	r.syncLock()
	r.syncHost()
	r.answerWaiters()
	r.finishClose()
	if !r.nextWake.Equal(r.wakeAt) {
		r.wakeAt = r.nextWake
		r.out = append(r.out, effWake{At: r.nextWake})
	}
}

func (r *rule) progressYield() {
	y := r.yield
	if y == nil {
		return
	}
	if y.op != 0 {
		// Given, and neko said yes: its control/host must follow. If it
		// does not, stop yielding rather than block automation for ever.
		if !y.gaveAt.IsZero() {
			if at := y.gaveAt.Add(reportGrace); r.now.Before(at) {
				r.wakeBy(at)
			} else {
				r.yield = nil
				r.fail(fmt.Sprintf("gave control to %s but neko did not move it; automation goes on", r.describe(y.to)))
			}
		}
		return
	}
	if !r.connected || r.closing || (!y.operator && r.state() != StateAutomation) {
		return
	}
	if r.lockApplied || r.opInFlight(opLock) || r.opInFlight(opRestore) {
		return // the room is unlocked first (syncLock), then given
	}
	if r.opInFlight(opRelease) || r.opInFlight(opRequest) || r.opInFlight(opTake) || r.expect != nil {
		return // one move of control at a time
	}
	if r.unsentSteps() || r.gestureHeld(y.to) || r.announcing() {
		return // what passed the gate reaches Chromium first, gestures end
	}
	if n := len(r.steps); r.pol.FinishStep && !y.operator && n > 0 {
		if r.now.Before(y.deadline) {
			if !y.told {
				y.told = true
				r.emit(EventYield, y.to, fmt.Sprintf("waiting for %d automation step(s) in flight before yielding to %s", n, r.describe(y.to)))
			}
			r.wakeBy(y.deadline)
			return
		}
		r.fail(fmt.Sprintf("step in flight did not finish within %s; yielding anyway", r.cfg.StepTimeout))
	}
	why := fmt.Sprintf("%s asked for control (policy %s)", r.describe(y.to), r.cfg.Policy)
	if y.operator {
		why = fmt.Sprintf("given to %s by the operator", r.describe(y.to))
	}
	y.op = r.rest(effREST{Kind: opGive, To: y.to})
	r.expect = &expectation{host: y.to, reason: why, op: y.op}
	if y.operator {
		r.give.op = y.op
	}
}

func (r *rule) checkIdle() {
	if r.cfg.IdleRelease <= 0 || r.state() != StateAutomation || !r.wantsHost() ||
		len(r.steps) > 0 || r.yield != nil {
		return
	}
	at := r.lastActive.Add(r.cfg.IdleRelease)
	if r.now.Before(at) {
		r.wakeBy(at)
		return
	}
	r.want = false
	r.releaseReason = fmt.Sprintf("automation idle for %s: released", r.cfg.IdleRelease)
}

func (r *rule) checkHandoff() {
	h := r.handoff
	if h == nil {
		return
	}
	if r.now.Before(h.deadline) {
		r.wakeBy(h.deadline)
		return
	}
	what := "no person took control"
	if h.took {
		what = "the person still holds control"
	}
	err := fmt.Errorf("handoff (%s): %s within %s: %w", h.reason, what, r.cfg.HandoffTimeout, context.DeadlineExceeded)
	r.endHandoff(err, "handoff timed out: "+h.reason+": "+what)
}

// syncLock makes the room's lock match what policy locked wants now, and
// clears locks left by codrive sessions that are gone.
func (r *rule) syncLock() {
	if r.opInFlight(opLock) || r.opInFlight(opRestore) {
		return
	}
	if r.connected {
		if l := r.settings.Lease; l != nil && l.Owner != r.self && !r.sessions[l.Owner].Connected {
			// A lease whose codrive is gone: undo its lock, exactly. A
			// still-connected codrive's lock is never touched.
			if r.cfg.Admin {
				r.orphanOp = r.rest(effREST{Kind: opRestore, Want: &l.Before})
				return
			}
			if r.orphanWarned != l.Owner {
				r.orphanWarned = l.Owner
				r.fail(fmt.Sprintf("the room was left locked by codrive session %s, which is gone; restoring it needs an admin login (codrive control reset)", l.Owner))
			}
		}
	}
	if !r.connected && !r.closing {
		return // a lost socket is not a lost host: keep the lock until neko answers
	}
	want := r.pol.LocksRoom && r.connected && r.state() == StateAutomation && r.wantsHost() &&
		!r.lockDeclined && r.yield == nil
	switch {
	case want && !r.lockApplied && r.may(opLock):
		r.rest(effREST{Kind: opLock, Self: r.self})
	case !want && r.lockApplied && r.may(opRestore):
		r.rest(effREST{Kind: opRestore, Want: r.saved})
	}
}

// syncHost asks neko for what automation wants: release, give, take or
// request control.
func (r *rule) syncHost() {
	st := r.state()
	// One move of control at a time, and none while neko has yet to report
	// the last one.
	busy := r.opInFlight(opRequest) || r.opInFlight(opRelease) || r.opInFlight(opGive) ||
		r.opInFlight(opTake) || r.expect != nil
	if busy || (!r.connected && !r.closing) || r.ended && !r.closing {
		return
	}
	if r.announcing() {
		return
	}
	lockBusy := r.lockApplied || r.opInFlight(opLock) || r.opInFlight(opRestore)
	hosting := st == StateAutomation || (r.closing && !r.connected && r.heldAtDrop)
	switch {
	case hosting && !r.wantsHost() && r.yield == nil && !lockBusy && r.may(opRelease) && !r.unsentSteps() &&
		(r.closing || !r.gestureHeld("")):
		r.expect = &expectation{host: "", reason: r.releaseReason, op: r.rest(effREST{Kind: opRelease})}
	case r.take != nil && r.take.op == 0:
		r.take.op = r.rest(effREST{Kind: opTake})
	case !r.connected || r.closing:
	case someoneElse(st) && r.deadHost() && r.wantsHost():
		// Nobody's hands: a session without a socket holds control (neko
		// clears a host when its socket goes, except after a REST take or
		// give that lands late, e.g. from a codrive that crashed).
		switch {
		case r.cfg.Admin && !r.takeTried:
			r.takeTried = true
			r.rest(effREST{Kind: opTake, To: r.host}) // only from that session
		case !r.cfg.Admin && r.deadWarned != r.host:
			r.deadWarned = r.host
			r.fail(fmt.Sprintf("control is held by %s, which is not connected; an admin can free it (codrive control release)", r.describe(r.host)))
		}
	case someoneElse(st) && r.hasWaiter("acquire") && r.cfg.Takeover && r.cfg.Admin:
		if !r.takeTried {
			r.takeTried = true
			r.rest(effREST{Kind: opTake})
		}
	case someoneElse(st) && r.hasWaiter("acquire"):
		// Acquire never steals: the host is asked, again and again.
		if r.now.Before(r.askAt) {
			r.wakeBy(r.askAt)
			return
		}
		r.askAt = r.now.Add(r.cfg.RequestInterval)
		r.wakeBy(r.askAt)
		r.rest(effREST{Kind: opRequest})
	case st == StateFree && r.wantsHost() && r.yield == nil && r.reclaimAllowed() && r.may(opRequest):
		if !r.grantedAt.IsZero() {
			if at := r.grantedAt.Add(r.cfg.RequestInterval); r.now.Before(at) {
				r.wakeBy(at)
				return
			}
		}
		r.rest(effREST{Kind: opRequest})
	}
}

// reclaimAllowed: after a person's turn, automation waits ReclaimAfter of
// free room, and with NoReclaim it waits for Resume or Acquire.
func (r *rule) reclaimAllowed() bool {
	if r.cfg.NoReclaim && r.humanHad {
		return false
	}
	if r.freeAfterHuman {
		if at := r.freeSince.Add(r.cfg.ReclaimAfter); r.now.Before(at) {
			r.wakeBy(at)
			return false
		}
	}
	return true
}

func (r *rule) answerWaiters() {
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if done, err := w.check(); done {
			r.reply(w.call, err)
			continue
		}
		kept = append(kept, w)
	}
	r.waiters = kept
	r.acquireErr = nil
}

// finishClose ends Close once the lock is restored and control released
// (each tried once while closing).
func (r *rule) finishClose() {
	if !r.closing || r.shutdown || len(r.ops) > 0 {
		return
	}
	hosting := r.state() == StateAutomation || (!r.connected && r.heldAtDrop)
	if (r.lockApplied && !r.closeTried[opRestore]) || (hosting && !r.closeTried[opRelease]) ||
		r.give != nil || r.take != nil {
		return
	}
	r.shutdown = true
	r.out = append(r.out, effShutdown{Call: r.closeCall, Err: errors.Join(r.closeErrs...)})
}
