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
//	                                       (timeout in seconds, optional; an
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
func (r *relay) codrive(h *cmdHeader) {
	if r.ctrl == nil {
		_ = r.replyError(h, -32000, errNoController)
		return
	}
	switch h.Method {
	case codriveGetState:
		_ = r.replyResult(h, r.ctrl.Status())
	case codriveEnable:
		r.codriveEnable(h)
	case codriveDisable:
		r.cdMu.Lock()
		delete(r.cdEnabled, h.SessionID)
		r.cdMu.Unlock()
		_ = r.replyResult(h, struct{}{})
	case codriveHandoff:
		r.codriveHandoff(h)
	default:
		_ = r.replyError(h, -32601, fmt.Sprintf("'%s' wasn't found (the codrive proxy answers %s, %s, %s and %s)",
			h.Method, codriveGetState, codriveHandoff, codriveEnable, codriveDisable))
	}
}

func (r *relay) codriveEnable(h *cmdHeader) {
	r.cdMu.Lock()
	r.cdEnabled[h.SessionID] = true
	start := !r.cdSubscribed
	r.cdSubscribed = true
	r.cdMu.Unlock()
	if start {
		// One subscription per connection feeds every enabled session.
		ch, cancel := r.ctrl.Subscribe()
		r.wg.Add(1)
		go r.forwardStates(ch, cancel)
	}
	_ = r.replyResult(h, struct{}{})
	_ = r.writeJSONClient(cdpEvent{Method: codriveStateChanged, Params: r.ctrl.Status(), SessionID: h.SessionID})
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
func (r *relay) codriveHandoff(h *cmdHeader) {
	var p struct {
		Reason  string  `json:"reason"`
		Timeout float64 `json:"timeout"`
	}
	if len(h.Params) > 0 {
		if err := json.Unmarshal(h.Params, &p); err != nil {
			_ = r.replyError(h, -32602, fmt.Sprintf("Invalid parameters: Codrive.handoff takes {reason: string, timeout?: seconds}: %v", err))
			return
		}
	}
	if p.Timeout < 0 {
		_ = r.replyError(h, -32602, fmt.Sprintf("Invalid parameters: Codrive.handoff timeout %v is negative", p.Timeout))
		return
	}
	hc := *h
	timeout := time.Duration(p.Timeout * float64(time.Second))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx := r.ctx
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		r.log.Info("cdpproxy: handoff requested", "reason", p.Reason, "timeout", timeout)
		err := r.ctrl.Handoff(ctx, p.Reason)
		if r.ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			_ = r.replyResult(&hc, struct{}{})
		case errors.Is(err, context.DeadlineExceeded):
			_ = r.replyError(&hc, -32000, fmt.Sprintf("codrive: handoff timed out after %v: the person has not released control", timeout))
		default:
			_ = r.replyError(&hc, -32000, fmt.Sprintf("codrive: handoff failed: %v", err))
		}
	}()
}
