package cdpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// maxClientMessage bounds one message from a client; Chromium's own limit
// for incoming messages is of the same order.
const maxClientMessage = 256 << 20

// specBase starts the range of ids the proxy uses for its own commands
// (speculative side-effect-free evaluations). Chromium accepts any int32 id;
// clients count up from 1, so ids at or below -2^30 do not collide in
// practice.
const specBase = -1 << 30

var (
	prefixOwnResponse = []byte(`{"id":-`)
	prefixResponse    = []byte(`{"id":`)
	// Chromium writes "method" first in events, so a prefix test is enough
	// to find the few events the proxy reads, without parsing the rest
	// (screencast frames, network bodies) at all.
	prefixContextEvent = []byte(`{"method":"Runtime.executionContext`)
	prefixDetached     = []byte(`{"method":"Target.detachedFromTarget"`)
)

// cmdHeader is the part of a client command the proxy reads.
type cmdHeader struct {
	ID        json.RawMessage `json:"id"`
	Method    string          `json:"method"`
	SessionID string          `json:"sessionId"`
	Params    json.RawMessage `json:"params"`
}

// heldCmd is an acting command waiting for control.
type heldCmd struct {
	hdr     cmdHeader
	mt      int
	msg     []byte
	arrived time.Time
	// spec, for an evaluation, receives whether the proxy answered it by
	// proving it side-effect-free (see speculate); nil when not tried.
	spec chan bool
	// settled is set by whoever answers or drops the command first: the
	// drain, a speculation, or the end of the connection.
	settled atomic.Bool
}

// relay is one proxied WebSocket: a client on one side, Chromium on the
// other.
type relay struct {
	p        *Proxy
	id       int64
	path     string
	log      *slog.Logger
	ctrl     Controller
	client   *websocket.Conn
	upstream *websocket.Conn

	ctx    context.Context // ends when the relay ends
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of this relay but run's own

	clientMu sync.Mutex // one writer at a time to the client
	upMu     sync.Mutex // one writer at a time to Chromium

	qmu      sync.Mutex
	queue    []*heldCmd
	draining bool // a drain goroutine owns the queue head: later acting commands queue behind it

	worlds worlds

	// inflight holds the done of every acting command Chromium has not
	// answered yet, keyed by the client's command id (CDP clients number
	// commands per connection, whatever the session).
	stepMu   sync.Mutex
	inflight map[string]func()
	nflight  atomic.Int32

	specMu  sync.Mutex
	specs   map[int64]chan []byte
	specSeq atomic.Int64

	cdMu         sync.Mutex
	cdEnabled    map[string]bool // sessions (""= the connection's own target) that called Codrive.enable
	cdSubscribed bool

	closeOnce sync.Once
}

// relay dials Chromium, then upgrades the client, then relays until either
// side ends or the proxy closes.
func (p *Proxy) relay(w http.ResponseWriter, r *http.Request) {
	upURL := *p.upstream
	upURL.Scheme = "ws"
	if p.upstream.Scheme == "https" {
		upURL.Scheme = "wss"
	}
	upURL.Path = r.URL.Path
	// Neither the token nor the client's Origin go to Chromium, which would
	// refuse an Origin with 403 unless started with --remote-allow-origins.
	hdr := http.Header{"Host": {p.upstreamHost}}
	dctx, dcancel := context.WithTimeout(r.Context(), 10*time.Second)
	up, resp, err := p.dialer.DialContext(dctx, upURL.String(), hdr)
	dcancel()
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			httpError(w, resp.StatusCode, fmt.Sprintf("codrive: Chromium refused the WebSocket %s: %s %s", r.URL.Path, resp.Status, strings.TrimSpace(string(body))))
			return
		}
		httpError(w, http.StatusBadGateway, fmt.Sprintf("codrive: cannot reach Chromium's WebSocket %s: %v", upURL.String(), err))
		return
	}
	client, err := p.upgrader.Upgrade(w, r, nil)
	if err != nil {
		_ = up.Close() // Upgrade has answered the client already
		return
	}
	rl := &relay{
		p:         p,
		id:        p.connSeq.Add(1),
		path:      r.URL.Path,
		ctrl:      p.ctrl,
		client:    client,
		upstream:  up,
		specs:     make(map[int64]chan []byte),
		cdEnabled: make(map[string]bool),
	}
	rl.inflight = make(map[string]func())
	rl.log = p.log.With("conn", rl.id)
	rl.worlds.init()
	rl.ctx, rl.cancel = context.WithCancel(p.ctx)
	if !p.track(rl) {
		rl.finish(websocket.CloseGoingAway, "codrive: proxy shutting down", websocket.CloseGoingAway, "")
		return
	}
	defer p.untrack(rl)
	p.nConns.Add(1)
	defer p.nConns.Add(-1)
	rl.log.Info("cdpproxy: client connected", "path", rl.path, "remote", r.RemoteAddr)
	rl.run()
	rl.log.Info("cdpproxy: client disconnected", "path", rl.path)
}

func (r *relay) run() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.pumpUpstream()
	}()
	r.pumpClient()
	r.wg.Wait()
	// Commands Chromium will never answer now are no longer in flight.
	r.stepMu.Lock()
	for id, done := range r.inflight {
		done()
		delete(r.inflight, id)
	}
	r.nflight.Store(0)
	r.stepMu.Unlock()
	// The drain empties the queue before it ends; anything a failed start
	// left is dropped here so Stats.Held stays true.
	r.qmu.Lock()
	for _, h := range r.queue {
		r.settle(h)
	}
	r.queue = nil
	r.qmu.Unlock()
}

// finish ends the relay once: close frames with the given codes (0: none)
// to the client and to Chromium, then both connections closed, which ends
// both pumps; the relay's context ends every other goroutine.
func (r *relay) finish(clientCode int, clientText string, upCode int, upText string) {
	r.closeOnce.Do(func() {
		r.cancel()
		deadline := time.Now().Add(time.Second)
		if clientCode != 0 {
			_ = r.client.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(clientCode, closeReason(clientText)), deadline)
		}
		if upCode != 0 {
			_ = r.upstream.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(upCode, closeReason(upText)), deadline)
		}
		_ = r.client.Close()
		_ = r.upstream.Close()
	})
}

// closeReason fits a close reason into the 123 bytes a close frame allows.
func closeReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	s = s[:120]
	for len(s) > 0 && !isRuneStart(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// pumpUpstream relays Chromium → client, reading only the few events the
// gate needs.
func (r *relay) pumpUpstream() {
	gating := r.ctrl != nil
	for {
		mt, rd, err := r.upstream.NextReader()
		if err != nil {
			r.upstreamGone(err)
			return
		}
		buf := r.p.getBuf()
		if _, err := buf.ReadFrom(rd); err != nil {
			r.p.putBuf(buf)
			r.upstreamGone(err)
			return
		}
		msg := buf.Bytes()
		if gating && r.inspectUpstream(msg) {
			r.p.putBuf(buf)
			continue
		}
		r.noteAnswer(msg)
		if r.p.opts.LogCDP {
			r.log.Debug("cdpproxy: chromium → client", "msg", truncate(string(msg), 4096))
		}
		err = r.writeClient(mt, msg)
		r.p.putBuf(buf)
		if err != nil {
			r.finish(0, "", websocket.CloseNormalClosure, "")
			return
		}
	}
}

func (r *relay) upstreamGone(err error) {
	if r.ctx.Err() != nil {
		return // we are closing it ourselves
	}
	code, text := websocket.CloseInternalServerErr, fmt.Sprintf("codrive: lost the connection to Chromium: %v", err)
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		switch ce.Code {
		case websocket.CloseAbnormalClosure:
			text = "codrive: Chromium went away (its debugging connection dropped without a close: did it exit?)"
		case websocket.CloseNoStatusReceived:
			code, text = websocket.CloseNormalClosure, "codrive: Chromium closed the connection"
		case websocket.CloseTLSHandshake:
		default:
			code, text = ce.Code, ce.Text
		}
	}
	r.log.Info("cdpproxy: chromium side ended", "err", err)
	r.finish(code, text, 0, "")
}

// pumpClient relays client → Chromium through the gate.
func (r *relay) pumpClient() {
	r.client.SetReadLimit(maxClientMessage)
	for {
		mt, rd, err := r.client.NextReader()
		if err != nil {
			r.clientGone(err)
			return
		}
		buf := r.p.getBuf()
		if _, err := buf.ReadFrom(rd); err != nil {
			r.p.putBuf(buf)
			r.clientGone(err)
			return
		}
		r.handleClient(mt, buf.Bytes())
		r.p.putBuf(buf)
	}
}

func (r *relay) clientGone(err error) {
	if r.ctx.Err() != nil {
		return
	}
	code, text := websocket.CloseNormalClosure, ""
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseNoStatusReceived && ce.Code != websocket.CloseAbnormalClosure && ce.Code != websocket.CloseTLSHandshake {
		code, text = ce.Code, ce.Text
	}
	r.log.Debug("cdpproxy: client side ended", "err", err)
	r.finish(0, "", code, text)
}

// handleClient routes one client message. msg is only valid during the call.
func (r *relay) handleClient(mt int, msg []byte) {
	if r.p.opts.LogCDP {
		r.log.Debug("cdpproxy: client → chromium", "msg", truncate(string(msg), 4096))
	}
	var h cmdHeader
	if err := json.Unmarshal(msg, &h); err != nil || h.Method == "" {
		// Not a command: Chromium answers it with the protocol's error.
		_ = r.forward(mt, msg)
		return
	}
	if strings.HasPrefix(h.Method, "Codrive.") {
		r.codrive(&h)
		return
	}
	if r.ctrl == nil {
		_ = r.forward(mt, msg)
		return
	}
	switch Classify(h.Method) {
	case Observing:
		_ = r.forward(mt, msg)
	case Evaluating:
		if r.evalObserving(&h) {
			_ = r.forward(mt, msg)
			return
		}
		r.act(mt, msg, &h, true)
	default:
		r.act(mt, msg, &h, false)
	}
}

func (r *relay) forward(mt int, msg []byte) error {
	r.p.nPassed.Add(1)
	return r.writeUpstream(mt, msg)
}

func (r *relay) writeUpstream(mt int, msg []byte) error {
	r.upMu.Lock()
	defer r.upMu.Unlock()
	return r.upstream.WriteMessage(mt, msg)
}

func (r *relay) writeClient(mt int, msg []byte) error {
	r.clientMu.Lock()
	defer r.clientMu.Unlock()
	return r.client.WriteMessage(mt, msg)
}

// act forwards an acting command at once when the gate lets it through and
// nothing is queued, else queues it behind the ones already held.
func (r *relay) act(mt int, msg []byte, h *cmdHeader, evaluation bool) {
	r.qmu.Lock()
	busy := r.draining
	r.qmu.Unlock()
	// Only this goroutine starts a drain, so with !busy nothing can slip in
	// ahead of this command. Begin with an ended context passes an open gate
	// without waiting; a closed one sends the command to the queue.
	if !busy {
		if done, err := r.ctrl.Begin(r.p.ended); err == nil {
			_ = r.forwardStep(mt, msg, h.ID, done)
			return
		}
	}
	hc := &heldCmd{
		hdr:     *h,
		mt:      mt,
		msg:     bytes.Clone(msg),
		arrived: time.Now(),
	}
	r.p.nHeld.Add(1)
	r.p.nHeldTot.Add(1)
	r.log.Debug("cdpproxy: holding", "method", h.Method, "session", h.SessionID)
	if evaluation && len(h.ID) > 0 {
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

// settle claims the right to answer h; false when someone already did.
func (r *relay) settle(h *heldCmd) bool {
	if h.settled.CompareAndSwap(false, true) {
		r.p.nHeld.Add(-1)
		return true
	}
	return false
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
	done, err := r.ctrl.Begin(ctx)
	if r.ctx.Err() != nil {
		if err == nil {
			done()
		}
		r.settle(h)
		return true // the connection is ending: nobody to answer
	}
	if !r.settle(h) {
		if err == nil {
			done()
		}
		return true // a late speculation answered it
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			r.p.nTimedOut.Add(1)
		}
		msg := holdMessage(r.ctrl.Status(), h.hdr.Method, time.Since(h.arrived), err, "")
		r.log.Info("cdpproxy: held command failed", "method", h.hdr.Method, "err", err)
		_ = r.replyError(&h.hdr, -32000, msg)
		return false
	}
	_ = r.forwardStep(h.mt, h.msg, h.hdr.ID, done)
	return true
}

// forwardStep forwards an acting command that passed the gate, counted in
// flight until Chromium answers it: done is registered first, as the answer
// may come back before Write returns.
func (r *relay) forwardStep(mt int, msg []byte, id json.RawMessage, done func()) error {
	if len(id) == 0 {
		// No id, no answer: Chromium refuses it at once.
		err := r.forward(mt, msg)
		done()
		return err
	}
	key := string(id)
	r.stepMu.Lock()
	if prev, dup := r.inflight[key]; dup {
		prev() // a client reusing an id: the earlier one is forgotten
	} else {
		r.nflight.Add(1)
	}
	r.inflight[key] = done
	r.stepMu.Unlock()
	err := r.forward(mt, msg)
	if err != nil {
		r.stepAnswered(key)
	}
	return err
}

// stepAnswered ends the step of command id, if one is in flight.
func (r *relay) stepAnswered(key string) {
	r.stepMu.Lock()
	done, ok := r.inflight[key]
	if ok {
		delete(r.inflight, key)
		r.nflight.Add(-1)
	}
	r.stepMu.Unlock()
	if ok {
		done()
	}
}

// noteAnswer ends a step when msg is Chromium's answer to one. Chromium
// writes the id first ({"id":N,...}), so only that prefix is read, and only
// while something is in flight.
func (r *relay) noteAnswer(msg []byte) {
	if r.nflight.Load() == 0 || !bytes.HasPrefix(msg, prefixResponse) {
		return
	}
	rest := msg[len(prefixResponse):]
	end := bytes.IndexAny(rest, ",}")
	if end <= 0 {
		return
	}
	r.stepAnswered(string(rest[:end]))
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
		if !r.settle(h) {
			continue
		}
		r.p.nTimedOut.Add(1)
		msg := holdMessage(st, h.hdr.Method, time.Since(h.arrived), context.DeadlineExceeded,
			fmt.Sprintf(", queued behind %s, which failed", failed.hdr.Method))
		_ = r.replyError(&h.hdr, -32000, msg)
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

// cdpResponse is a response the proxy writes itself.
type cdpResponse struct {
	ID        json.RawMessage `json:"id,omitempty"`
	Result    any             `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
}

type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type cdpEvent struct {
	Method    string `json:"method"`
	Params    any    `json:"params"`
	SessionID string `json:"sessionId,omitempty"`
}

func (r *relay) replyError(h *cmdHeader, code int, msg string) error {
	return r.writeJSONClient(cdpResponse{ID: h.ID, Error: &cdpError{Code: code, Message: msg}, SessionID: h.SessionID})
}

func (r *relay) replyResult(h *cmdHeader, result any) error {
	return r.writeJSONClient(cdpResponse{ID: h.ID, Result: result, SessionID: h.SessionID})
}

func (r *relay) writeJSONClient(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cdpproxy: encode: %w", err)
	}
	return r.writeClient(websocket.TextMessage, b)
}

// inspectUpstream reads what the gate needs from a Chromium message; true
// when the message was the proxy's own and must not reach the client.
func (r *relay) inspectUpstream(msg []byte) bool {
	if bytes.HasPrefix(msg, prefixOwnResponse) {
		return r.deliverSpec(msg)
	}
	if bytes.HasPrefix(msg, prefixContextEvent) || bytes.HasPrefix(msg, prefixDetached) {
		if gone := r.worlds.note(msg); gone != "" {
			r.cdMu.Lock()
			delete(r.cdEnabled, gone)
			r.cdMu.Unlock()
		}
	}
	return false
}

// evalObserving reports whether a Runtime.evaluate/callFunctionOn cannot act
// on the page: it runs in an isolated world (where Playwright and puppeteer
// resolve selectors, check actionability and wait for document.fonts.ready
// before screenshots; page scripts cannot see those worlds' globals), or the
// client asked V8 to refuse side effects.
func (r *relay) evalObserving(h *cmdHeader) bool {
	if len(h.Params) == 0 {
		return false
	}
	var p struct {
		ContextID          int64  `json:"contextId"`
		UniqueContextID    string `json:"uniqueContextId"`
		ExecutionContextID int64  `json:"executionContextId"`
		ObjectID           string `json:"objectId"`
		ThrowOnSideEffect  bool   `json:"throwOnSideEffect"`
	}
	if json.Unmarshal(h.Params, &p) != nil {
		return false
	}
	if p.ThrowOnSideEffect {
		return true
	}
	switch {
	case p.UniqueContextID != "":
		return r.worlds.isolatedUnique(p.UniqueContextID)
	case p.ContextID != 0:
		return r.worlds.isolated(h.SessionID, p.ContextID)
	case p.ExecutionContextID != 0:
		return r.worlds.isolated(h.SessionID, p.ExecutionContextID)
	case p.ObjectID != "":
		if id, ok := objectContext(p.ObjectID); ok {
			return r.worlds.isolated(h.SessionID, id)
		}
	}
	return false
}

// objectContext extracts the execution context from a V8 remote object id,
// "ISOLATE.CONTEXT.ID" in current V8. The format is opaque by protocol, so
// anything else is "unknown", which keeps the command acting.
func objectContext(objectID string) (int64, bool) {
	parts := strings.Split(objectID, ".")
	if len(parts) != 3 {
		return 0, false
	}
	id, err := strconv.ParseInt(parts[1], 10, 64)
	return id, err == nil
}

// speculate runs a held evaluation with throwOnSideEffect. V8 then refuses
// anything observable (DOM changes, clicks, assignments to existing objects,
// timers, promise jobs), so if it completes, its result is the command's
// result and it never needed control: chromedp's attach (evaluate "self"),
// reads like document.title or getBoundingClientRect pass during a hold.
// True when it answered the command; false when V8 refused, the command
// failed in this form, or time ran out: the command then waits as usual.
func (r *relay) speculate(h *heldCmd) bool {
	ctx, cancel := context.WithDeadline(r.ctx, h.arrived.Add(r.p.opts.HoldTimeout))
	defer cancel()
	id := specBase - r.specSeq.Add(1)
	msg, err := withThrowOnSideEffect(&h.hdr, id)
	if err != nil {
		return false
	}
	ch := make(chan []byte, 1)
	r.specMu.Lock()
	r.specs[id] = ch
	r.specMu.Unlock()
	defer func() {
		r.specMu.Lock()
		delete(r.specs, id)
		r.specMu.Unlock()
	}()
	if err := r.writeUpstream(websocket.TextMessage, msg); err != nil {
		return false
	}
	var resp []byte
	select {
	case resp = <-ch:
	case <-ctx.Done():
		return false
	}
	if !speculationPassed(resp) {
		r.log.Debug("cdpproxy: evaluation has side effects, holding it", "method", h.hdr.Method)
		return false
	}
	// Swap our id for the client's: Chromium writes the id first.
	comma := bytes.IndexByte(resp, ',')
	if comma < 0 || !r.settle(h) {
		return false
	}
	out := make([]byte, 0, len(resp)+len(h.hdr.ID))
	out = append(out, `{"id":`...)
	out = append(out, h.hdr.ID...)
	out = append(out, resp[comma:]...)
	_ = r.writeClient(websocket.TextMessage, out)
	r.p.nPassed.Add(1)
	r.log.Debug("cdpproxy: evaluation proved side-effect-free, answered during hold", "method", h.hdr.Method)
	return true
}

// deliverSpec hands a response to the speculation waiting for it; true
// when the id is in the proxy's range (a late answer is dropped).
func (r *relay) deliverSpec(msg []byte) bool {
	rest := msg[len(`{"id":`):]
	end := bytes.IndexByte(rest, ',')
	if end < 0 {
		end = bytes.IndexByte(rest, '}')
	}
	if end < 0 {
		return false
	}
	id, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	if err != nil || id > specBase {
		return false
	}
	r.specMu.Lock()
	ch := r.specs[id]
	r.specMu.Unlock()
	if ch != nil {
		select {
		case ch <- bytes.Clone(msg):
		default:
		}
	}
	return true
}

func withThrowOnSideEffect(h *cmdHeader, id int64) ([]byte, error) {
	params := map[string]json.RawMessage{}
	if len(h.Params) > 0 {
		if err := json.Unmarshal(h.Params, &params); err != nil {
			return nil, fmt.Errorf("cdpproxy: params of %s: %w", h.Method, err)
		}
	}
	params["throwOnSideEffect"] = json.RawMessage("true")
	// A user gesture would give the page transient activation (popups,
	// fullscreen) during the person's turn; a side-effect-free read never
	// needs one.
	delete(params, "userGesture")
	return json.Marshal(struct {
		ID        int64                      `json:"id"`
		Method    string                     `json:"method"`
		SessionID string                     `json:"sessionId,omitempty"`
		Params    map[string]json.RawMessage `json:"params"`
	}{id, h.Method, h.SessionID, params})
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

// worldKey names an execution context within a CDP session.
type worldKey struct {
	session string
	id      int64
}

// worlds tracks the isolated-world execution contexts Chromium announced on
// this connection (Runtime.executionContextCreated, auxData.type
// "isolated").
type worlds struct {
	mu       sync.Mutex
	byID     map[worldKey]string // → uniqueId
	byUnique map[string]worldKey // uniqueId →
}

func (w *worlds) init() {
	w.byID = make(map[worldKey]string)
	w.byUnique = make(map[string]worldKey)
}

func (w *worlds) isolated(session string, id int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.byID[worldKey{session, id}]
	return ok
}

func (w *worlds) isolatedUnique(u string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.byUnique[u]
	return ok
}

// note updates the table from one event; it returns the session id of a
// Target.detachedFromTarget.
func (w *worlds) note(msg []byte) (detached string) {
	var ev struct {
		Method    string `json:"method"`
		SessionID string `json:"sessionId"`
		Params    struct {
			Context struct {
				ID       int64  `json:"id"`
				UniqueID string `json:"uniqueId"`
				AuxData  struct {
					Type string `json:"type"`
				} `json:"auxData"`
			} `json:"context"`
			ExecutionContextID       int64  `json:"executionContextId"`
			ExecutionContextUniqueID string `json:"executionContextUniqueId"`
			SessionID                string `json:"sessionId"`
		} `json:"params"`
	}
	if json.Unmarshal(msg, &ev) != nil {
		return ""
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev.Method {
	case "Runtime.executionContextCreated":
		c := ev.Params.Context
		if c.AuxData.Type == "isolated" {
			k := worldKey{ev.SessionID, c.ID}
			w.byID[k] = c.UniqueID
			if c.UniqueID != "" {
				w.byUnique[c.UniqueID] = k
			}
		}
	case "Runtime.executionContextDestroyed":
		if k, ok := w.byUnique[ev.Params.ExecutionContextUniqueID]; ok {
			delete(w.byUnique, ev.Params.ExecutionContextUniqueID)
			delete(w.byID, k)
		}
		if ev.Params.ExecutionContextID != 0 {
			k := worldKey{ev.SessionID, ev.Params.ExecutionContextID}
			if u, ok := w.byID[k]; ok {
				delete(w.byID, k)
				delete(w.byUnique, u)
			}
		}
	case "Runtime.executionContextsCleared":
		w.dropSession(ev.SessionID)
	case "Target.detachedFromTarget":
		w.dropSession(ev.Params.SessionID)
		return ev.Params.SessionID
	}
	return ""
}

func (w *worlds) dropSession(session string) {
	for k, u := range w.byID {
		if k.session == session {
			delete(w.byID, k)
			delete(w.byUnique, u)
		}
	}
}
