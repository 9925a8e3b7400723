package cdpproxy

import "time"

// Observer receives the proxy's measurements, for metrics (package codrive
// turns them into Session.Stats). Its methods are called on the proxy's hot
// path, from many goroutines at once: they must be quick, must not block and
// must be safe for concurrent use.
type Observer interface {
	// HoldEnded: an acting command left the hold after waiting d, for the
	// reason outcome says. Every held command ends exactly once.
	HoldEnded(d time.Duration, outcome HeldOutcome)
	// Answered: Chromium answered a command the proxy forwarded, d after the
	// proxy wrote it (a held command's wait is not included: HoldEnded has
	// it). class is how the gate treated the method.
	Answered(class Class, d time.Duration)
}

// observeAnswer reports a forwarded command's answer, if anyone listens and
// the command was timed.
func (p *Proxy) observeAnswer(e sent) {
	if p.opts.Observer != nil && !e.at.IsZero() {
		p.opts.Observer.Answered(e.class, time.Since(e.at))
	}
}

// stamp times a command about to be forwarded, when anyone listens: the
// clock is read only then.
func (p *Proxy) stamp(e sent, h *header) sent {
	if p.opts.Observer == nil {
		return e
	}
	e.at = time.Now()
	switch {
	case isCodrive(h):
		e.class = Local
	case h.hasMethod && !h.methodLong:
		e.class = Classify(h.method)
	default:
		e.class = Acting
	}
	return e
}
