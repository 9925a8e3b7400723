package codrive

import (
	"context"
	"sync"

	"github.com/codrive/codrive/codrive/cdpproxy"
	"github.com/codrive/codrive/internal/pubsub"
)

// controller lets the CDP proxy gate scripts on the arbiter: every acting
// command passes the arbiter's begin, which waits for the gate and counts
// it as a step in flight (finish-step, idle release) until Chromium answers
// it, and Codrive.getState / Codrive.handoff / stateChanged speak the
// arbiter's state. It stays thin: the gate is the arbiter's.
type controller struct {
	a    *arbiter
	hub  pubsub.Hub[cdpproxy.Status]
	stop func()
	wg   sync.WaitGroup
}

func newController(a *arbiter) *controller {
	c := &controller{a: a}
	evs, cancel := a.Subscribe()
	c.stop = cancel
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		var last cdpproxy.Status
		for ev := range evs {
			s := proxyStatus(ev.Status)
			// Scripts care about who drives, not about every log line.
			if s.State == last.State && s.Host == last.Host && s.Reason == last.Reason && s.Gate == last.Gate {
				continue
			}
			last = s
			c.hub.Publish(s)
		}
	}()
	return c
}

func (c *controller) close() {
	c.stop()
	c.wg.Wait()
	c.hub.Close()
}

func (c *controller) Begin(ctx context.Context, kind cdpproxy.StepKind) (cdpproxy.Step, error) {
	return c.a.begin(ctx, false, stepKind(kind))
}

func stepKind(k cdpproxy.StepKind) stepKindT {
	switch k {
	case cdpproxy.StepPress:
		return stepPress
	case cdpproxy.StepContinue:
		return stepContinue
	}
	return stepCommand
}
func (c *controller) Status() cdpproxy.Status { return proxyStatus(c.a.Status()) }
func (c *controller) Subscribe() (<-chan cdpproxy.Status, func()) {
	return c.hub.Subscribe()
}
func (c *controller) Handoff(ctx context.Context, reason string) error {
	return c.a.Handoff(ctx, reason)
}

// proxyStatus maps the arbiter's status to the proxy's: "paused" while
// automation may not act although codrive holds control or was told to
// stop (an operator pause, a handoff, a yield in progress), and the gate as
// the arbiter decided it.
func proxyStatus(s Status) cdpproxy.Status {
	state := string(s.State)
	switch {
	case s.Gate == GatePaused, s.Gate == GateHandoff:
		state = cdpproxy.StatePaused
	case s.State == StateAutomation && s.Gate != GateOpen:
		state = cdpproxy.StatePaused
	}
	return cdpproxy.Status{State: state, Host: s.Host, HostName: s.HostName, Since: s.Since, Reason: s.Reason, Gate: string(s.Gate)}
}
