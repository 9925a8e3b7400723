package codrive

import (
	"sync"
	"time"
)

// fastGate lets an ordinary automation step pass an open gate without a
// round trip through the arbiter's loop. Asking the loop costs three
// goroutine hand-offs per proxied command (begin, sent, done): on a 2-core
// machine shared with Chromium and the script, that was a third of the
// proxy's added latency.
//
// The rule stays the only one that decides. After every input the loop
// opens the fast gate if the rule says a plain step may pass without it
// (rule.fastOK: the gate is open and automation already wants control), and
// before every input it closes it and hands the rule the steps still in
// flight (inAdopt). So the rule sees every step in flight before it decides
// anything, exactly as if each had come through the loop: a hand-over can
// never pass a step it does not know about (I1). From then on those steps
// report Sent and Done to the loop, like any other.
//
// Presses and what continues a gesture always ask the loop.
type fastGate struct {
	mu   sync.Mutex
	open bool
	// steps in flight that the rule has not adopted: true once sent.
	steps map[callID]bool
	// last is when a fast step last began or ended, for idle release.
	last time.Time
}

// begin lets step id pass if the gate is open.
func (g *fastGate) begin(id callID, sent bool, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.open {
		return false
	}
	if g.steps == nil {
		g.steps = map[callID]bool{}
	}
	g.steps[id] = sent
	g.last = now
	return true
}

// sent records that step id reached Chromium. False: the rule adopted it,
// and the loop must be told (inStepSent).
func (g *fastGate) sent(id callID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.steps[id]; !ok {
		return false
	}
	g.steps[id] = true
	return true
}

// end records that step id ended. False: the rule adopted it, and the loop
// must be told (inStepEnd).
func (g *fastGate) end(id callID, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.steps[id]; !ok {
		return false
	}
	delete(g.steps, id)
	g.last = now
	return true
}

// close shuts the gate and returns what the rule must adopt, ok false when
// nothing passed since the last close.
func (g *fastGate) close() (in inAdopt, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = false
	if len(g.steps) == 0 && g.last.IsZero() {
		return inAdopt{}, false
	}
	in.LastActive = g.last
	for id, sent := range g.steps {
		in.Steps = append(in.Steps, adoptedStep{Call: id, Sent: sent})
	}
	clear(g.steps)
	g.last = time.Time{}
	return in, true
}

// setOpen opens or keeps shut the gate, after the rule's step.
func (g *fastGate) setOpen(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.open = open
}

// inFlight counts the steps in flight the rule has not adopted.
func (g *fastGate) inFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.steps)
}
