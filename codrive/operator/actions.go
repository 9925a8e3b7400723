package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/jsondur"
	"github.com/codrive/codrive/neko"
)

// actionRequest is the optional JSON body of a control action.
type actionRequest struct {
	// Timeout: a duration ("30s") or a number of seconds.
	Timeout json.RawMessage `json:"timeout"`
	// To: give's participant, by session id or by name.
	To string `json:"to"`
	// Reason: handoff's, told to the people in the room.
	Reason string `json:"reason"`
}

// actions are the control endpoints, POST /codrive/NAME: each answers the
// Status after it (200) or an error with the status code that fits what
// happened.
func (o *Operator) actions() map[string]sessionHandler {
	return map[string]sessionHandler{
		"request": o.act(o.opts.ActionTimeout, func(ctx context.Context, s *codrive.Session, _ actionRequest) (settled, error) {
			return isState(codrive.StateAutomation), s.Acquire(ctx)
		}),
		"release": o.act(o.opts.ActionTimeout, func(ctx context.Context, s *codrive.Session, _ actionRequest) (settled, error) {
			return func(st codrive.Status) bool { return st.State != codrive.StateAutomation }, s.Release(ctx)
		}),
		"take": o.act(o.opts.ActionTimeout, func(ctx context.Context, s *codrive.Session, _ actionRequest) (settled, error) {
			return isState(codrive.StateAutomation), s.Take(ctx)
		}),
		"pause": o.act(o.opts.ActionTimeout, func(ctx context.Context, s *codrive.Session, _ actionRequest) (settled, error) {
			return func(st codrive.Status) bool { return st.Paused }, s.Pause(ctx)
		}),
		"resume": o.act(o.opts.ActionTimeout, func(_ context.Context, s *codrive.Session, _ actionRequest) (settled, error) {
			s.Resume()
			return func(st codrive.Status) bool { return st.Gate != codrive.GatePaused }, nil
		}),
		"give": o.act(o.opts.ActionTimeout, func(ctx context.Context, s *codrive.Session, req actionRequest) (settled, error) {
			id, err := participant(s, req.To)
			if err != nil {
				return nil, err
			}
			return func(st codrive.Status) bool { return st.Host == id }, s.Give(ctx, id)
		}),
		"handoff": o.act(o.opts.HandoffTimeout, func(ctx context.Context, s *codrive.Session, req actionRequest) (settled, error) {
			return func(st codrive.Status) bool { return st.Handoff == "" }, s.Handoff(ctx, req.Reason)
		}),
	}
}

// settled tells whether a Status shows an action's effect.
type settled func(codrive.Status) bool

func isState(want codrive.State) settled {
	return func(st codrive.Status) bool { return st.State == want }
}

// settleGrace bounds the wait for an action's effect to show in the Status:
// neko answers a take or a give before its control/host event reaches
// codrive's socket, within milliseconds; someone else may also have moved
// control meanwhile, and the answer is then the Status as it is.
const settleGrace = 2 * time.Second

// act runs one action, bounded by def unless the request names a timeout,
// and answers the Status once it shows the action's effect.
func (o *Operator) act(def time.Duration, do func(context.Context, *codrive.Session, actionRequest) (settled, error)) sessionHandler {
	return func(w http.ResponseWriter, r *http.Request, s *codrive.Session) {
		req, timeout, err := readAction(r, def)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		done, err := do(ctx, s, req)
		if err != nil {
			if r.Context().Err() != nil {
				return // the caller left
			}
			code := errorCode(err)
			if code == http.StatusGatewayTimeout {
				err = fmt.Errorf("%w (timeout %s)", err, timeout)
			}
			writeError(w, code, "codrive: "+strings.TrimPrefix(err.Error(), "codrive: "))
			return
		}
		sctx, scancel := context.WithTimeout(r.Context(), settleGrace)
		defer scancel()
		st, _ := s.WaitState(sctx, done)
		writeJSON(w, http.StatusOK, st)
	}
}

// errBadRequest marks what the caller got wrong (400 or 404).
type errBadRequest struct {
	code int
	msg  string
}

func (e errBadRequest) Error() string { return e.msg }

// participant finds give's target: a session id, or a connected
// participant's unique name.
func participant(s *codrive.Session, to string) (string, error) {
	if to == "" {
		return "", errBadRequest{http.StatusBadRequest, `codrive: give needs {"to": "SESSION-ID or NAME"}`}
	}
	var byName []codrive.Participant
	for _, p := range s.Participants() {
		if p.ID == to {
			return p.ID, nil
		}
		if p.Name == to && p.Connected && !p.Self {
			byName = append(byName, p)
		}
	}
	switch len(byName) {
	case 1:
		return byName[0].ID, nil
	case 0:
		return "", errBadRequest{http.StatusNotFound, fmt.Sprintf("codrive: nobody connected is called or has the id %q (GET /codrive/state lists participants)", to)}
	}
	return "", errBadRequest{http.StatusConflict, fmt.Sprintf("codrive: %d connected participants are called %q: give a session id", len(byName), to)}
}

// errorCode is the HTTP status for a failed action.
func errorCode(err error) int {
	var bad errBadRequest
	switch {
	case errors.As(err, &bad):
		return bad.code
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, codrive.ErrClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, neko.ErrForbidden), errors.Is(err, neko.ErrNotAdmin), errors.Is(err, neko.ErrControlsLocked):
		return http.StatusForbidden
	case errors.Is(err, neko.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, neko.ErrUnreachable), errors.Is(err, neko.ErrNotConnected):
		return http.StatusBadGateway
	}
	// The session said no: a handoff already under way, a give to itself.
	return http.StatusConflict
}

// readAction reads an action's optional body and its timeout, def when it
// names none.
func readAction(r *http.Request, def time.Duration) (actionRequest, time.Duration, error) {
	var req actionRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return req, 0, fmt.Errorf("codrive: read the request body: %w", err)
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return req, 0, fmt.Errorf(`codrive: bad request body (want JSON such as {"timeout":"30s"}, {"to":"alice"} or {"reason":"...","timeout":"5m"}): %v`, err)
		}
	}
	timeout, err := jsondur.Parse(req.Timeout)
	if err != nil {
		return req, 0, err
	}
	if timeout == 0 {
		timeout = def
	}
	return req, timeout, nil
}
