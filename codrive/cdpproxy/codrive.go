package cdpproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The Codrive CDP domain, answered by the proxy on any relayed connection
// and for any session (the answer carries the request's id and sessionId, so
// a Playwright CDPSession on a page works):
//
//	Codrive.getState                     → Status
//	Codrive.handoff {reason, timeout}    → {} once the person releases control
//	                                       (timeout in seconds, optional,
//	                                       default Options.HandoffTimeout; an
//	                                       error response when it runs out)
//	Codrive.enable                       → {}, then Codrive.stateChanged with
//	                                       the current Status at once and on
//	                                       every change, on that session
//	Codrive.disable                      → {}, no more events on that session
//
// The event is {"method":"Codrive.stateChanged","params":Status,"sessionId":...}.
const (
	codriveGetState     = "Codrive.getState"
	codriveHandoff      = "Codrive.handoff"
	codriveEnable       = "Codrive.enable"
	codriveDisable      = "Codrive.disable"
	codriveStateChanged = "Codrive.stateChanged"
)

// codrive answers one Codrive.* command; it never reaches Chromium.
func (r *relay) codrive(h *header, pl *payload) {
	to := h.replyTo()
	if r.ctrl == nil {
		_ = r.replyError(to, -32000, errNoController)
		return
	}
	if !h.paramsOK() {
		_ = r.replyError(to, -32600, "Message may have object 'params' property")
		return
	}
	switch h.method {
	case codriveGetState:
		_ = r.replyResult(to, r.ctrl.Status())
	case codriveEnable:
		r.codriveEnable(to)
	case codriveDisable:
		r.cdMu.Lock()
		delete(r.cdEnabled, h.session)
		r.cdMu.Unlock()
		_ = r.replyResult(to, struct{}{})
	case codriveHandoff:
		var params []byte
		if h.paramsEnd > 0 {
			params = pl.bytes()[h.paramsStart:h.paramsEnd]
		}
		r.codriveHandoff(to, params)
	default:
		_ = r.replyError(to, -32601, fmt.Sprintf("'%s' wasn't found (the codrive proxy answers %s, %s, %s and %s)",
			h.method, codriveGetState, codriveHandoff, codriveEnable, codriveDisable))
	}
}

func (r *relay) codriveEnable(to replyTo) {
	r.cdMu.Lock()
	r.cdEnabled[to.session] = true
	start := !r.cdSubscribed
	r.cdSubscribed = true
	r.cdMu.Unlock()
	if start {
		// One subscription per connection feeds every enabled session.
		ch, cancel := r.ctrl.Subscribe()
		r.wg.Add(1)
		go r.forwardStates(ch, cancel)
	}
	_ = r.replyResult(to, struct{}{})
	_ = r.writeJSONClient(cdpEvent{Method: codriveStateChanged, Params: r.ctrl.Status(), SessionID: to.session})
}

func (r *relay) forwardStates(ch <-chan Status, cancel func()) {
	defer r.wg.Done()
	defer cancel()
	for {
		select {
		case <-r.ctx.Done():
			return
		case st, ok := <-ch:
			if !ok {
				return
			}
			r.cdMu.Lock()
			sessions := make([]string, 0, len(r.cdEnabled))
			for s := range r.cdEnabled {
				sessions = append(sessions, s)
			}
			r.cdMu.Unlock()
			for _, s := range sessions {
				if err := r.writeJSONClient(cdpEvent{Method: codriveStateChanged, Params: st, SessionID: s}); err != nil {
					return
				}
			}
		}
	}
}

// codriveHandoff runs Controller.Handoff in its own goroutine: the
// connection keeps flowing while the person has control.
func (r *relay) codriveHandoff(to replyTo, params []byte) {
	var p struct {
		Reason  string  `json:"reason"`
		Timeout float64 `json:"timeout"`
	}
	if len(params) > 0 {
		if err := json.Unmarshal(params, &p); err != nil {
			_ = r.replyError(to, -32602, fmt.Sprintf("Invalid parameters: Codrive.handoff takes {reason: string, timeout?: seconds}: %v", err))
			return
		}
	}
	if p.Timeout < 0 {
		_ = r.replyError(to, -32602, fmt.Sprintf("Invalid parameters: Codrive.handoff timeout %v is negative", p.Timeout))
		return
	}
	timeout := time.Duration(p.Timeout * float64(time.Second))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if timeout == 0 {
			timeout = r.p.opts.HandoffTimeout
		}
		ctx, cancel := context.WithTimeout(r.ctx, timeout)
		defer cancel()
		r.log.Info("cdpproxy: handoff requested", "reason", p.Reason, "timeout", timeout)
		err := r.ctrl.Handoff(ctx, p.Reason)
		if r.ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			_ = r.replyResult(to, struct{}{})
		case errors.Is(err, context.DeadlineExceeded):
			_ = r.replyError(to, -32000, handoffTimedOut(timeout, err))
		default:
			_ = r.replyError(to, -32000, fmt.Sprintf("codrive: handoff failed: %v", err))
		}
	}()
}
