package cdpproxy

import "time"

// HeldOutcome says how a held command ended.
type HeldOutcome string

const (
	// HeldReleased: control came back and the command went to Chromium.
	HeldReleased HeldOutcome = "released"
	// HeldAnswered: an evaluation proven side-effect-free during the hold,
	// answered without waiting for control (see speculate.go).
	HeldAnswered HeldOutcome = "answered"
	// HeldTimedOut: the hold outlasted Options.HoldTimeout; the client got
	// a CDP error naming who holds control.
	HeldTimedOut HeldOutcome = "timed-out"
	// HeldFailed: the gate refused it for another reason (the arbiter
	// closed), or it was queued behind a command that failed and was failed
	// with it; the client got a CDP error, Detail says which.
	HeldFailed HeldOutcome = "failed"
	// HeldAbandoned: the client's connection, or the proxy, ended first;
	// nobody was left to answer.
	HeldAbandoned HeldOutcome = "abandoned"
)

// HeldCommand is an acting command that had to wait for control, reported
// to Options.OnHeld once it ended.
type HeldCommand struct {
	Method string // CDP method, e.g. Input.dispatchMouseEvent
	// Session is the CDP sessionId it was sent on; "" for the target the
	// connection itself is to.
	Session string
	Conn    int64     // the proxied connection, numbered from 1 in order of arrival
	Arrived time.Time // when the proxy received it
	// Held is how long it waited, from Arrived until it was released,
	// answered or failed.
	Held    time.Duration
	Outcome HeldOutcome
	// Detail is the error the client got (timed-out, failed), or why
	// nobody was answered (abandoned); empty otherwise.
	Detail string
}

// settle claims the right to answer h; false when someone already did. The
// winner reports how h ended to OnHeld, so each held command is reported
// exactly once.
func (r *relay) settle(h *heldCmd, outcome HeldOutcome, detail string) bool {
	if !h.settled.CompareAndSwap(false, true) {
		return false
	}
	r.p.nHeld.Add(-1)
	held := time.Since(h.arrived) // one reading: metrics and the recording agree
	if o := r.p.opts.Observer; o != nil {
		o.HoldEnded(held, outcome)
	}
	if f := r.p.opts.OnHeld; f != nil {
		f(HeldCommand{
			Method: h.h.method, Session: h.h.session, Conn: r.id,
			Arrived: h.arrived, Held: held,
			Outcome: outcome, Detail: detail,
		})
	}
	return true
}
