package cdpproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// A relay is one proxied WebSocket: a client on one side, Chromium on the
// other. Its work is split by concern:
//
//   - pump.go: the two pumps, Chromium → client (streamed) and client →
//     Chromium (through the gate);
//   - header.go, scanner.go, number.go: reading a client message's header,
//     in one place and in one pass;
//   - ids.go: the proxy's own command ids, and the steps in flight;
//   - hold.go: the gate, the queue of held commands and its drain;
//   - speculate.go: proving a held evaluation side-effect-free;
//   - worlds.go: the isolated worlds evaluations may run in;
//   - codrive.go: the Codrive domain.
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

	sc   scanner // the client pump's
	ids  idTable
	gest gestures

	qmu      sync.Mutex
	queue    []*heldCmd
	draining bool // a drain goroutine owns the queue head: later acting commands queue behind it

	worlds worlds

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
		cdEnabled: make(map[string]bool),
	}
	rl.ids.init()
	rl.log = p.log.With("conn", rl.id)
	rl.worlds.init()
	rl.ctx, rl.cancel = context.WithCancel(p.ctx)
	if !p.track(rl) {
		rl.finish(websocket.CloseGoingAway, "codrive: proxy shutting down", websocket.CloseGoingAway, "")
		return
	}
	defer p.untrack(rl)
	p.nConns.Add(1)
	p.nAccepted.Add(1)
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
	// Commands Chromium will never answer now are no longer in flight, and
	// nothing is pressed any more.
	end(r.ids.clear())
	r.gest.end()
	// The drain empties the queue before it ends; anything a failed start
	// left is dropped here so Stats.Held stays true.
	r.qmu.Lock()
	for _, h := range r.queue {
		r.settle(h, HeldAbandoned, "the connection ended during the hold")
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

// upstreamGone ends the relay after the connection to Chromium failed, and
// tells the client why.
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

// clientGone ends the relay after the client left, passing its close code
// on to Chromium.
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

// refuse ends the relay for something the client sent that the proxy
// cannot relay, with a close code and a reason that say what it was.
func (r *relay) refuse(code int, reason string) {
	r.log.Info("cdpproxy: closing the client", "code", code, "reason", reason)
	r.finish(code, reason, websocket.CloseNormalClosure, "")
}

// replyTo is where the proxy's own answer to a command goes.
type replyTo struct {
	id      int32
	hasID   bool
	session string
}

func (h *header) replyTo() replyTo {
	return replyTo{id: h.id, hasID: h.idOK, session: h.session}
}

// cdpError is a CDP error object.
type cdpError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type cdpEvent struct {
	Method    string `json:"method"`
	Params    any    `json:"params"`
	SessionID string `json:"sessionId,omitempty"`
}

// replyError answers a command with a CDP error, as Chromium would: with
// the command's id and session, or without an id for a message that has
// none Chromium would take.
func (r *relay) replyError(to replyTo, code int, msg string) error {
	return r.reply(to, "error", cdpError{Code: code, Message: msg})
}

func (r *relay) replyResult(to replyTo, result any) error {
	return r.reply(to, "result", result)
}

func (r *relay) reply(to replyTo, key string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cdpproxy: encode %s: %w", key, err)
	}
	b := make([]byte, 0, len(body)+64+len(to.session))
	b = append(b, '{')
	if to.hasID {
		b = append(b, `"id":`...)
		b = formatID(b, to.id)
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `":`...)
	b = append(b, body...)
	if to.session != "" {
		s, _ := json.Marshal(to.session)
		b = append(b, `,"sessionId":`...)
		b = append(b, s...)
	}
	b = append(b, '}')
	return r.writeClient(b)
}

func (r *relay) writeJSONClient(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cdpproxy: encode: %w", err)
	}
	return r.writeClient(b)
}
