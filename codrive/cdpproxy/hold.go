package cdpproxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// heldCmd is an acting command waiting for control.
type heldCmd struct {
	h       header
	pl      payload
	arrived time.Time
	// spec, for an evaluation, receives whether the proxy answered it by
	// proving it side-effect-free (see speculate); nil when not tried.
	spec chan bool
	// settled is set by whoever answers or drops the command first: the
	// drain, a speculation, or the end of the connection.
	settled atomic.Bool
}

func isCodrive(h *header) bool { return h.hasMethod && strings.HasPrefix(h.method, "Codrive.") }

// route sends one client message where it goes: to Chromium at once, to
// the Codrive domain, or through the gate. pl may live in a pooled buffer:
// whatever keeps it past the call owns a copy.
func (r *relay) route(h *header, pl payload) {
	if r.p.opts.LogCDP {
		r.log.Debug("cdpproxy: client → chromium", "cdp", truncate(string(pl.head), 4096))
	}
	switch {
	case !h.idOK:
		// Chromium answers this with an error that has no id (not JSON, not
		// an object, an id it refuses): nothing runs, nothing to map.
		r.p.nPassed.Add(1)
		_ = r.writeUpstream(&pl, h, 0, false)
		return
	case isCodrive(h):
		r.codrive(h, &pl)
		return
	case r.ctrl == nil || !h.refusable():
		r.send(&pl, h, nil)
		return
	}
	cls := Acting
	if !h.methodLong {
		cls = Classify(h.method)
	}
	switch cls {
	case Observing:
		r.send(&pl, h, nil)
	case Evaluating:
		if r.evalObserving(h) {
			r.send(&pl, h, nil)
			return
		}
		r.act(h, pl, true)
	default:
		r.act(h, pl, false)
	}
}

// refusable is false for a command Chromium refuses whatever its method
// (no method, params that are not an object): there is nothing to gate.
func (h *header) refusable() bool {
	return (h.hasMethod || h.methodLong) && h.paramsOK()
}

// send forwards a command that may run now, with an id of the proxy's;
// step is an acting command's, Sent once written and Done by Chromium's
// answer.
func (r *relay) send(pl *payload, h *header, step Step) {
	pid := r.ids.add(r.p.stamp(sent{client: h.id, session: h.session, done: r.gest.passed(h, step)}, h))
	r.p.nPassed.Add(1)
	err := r.writeUpstream(pl, h, pid, true)
	if step != nil {
		step.Sent()
	}
	if err != nil {
		// The connection is ending; its end settles the rest.
		if e, ok := r.ids.take(pid); ok {
			end([]sent{e})
		}
	}
}

// busy tells whether held commands are queued: acting commands then wait
// behind them, to keep their order.
func (r *relay) busy() bool {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	return r.draining
}

// act forwards an acting command at once when the gate lets it through and
// nothing is queued, else queues it behind the ones already held.
func (r *relay) act(h *header, pl payload, evaluation bool) {
	// Only this goroutine starts a drain, so with nothing queued nothing can
	// slip in ahead of this command. Begin with an ended context passes an
	// open gate without waiting; a closed one sends the command to the
	// queue, whose drain waits in Begin.
	if !r.busy() {
		if step, err := r.ctrl.Begin(r.p.ended, r.gest.kind(h)); err == nil {
			r.send(&pl, h, step)
			return
		}
	}
	hc := &heldCmd{h: *h, pl: pl.own(), arrived: time.Now()}
	r.p.nHeld.Add(1)
	r.p.nHeldTot.Add(1)
	r.log.Debug("cdpproxy: holding", "method", h.method, "session", h.session)
	if evaluation {
		// Concurrently: a read proven side-effect-free is observing, and
		// observing commands do not wait behind held ones.
		hc.spec = make(chan bool, 1)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			hc.spec <- r.speculate(hc)
		}()
	}
	r.qmu.Lock()
	r.queue = append(r.queue, hc)
	start := !r.draining
	r.draining = true
	r.qmu.Unlock()
	if start {
		r.wg.Add(1)
		go r.drain()
	}
}

// drain sends held commands in order as control allows, and ends when the
// queue is empty.
func (r *relay) drain() {
	defer r.wg.Done()
	for {
		r.qmu.Lock()
		if len(r.queue) == 0 {
			r.draining = false
			r.qmu.Unlock()
			return
		}
		h := r.queue[0]
		r.queue[0] = nil
		r.queue = r.queue[1:]
		r.qmu.Unlock()
		if !r.process(h) {
			r.failQueue(h)
		}
	}
}

// process waits for control for one held command and sends it; false when
// the command failed, and with it the commands queued behind it.
func (r *relay) process(h *heldCmd) bool {
	ctx, cancel := context.WithDeadline(r.ctx, h.arrived.Add(r.p.opts.HoldTimeout))
	defer cancel()
	if h.spec != nil {
		select {
		case answered := <-h.spec:
			if answered {
				return true
			}
		case <-ctx.Done():
		}
	}
	step, err := r.ctrl.Begin(ctx, r.gest.kind(&h.h))
	if r.ctx.Err() != nil {
		if err == nil {
			step.Done()
		}
		r.settle(h, HeldAbandoned, "the connection ended during the hold")
		return true // the connection is ending: nobody to answer
	}
	if err != nil {
		outcome := HeldFailed
		if errors.Is(err, context.DeadlineExceeded) {
			outcome = HeldTimedOut
		}
		msg := holdMessage(r.ctrl.Status(), h.h.method, time.Since(h.arrived), err, "")
		if !r.settle(h, outcome, msg) {
			return true // a late speculation answered it
		}
		if outcome == HeldTimedOut {
			r.p.nTimedOut.Add(1)
		}
		r.log.Info("cdpproxy: held command failed", "method", h.h.method, "err", err)
		_ = r.replyError(h.h.replyTo(), -32000, msg)
		r.p.mem.released(h.pl.size())
		return false
	}
	if !r.settle(h, HeldReleased, "") {
		step.Done()
		return true // a late speculation answered it
	}
	r.send(&h.pl, &h.h, step)
	r.p.mem.released(h.pl.size())
	return true
}

// failQueue fails every command queued behind failed: they were sent under
// the same hold, and running them later, without the one before them, would
// act on the page out of sequence. Commands that arrive after this start a
// new queue with their own HoldTimeout.
func (r *relay) failQueue(failed *heldCmd) {
	r.qmu.Lock()
	rest := r.queue
	r.queue = nil
	r.qmu.Unlock()
	st := r.ctrl.Status()
	for _, h := range rest {
		msg := holdMessage(st, h.h.method, time.Since(h.arrived), context.DeadlineExceeded,
			fmt.Sprintf(", queued behind %s, which failed", failed.h.method))
		if !r.settle(h, HeldFailed, msg) {
			continue
		}
		r.p.nTimedOut.Add(1)
		_ = r.replyError(h.h.replyTo(), -32000, msg)
	}
}

// holdMessage explains to a script author why a command did not run.
func holdMessage(st Status, method string, held time.Duration, waitErr error, suffix string) string {
	since := "?"
	if !st.Since.IsZero() {
		since = st.Since.Local().Format("15:04:05")
	}
	var who string
	switch st.State {
	case StateHuman:
		name := st.HostName
		if name == "" {
			name = st.Host
		}
		if name == "" {
			name = "unknown"
		}
		who = fmt.Sprintf("a person holds control (session %s) since %s", name, since)
	case StateCodrive:
		who = fmt.Sprintf("another codrive session holds control (%s) since %s", cmp.Or(st.HostName, st.Host, "unknown"), since)
	case StatePaused:
		who = "automation is paused since " + since
	case StateDisconnected:
		who = "codrive is disconnected from neko since " + since
	case StateFree:
		who = "nobody holds control and codrive could not take it (free since " + since + ")"
	case StateAutomation:
		who = "automation got control back just too late"
	default:
		who = fmt.Sprintf("control is %q since %s", st.State, since)
	}
	if st.Reason != "" {
		who += " (" + st.Reason + ")"
	}
	if waitErr != nil && !errors.Is(waitErr, context.DeadlineExceeded) && !errors.Is(waitErr, context.Canceled) {
		return fmt.Sprintf("codrive: command %s not sent: %v; %s", method, waitErr, who)
	}
	return fmt.Sprintf("codrive: %s; command %s held %s%s", who, method, fmtHeld(held), suffix)
}

func fmtHeld(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}

// stepDone is the func that ends step, nil without one.
func stepDone(step Step) func() {
	if step == nil {
		return nil
	}
	return step.Done
}
