package cdpproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// speculate runs a held evaluation with throwOnSideEffect. V8 then refuses
// anything observable (DOM changes, clicks, assignments to existing objects,
// timers, promise jobs), so if it completes, its result is the command's
// result and it never needed control: chromedp's attach (evaluate "self"),
// reads like document.title or getBoundingClientRect pass during a hold.
// True when it answered the command; false when V8 refused, the command
// failed in this form, or time ran out: the command then waits as usual.
//
// The speculation is a command of the proxy's own, with an id of its own
// (see ids.go): it can never be confused with a client's.
func (r *relay) speculate(h *heldCmd) bool {
	if len(h.pl.rest) > 0 || h.h.paramsEnd == 0 {
		return false // params too large to rewrite, or none to rewrite
	}
	ctx, cancel := context.WithDeadline(r.ctx, h.arrived.Add(r.p.opts.HoldTimeout))
	defer cancel()
	ch := make(chan specAnswer, 1)
	pid := r.ids.add(sent{client: h.h.id, session: h.h.session, spec: ch, held: h})
	msg, err := withThrowOnSideEffect(&h.h, h.pl.head[h.h.paramsStart:h.h.paramsEnd], pid)
	if err == nil {
		err = r.writeUpstreamRaw(msg)
	}
	if err != nil {
		r.ids.take(pid)
		return false
	}
	var ans specAnswer
	select {
	case ans = <-ch:
	case <-ctx.Done():
		// The entry stays: a late answer lands in ch, where nobody reads it.
		return false
	}
	if ans.relayed {
		r.log.Debug("cdpproxy: evaluation proved side-effect-free, answered during hold", "method", h.h.method)
		return true
	}
	resp := ans.msg
	if resp == nil || !speculationPassed(resp) {
		r.log.Debug("cdpproxy: evaluation has side effects, holding it", "method", h.h.method)
		return false
	}
	// The client's id for ours: Chromium writes the id first.
	_, numEnd, ok := answerID(resp)
	if !ok || !r.settle(h, HoldAnswered) {
		return false
	}
	out := append(formatID([]byte(`{"id":`), h.h.id), resp[numEnd:]...)
	_ = r.writeClient(out)
	r.p.nPassed.Add(1)
	r.log.Debug("cdpproxy: evaluation proved side-effect-free, answered during hold", "method", h.h.method)
	return true
}

// withThrowOnSideEffect is the speculative form of an evaluation: the
// same command with throwOnSideEffect and without userGesture, under the
// proxy's id.
func withThrowOnSideEffect(h *header, rawParams []byte, id int32) ([]byte, error) {
	params := map[string]json.RawMessage{}
	if err := json.Unmarshal(rawParams, &params); err != nil {
		return nil, fmt.Errorf("cdpproxy: params of %s: %w", h.method, err)
	}
	params["throwOnSideEffect"] = json.RawMessage("true")
	// A user gesture would give the page transient activation (popups,
	// fullscreen) during the person's turn; a side-effect-free read never
	// needs one.
	delete(params, "userGesture")
	return json.Marshal(struct {
		ID        int32                      `json:"id"`
		Method    string                     `json:"method"`
		SessionID string                     `json:"sessionId,omitempty"`
		Params    map[string]json.RawMessage `json:"params"`
	}{id, h.method, h.session, params})
}

// speculationPassed is false when V8 refused a side effect ("EvalError:
// Possible side-effect in debug-evaluate") or Chromium refused the command.
func speculationPassed(resp []byte) bool {
	var sr struct {
		Error  json.RawMessage `json:"error"`
		Result struct {
			ExceptionDetails *struct {
				Exception *struct {
					ClassName   string `json:"className"`
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		} `json:"result"`
	}
	if json.Unmarshal(resp, &sr) != nil || len(sr.Error) > 0 {
		return false
	}
	if ed := sr.Result.ExceptionDetails; ed != nil && ed.Exception != nil &&
		ed.Exception.ClassName == "EvalError" && strings.Contains(ed.Exception.Description, "side-effect") {
		return false
	}
	return true
}
