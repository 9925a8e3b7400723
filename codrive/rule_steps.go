package codrive

import (
	"fmt"
	"time"
)

// The rule's automation steps in flight: what passes the gate (onBegin, and
// the arbiter's fast gate, fastgate.go), what a step's command has reached,
// and what keeps a hand-over waiting for them (commands not yet sent,
// gestures held pressed). settle (rule.go) decides with them.

// onBegin lets a step through an open gate, or says errNotNow.
func (r *rule) onBegin(call callID, sent bool, kind stepKindT) {
	// What continues a gesture passes while codrive still hosts and has not
	// let go yet: the hand-over waits for the gesture to end.
	continues := kind == stepContinue && r.gestureOpen() && r.state() == StateAutomation &&
		r.expect == nil && (r.yield == nil || r.yield.op == 0)
	switch {
	case r.closing || r.ended:
		r.reply(call, ErrClosed)
	case r.gate() == GateOpen || continues:
		r.want = true
		st := stepInfo{gesture: kind == stepPress}
		if !sent {
			st.unsent = r.now
		}
		r.steps[call] = st
		r.lastActive = r.now
		r.reply(call, nil)
	default:
		r.want = true // acted on once nothing pauses automation
		r.reply(call, errNotNow)
	}
}

// fastOK: an ordinary step may pass without asking (the arbiter's fast
// gate): onBegin would let it through and change nothing but the steps.
func (r *rule) fastOK() bool {
	return r.gate() == GateOpen && r.want
}

// onAdopt takes over the steps that passed the fast gate, as if each had
// come through onBegin when the gate closed.
func (r *rule) onAdopt(in inAdopt) {
	for _, s := range in.Steps {
		st := stepInfo{}
		if !s.Sent {
			st.unsent = r.now
		}
		r.steps[s.Call] = st
	}
	if in.LastActive.After(r.lastActive) {
		r.lastActive = in.LastActive
	}
}

// onStepSent: the step's command reached Chromium.
func (r *rule) onStepSent(call callID) {
	if st, ok := r.steps[call]; ok {
		st.unsent = time.Time{}
		r.steps[call] = st
	}
}

// onStepEnd: Chromium answered the step, or never will.
func (r *rule) onStepEnd(call callID) {
	if _, ok := r.steps[call]; ok {
		delete(r.steps, call)
		r.lastActive = r.now
	}
}

// unsentSteps: a step passed the gate but its command has not reached
// Chromium yet. Control is not handed over until it has (or sentGrace
// passed: a proxy that never says so must not block the hand-over).
func (r *rule) unsentSteps() bool {
	var oldest time.Time
	for _, st := range r.steps {
		if at := st.unsent; !at.IsZero() && (oldest.IsZero() || at.Before(oldest)) {
			oldest = at
		}
	}
	if oldest.IsZero() {
		return false
	}
	if at := oldest.Add(sentGrace); r.now.Before(at) {
		r.wakeBy(at)
		return true
	}
	r.fail(fmt.Sprintf("a command passed the gate %s ago and never reached Chromium; handing control over anyway", sentGrace))
	for id, st := range r.steps {
		st.unsent = time.Time{}
		r.steps[id] = st
	}
	return false
}

// gestureOpen: automation holds a button, key or touch point pressed.
func (r *rule) gestureOpen() bool {
	for _, st := range r.steps {
		if st.gesture {
			return true
		}
	}
	return false
}

// gestureHeld: a hand-over (to a person, or "" for a release) waits while
// automation holds something pressed, so a person's clicks never land
// inside a script's click or drag; at most StepTimeout.
func (r *rule) gestureHeld(to string) bool {
	if !r.gestureOpen() {
		r.gestureWait = time.Time{}
		return false
	}
	if r.gestureWait.IsZero() {
		r.gestureWait = r.now
		who := "a person"
		if to != "" {
			who = r.describe(to)
		}
		r.emit(EventYield, to, fmt.Sprintf("waiting for automation to let go of what it holds pressed before handing control to %s", who))
	}
	if at := r.gestureWait.Add(r.cfg.StepTimeout); r.now.Before(at) {
		r.wakeBy(at)
		return true
	}
	r.fail(fmt.Sprintf("automation held a button or key pressed for %s; handing control over anyway", r.cfg.StepTimeout))
	for id, st := range r.steps {
		st.gesture = false
		r.steps[id] = st
	}
	return false
}
