package codrive

import (
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/codrive/cdpproxy"
	"github.com/codrive/codrive/neko"
)

// Stats counts what a Session did since Attach, for metrics and summaries.
// Counters only grow. Package codrive/operator serves them, with Status,
// in Prometheus's format.
type Stats struct {
	// Requests counts people's requests for control while automation
	// hosted, by what came of them: one per person and host change (neko
	// turns every mouse move of a non-host into a request).
	Requests RequestCounts `json:"requests"`
	// Handoffs counts the handoffs that ended, by how.
	Handoffs HandoffCounts `json:"handoffs"`
	// Paused is how long automation has been paused in all (Status.Paused:
	// by the operator, or for a handoff), the pause under way included.
	Paused time.Duration `json:"paused"`
	// Reconnects counts the links that came back after a drop, by cause.
	Reconnects ReconnectCounts `json:"reconnects"`
	// Holds counts the acting commands the proxy held, by how they left
	// the hold.
	Holds HoldCounts `json:"holds"`
	// HoldDuration is how long each held command waited, whatever came of
	// it.
	HoldDuration Histogram `json:"holdDuration"`
	// Commands is how long Chromium took to answer the commands the proxy
	// forwarded, from the write to the answer, by how the gate treats them.
	Commands CommandDurations `json:"commands"`
	// Connections counts the script connections the proxy accepted.
	Connections int64 `json:"connections"`
}

// RequestCounts are people's requests for control, by outcome.
type RequestCounts struct {
	// Yielded: the policy handed control over (yield, finish-step).
	Yielded int64 `json:"yielded"`
	// Kept: automation kept control and told the person why (hold,
	// locked).
	Kept int64 `json:"kept"`
	// Ignored: control was already on its way to someone.
	Ignored int64 `json:"ignored"`
}

// HandoffCounts are finished handoffs, by outcome.
type HandoffCounts struct {
	// Completed: a person took control and released it.
	Completed int64 `json:"completed"`
	// TimedOut: Options.HandoffTimeout or the caller's deadline passed.
	TimedOut int64 `json:"timedOut"`
	// Cancelled: the caller gave up (its context was cancelled).
	Cancelled int64 `json:"cancelled"`
	// Failed: refused (another handoff was under way) or cut short by
	// Close.
	Failed int64 `json:"failed"`
}

// ReconnectCounts are the links that came back, by what had dropped them.
type ReconnectCounts struct {
	// NekoRestarted: neko had forgotten codrive's session (it restarted):
	// codrive logged in again.
	NekoRestarted int64 `json:"nekoRestarted"`
	// NekoSilent: neko sent nothing, not even a heartbeat, for too long.
	NekoSilent int64 `json:"nekoSilent"`
	// NekoDisconnected: neko closed the socket with a reason
	// (system/disconnect).
	NekoDisconnected int64 `json:"nekoDisconnected"`
	// NekoDropped: the socket failed otherwise (network, proxy, crash).
	NekoDropped int64 `json:"nekoDropped"`
	// BrowserGone: Chromium went away; codrive attached again.
	BrowserGone int64 `json:"browserGone"`
	// TabClosed: the tab codrive was attached to closed; codrive attached
	// to one again.
	TabClosed int64 `json:"tabClosed"`
}

// HoldCounts are the acting commands the proxy held, by how they left the
// hold (cdpproxy.HeldOutcome).
type HoldCounts struct {
	// Released: automation got control and the command went to Chromium.
	Released int64 `json:"released"`
	// Answered: an evaluation proven side-effect-free was answered without
	// waiting.
	Answered int64 `json:"answered"`
	// TimedOut: failed after Options.HoldTimeout, or with the command
	// queued ahead of it, or refused by the gate for another reason.
	TimedOut int64 `json:"timedOut"`
	// Dropped: the script's connection ended first.
	Dropped int64 `json:"dropped"`
}

// CommandDurations are Chromium's answer times by cdpproxy.Class.
type CommandDurations struct {
	// Acting: commands that act on the page (input, navigation).
	Acting Histogram `json:"acting"`
	// Observing: commands that read or set up.
	Observing Histogram `json:"observing"`
	// Evaluating: page JavaScript (Runtime.evaluate, callFunctionOn).
	Evaluating Histogram `json:"evaluating"`
}

// Histogram is a distribution of durations in fixed buckets, cumulative as
// Prometheus reports them: Counts[i] observations took at most Bounds[i].
// Count and Sum cover every observation, those above the last bound too.
type Histogram struct {
	// Bounds are the buckets' upper bounds, ascending.
	Bounds []time.Duration `json:"bounds"`
	// Counts[i] is how many observations took at most Bounds[i].
	Counts []uint64 `json:"counts"`
	// Count is how many observations there were.
	Count uint64 `json:"count"`
	// Sum is their total.
	Sum time.Duration `json:"sum"`
}

// Bucket bounds: holds last as long as a person drives; Chromium answers
// in milliseconds unless a page is busy.
var (
	holdBounds = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
		10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute}
	commandBounds = []time.Duration{time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
		10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
		250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second,
		10 * time.Second, 30 * time.Second}
)

// histogram records durations without a lock: the proxy observes every
// command.
type histogram struct {
	bounds []time.Duration
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Int64
}

func newHistogram(bounds []time.Duration) *histogram {
	return &histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

func (h *histogram) observe(d time.Duration) {
	i, _ := slices.BinarySearch(h.bounds, d)
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// snapshot is cumulative, and its Count is the sum of its buckets, so the
// two agree even while observations land.
func (h *histogram) snapshot() Histogram {
	out := Histogram{Bounds: slices.Clone(h.bounds), Counts: make([]uint64, len(h.bounds))}
	var total uint64
	for i := range h.counts {
		total += h.counts[i].Load()
		if i < len(out.Counts) {
			out.Counts[i] = total
		}
	}
	out.Count, out.Sum = total, time.Duration(h.sum.Load())
	return out
}

// proxyStats is the Session's cdpproxy.Observer: kept apart so that the
// Session does not grow the Observer's methods.
type proxyStats struct {
	holdTime                      *histogram
	released, answered, timedOut  atomic.Int64
	dropped                       atomic.Int64
	acting, observing, evaluating *histogram
}

func newProxyStats() *proxyStats {
	return &proxyStats{
		holdTime: newHistogram(holdBounds),
		acting:   newHistogram(commandBounds), observing: newHistogram(commandBounds), evaluating: newHistogram(commandBounds),
	}
}

func (p *proxyStats) HoldEnded(d time.Duration, o cdpproxy.HeldOutcome) {
	p.holdTime.observe(d)
	switch o {
	case cdpproxy.HeldReleased:
		p.released.Add(1)
	case cdpproxy.HeldAnswered:
		p.answered.Add(1)
	case cdpproxy.HeldTimedOut, cdpproxy.HeldFailed:
		p.timedOut.Add(1)
	case cdpproxy.HeldAbandoned:
		p.dropped.Add(1)
	}
}

func (p *proxyStats) Answered(c cdpproxy.Class, d time.Duration) {
	switch c {
	case cdpproxy.Observing:
		p.observing.observe(d)
	case cdpproxy.Evaluating:
		p.evaluating.observe(d)
	case cdpproxy.Acting:
		p.acting.observe(d)
	}
}

// Stats returns what the session counted since Attach.
func (s *Session) Stats() Stats {
	t := s.arb.tallies()
	st := Stats{Requests: t.requests, Handoffs: t.handoffs, Paused: s.arb.pausedTime(), Reconnects: s.arb.reconnectCounts()}
	s.mu.Lock()
	st.Reconnects.BrowserGone, st.Reconnects.TabClosed = s.browserGone, s.tabClosed
	s.mu.Unlock()
	p := s.pstats
	st.Holds = HoldCounts{
		Released: p.released.Load(), Answered: p.answered.Load(),
		TimedOut: p.timedOut.Load(), Dropped: p.dropped.Load(),
	}
	st.HoldDuration = p.holdTime.snapshot()
	st.Commands = CommandDurations{Acting: p.acting.snapshot(), Observing: p.observing.snapshot(), Evaluating: p.evaluating.snapshot()}
	if s.proxy != nil {
		st.Connections = s.proxy.Stats().Accepted
	}
	return st
}

// countReattach notes a re-attach to Chromium after the page ended with
// err (cdp.ErrBrowserGone, cdp.ErrTabClosed, ...).
func (s *Session) countReattach(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, cdp.ErrTabClosed) {
		s.tabClosed++
	} else {
		s.browserGone++
	}
}

// tally is what the rule counts for Stats, copied out after every step.
type tally struct {
	requests RequestCounts
	handoffs HandoffCounts
}

// dropCause names what dropped neko's socket, from the first
// conn/reconnecting of an outage.
func dropCause(cs *neko.ConnState) string {
	switch {
	case errors.Is(cs.Err, neko.ErrSilent):
		return "silent"
	case cs.Reason != "":
		return "disconnected"
	}
	return "dropped"
}

func (a *arbiter) tallies() tally {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tally
}

// pausedTime is the time paused in all, the current pause included.
func (a *arbiter) pausedTime() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	d := a.pausedTotal
	if !a.pausedSince.IsZero() {
		d += time.Since(a.pausedSince)
	}
	return d
}

func (a *arbiter) reconnectCounts() ReconnectCounts {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reconnects
}

// countReconnect notes neko's socket back (the loop calls it): a re-login
// means neko had restarted, whatever dropped the socket first.
func (a *arbiter) countReconnect(relogin bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case relogin:
		a.reconnects.NekoRestarted++
	case a.dropCause == "silent":
		a.reconnects.NekoSilent++
	case a.dropCause == "disconnected":
		a.reconnects.NekoDisconnected++
	default:
		a.reconnects.NekoDropped++
	}
}
