package neko

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/internal/pubsub"
)

// ConnOptions configure a WebSocket Conn. Zero values take the defaults.
type ConnOptions struct {
	// ReconnectMin is the first reconnect delay; default 250ms. Delays double
	// per attempt with ±20% jitter (so that many bots do not hammer a
	// restarting neko in lockstep), capped at ReconnectMax.
	ReconnectMin time.Duration
	// ReconnectMax caps the reconnect delay; default 10s.
	ReconnectMax time.Duration
	// LivenessTimeout: no server frame (heartbeat, ping or anything) for this
	// long means the link is dead and the Conn reconnects; default 25s. neko
	// sends system/heartbeat and a ping every 10s, and never notices a dead
	// peer itself, so the client has to.
	LivenessTimeout time.Duration
	// InitTimeout bounds the wait for system/init after the dial; default 10s.
	InitTimeout time.Duration
	// NoReconnect makes a drop end the Conn, for one-shot commands.
	NoReconnect bool
	// Logger defaults to the Client's logger.
	Logger *slog.Logger

	// written, if set, sees every frame after it was written (tests observe
	// client/heartbeat with it, since neko answers nothing to it).
	written func(frame []byte)
}

// Synthetic event names, delivered alongside neko's own events.
const (
	// EventReconnecting precedes every reconnect attempt (Payload *ConnState
	// with Attempt, Delay, the Err that caused it and the server's Reason).
	EventReconnecting = "conn/reconnecting"
	// EventReconnected: a new socket is up and its system/init has rebuilt
	// the Room (Payload *ConnState with Attempt and Relogin). The fresh
	// system/init event follows it.
	EventReconnected = "conn/reconnected"
	// EventClosed is the last event when the Conn ends on its own (Payload
	// *ConnState with Err saying why: ErrReplaced, a refused re-login, a drop
	// with NoReconnect). Close sends none.
	EventClosed = "conn/closed"
)

// ConnState is the payload of the synthetic conn/* events.
type ConnState struct {
	Attempt int           // reconnect attempt, from 1
	Delay   time.Duration // wait before this attempt
	Err     error         // what ended the previous socket or failed the last attempt
	Relogin bool          // a new session had to be created (neko had forgotten ours)
	Reason  string        // the last system/disconnect message, if any
}

// Event is one thing that happened on the Conn.
type Event struct {
	// Name is neko's event name, or one of the synthetic conn/* names.
	Name string
	// Time is when the frame was received.
	Time time.Time
	// Payload is a typed pointer for known events: *SystemInit,
	// *SystemAdmin, *SystemSettingsUpdate, *SystemDisconnect, *ControlHost,
	// *SessionID (control/request, session/deleted), *SessionData
	// (session/created), *SessionStateUpdate, *SessionProfileUpdate,
	// *SendUnicast, *SendBroadcast, *ScreenSize (screen/updated); nil for
	// system/heartbeat and for unknown events; *ConnState for conn/*.
	Payload any
	// Raw is the payload as received (nil for conn/* events). Unknown events
	// are delivered with Raw only, never dropped.
	Raw json.RawMessage
}

// Room is the client's view of the neko room, rebuilt from every
// system/init and kept current by the events that follow.
type Room struct {
	SessionID       string                 // our session (changes after a re-login)
	Host            ControlHost            // HasHost, HostID, and ID = actor of the last change
	Sessions        map[string]SessionData // a copy; safe to modify
	Settings        Settings
	ScreenSize      ScreenSize
	Connected       bool      // a socket is up and initialised
	LastServerFrame time.Time // last frame of any kind, pings included
	Reconnects      int       // successful reconnects
	Malformed       int       // frames ignored because they did not decode
}

// Conn is a live WebSocket to neko that reconnects by itself. All methods are
// safe for concurrent use.
//
// Reconnect policy: a read error, a close, system/disconnect, or silence
// longer than LivenessTimeout drops the socket (without a close frame, so
// neko's delayed disconnect keeps our host for a quick comeback) and starts
// the reconnect loop: exponential backoff with jitter, first with the
// current token; if neko refuses it (it forgot the session, e.g. after a
// restart), log in again with the remembered credentials (a new session id)
// and dial again. The fresh system/init rebuilds the Room. The loop stops
// for good only when retrying cannot help: "connection replaced" (another
// socket uses our session; fighting it would evict each other forever), a
// re-login rejected with 401 or after Logout, or "connection disabled".
// Err then says why, and subscribers get conn/closed.
type Conn struct {
	client *Client
	opts   ConnOptions
	log    *slog.Logger

	ctx    context.Context // the Conn's lifetime: ends on Close or a fatal end
	cancel context.CancelFunc

	mu     sync.Mutex
	room   Room
	warned map[string]bool // event names already logged as malformed at Warn

	wmu sync.Mutex      // gorilla allows one concurrent writer; also guards ws
	ws  *websocket.Conn // nil between sockets

	subs pubsub.Hub[Event]

	closing   chan struct{} // closed by Close
	closeOnce sync.Once
	runDone   chan struct{} // closed when the run goroutine has returned
	done      chan struct{}
	doneOnce  sync.Once
	errMu     sync.Mutex
	err       error
}

const (
	defaultReconnectMin    = 250 * time.Millisecond
	defaultReconnectMax    = 10 * time.Second
	defaultLivenessTimeout = 25 * time.Second
	defaultInitTimeout     = 10 * time.Second
	defaultHeartbeat       = 10 * time.Second
	writeWait              = 10 * time.Second
	// closeWait bounds how long Close waits for neko to answer the close
	// frame before dropping the socket.
	closeWait   = time.Second
	maxFrame    = 16 << 20
	logNameSkip = "(undecodable)"
)

func (o ConnOptions) withDefaults(fallback *slog.Logger) ConnOptions {
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = defaultReconnectMin
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = defaultReconnectMax
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = o.ReconnectMin
	}
	if o.LivenessTimeout <= 0 {
		o.LivenessTimeout = defaultLivenessTimeout
	}
	if o.InitTimeout <= 0 {
		o.InitTimeout = defaultInitTimeout
	}
	if o.Logger == nil {
		o.Logger = fallback
	}
	return o
}

// Connect opens the WebSocket (GET /api/ws with the session's token, or its
// cookie in cookie mode) and returns once system/init has arrived and built
// the Room. ctx bounds only this dial and wait; the Conn lives until Close.
// If neko refuses the session (system/disconnect before system/init), the
// error wraps ErrUnauthorized and carries neko's message.
func (c *Client) Connect(ctx context.Context, opts ConnOptions) (*Conn, error) {
	if !c.loggedIn() {
		return nil, fmt.Errorf("neko: connect: %w (call Login first)", ErrNotLoggedIn)
	}
	opts = opts.withDefaults(c.log)
	lctx, cancel := context.WithCancel(context.Background())
	cn := &Conn{
		client:  c,
		opts:    opts,
		log:     opts.Logger,
		ctx:     lctx,
		cancel:  cancel,
		warned:  make(map[string]bool),
		closing: make(chan struct{}),
		runDone: make(chan struct{}),
		done:    make(chan struct{}),
	}
	l, err := cn.dial(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	cn.mu.Lock()
	cn.room.apply(l.init)
	cn.room.Connected = true
	cn.room.LastServerFrame = l.init.Time
	for _, ev := range l.pending {
		cn.room.apply(ev)
	}
	cn.mu.Unlock()
	cn.ws = l.ws
	go cn.run(l.ws)
	return cn, nil
}

// link is a freshly dialled socket whose system/init has arrived.
type link struct {
	ws      *websocket.Conn
	init    Event
	pending []Event // frames that came before system/init (neko sends none)
}

// refusedError: neko closed the socket with system/disconnect before
// system/init (server/internal/websocket/manager.go connect).
type refusedError struct {
	reason   string
	sentinel error
}

func (e *refusedError) Error() string {
	if e.sentinel != nil {
		return fmt.Sprintf("neko refused the websocket (%v): %s", e.sentinel, e.reason)
	}
	return "neko refused the websocket: " + e.reason
}

func (e *refusedError) Unwrap() error { return e.sentinel }

// refusal maps neko's pre-init disconnect reasons to sentinels. Auth failures
// ("no authentication provided", "session not found", anything from
// Authenticate) are ErrUnauthorized so that the reconnect loop logs in again.
func refusal(reason string) *refusedError {
	switch reason {
	case "already connected":
		return &refusedError{reason, ErrAlreadyConnected}
	case "connection disabled":
		return &refusedError{reason, ErrForbidden}
	case "connection shutdown":
		return &refusedError{reason, nil}
	}
	return &refusedError{reason, ErrUnauthorized}
}

func (c *Conn) wsURL() (string, http.Header) {
	u := *c.client.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = c.client.base.Path + "/api/ws"
	h := http.Header{}
	c.client.authHeader(h)
	// neko checks Origin against its CORS list; a browser on the neko page
	// would send the page's own origin, which any sane list allows.
	h.Set("Origin", c.client.base.Scheme+"://"+c.client.base.Host)
	return u.String(), h
}

func (c *Conn) dialer() *websocket.Dialer {
	d := &websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: c.opts.InitTimeout,
	}
	if t, ok := c.client.hc.Transport.(*http.Transport); ok && t != nil {
		d.Proxy = t.Proxy
		d.NetDialContext = t.DialContext
		if t.TLSClientConfig != nil {
			d.TLSClientConfig = t.TLSClientConfig.Clone()
		}
	}
	return d
}

// dial opens a socket and reads until system/init.
func (c *Conn) dial(parent context.Context) (*link, error) {
	ctx, cancel := context.WithTimeout(parent, c.opts.InitTimeout)
	defer cancel()
	// ctxErr tells the caller's cancellation apart from InitTimeout.
	ctxErr := func() error {
		if err := parent.Err(); err != nil {
			return fmt.Errorf("neko: connect: %w", err)
		}
		return fmt.Errorf("neko: connect: no system/init within %v: %w", c.opts.InitTimeout, ctx.Err())
	}
	target, h := c.wsURL()
	ws, resp, err := c.dialer().DialContext(ctx, target, h)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			r := &response{status: resp.StatusCode, header: resp.Header}
			buf := make([]byte, 1024)
			n, _ := resp.Body.Read(buf)
			r.body = buf[:n]
			msg := errorMessage(r)
			return nil, &APIError{Op: "ws", Method: http.MethodGet, URL: target, Status: resp.StatusCode,
				Message: msg, sentinel: classify("ws", resp.StatusCode, msg), base: c.client.baseStr}
		}
		if ctx.Err() != nil {
			return nil, ctxErr()
		}
		return nil, &APIError{Op: "ws", Method: http.MethodGet, URL: target, Err: err,
			sentinel: ErrUnreachable, base: c.client.baseStr}
	}
	ws.SetReadLimit(maxFrame)
	// The read below has no deadline of its own: ctx (InitTimeout, the
	// caller's ctx, Close) ends it by closing the socket.
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	var pending []Event
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			stop()
			ws.Close()
			if ctx.Err() != nil {
				return nil, ctxErr()
			}
			return nil, fmt.Errorf("neko: connect: socket closed before system/init: %w", err)
		}
		ev, err := decodeFrame(data, time.Now())
		if err != nil {
			c.malformed(err)
			continue
		}
		switch ev.Name {
		case EventSystemInit:
			if !stop() {
				return nil, ctxErr()
			}
			return &link{ws: ws, init: ev, pending: pending}, nil
		case EventSystemDisconnect:
			stop()
			ws.Close()
			return nil, refusal(ev.Payload.(*SystemDisconnect).Message)
		}
		pending = append(pending, ev)
	}
}

// run owns the socket life cycle: serve until the link ends, then reconnect
// or end the Conn.
func (c *Conn) run(ws *websocket.Conn) {
	defer close(c.runDone)
	for {
		reason, err := c.serve(ws)
		c.wmu.Lock()
		c.ws = nil
		c.wmu.Unlock()
		ws.Close()
		c.mu.Lock()
		c.room.Connected = false
		c.mu.Unlock()
		if c.isClosing() {
			return
		}
		if errors.Is(err, ErrReplaced) {
			c.log.Warn("neko: another socket took over our session; not reconnecting", "session", c.Room().SessionID)
			c.finish(err, reason)
			return
		}
		if c.opts.NoReconnect {
			c.finish(fmt.Errorf("neko: connection lost (reconnect disabled): %w", err), reason)
			return
		}
		c.log.Info("neko: connection lost, reconnecting", "err", err, "reason", reason)
		ws, reason, err = c.reconnect(err, reason)
		if err != nil {
			if !c.isClosing() {
				c.finish(err, reason)
			}
			return
		}
	}
}

func (c *Conn) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Conn) isClosing() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}

// errLiveness marks a link dropped by the client because neko went silent.
var errLiveness = errors.New("liveness timeout")

// serve reads one link until it ends, and heartbeats on it. It returns the
// system/disconnect message if neko sent one.
func (c *Conn) serve(ws *websocket.Conn) (reason string, err error) {
	hbStop := make(chan struct{})
	hbDone := make(chan struct{})
	go c.heartbeat(ws, hbStop, hbDone)
	defer func() {
		close(hbStop)
		<-hbDone
	}()

	ws.SetPingHandler(func(data string) error {
		c.touch(time.Now())
		_ = ws.SetReadDeadline(time.Now().Add(c.opts.LivenessTimeout))
		// A failed pong means a dead socket; the next read reports it.
		_ = ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
		return nil
	})
	for {
		_ = ws.SetReadDeadline(time.Now().Add(c.opts.LivenessTimeout))
		_, data, err := ws.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return reason, fmt.Errorf("neko: no frame for %v: %w", c.opts.LivenessTimeout, errLiveness)
			}
			return reason, fmt.Errorf("neko: websocket read: %w", err)
		}
		now := time.Now()
		c.touch(now)
		ev, derr := decodeFrame(data, now)
		if derr != nil {
			c.malformed(derr)
			continue
		}
		c.handle(ev)
		if d, ok := ev.Payload.(*SystemDisconnect); ok {
			// neko drops the socket right after this (no close frame).
			if d.Message == "connection replaced" {
				return d.Message, fmt.Errorf("neko: %w", ErrReplaced)
			}
			return d.Message, fmt.Errorf("neko: server disconnected us: %q", d.Message)
		}
	}
}

func (c *Conn) heartbeatInterval() time.Duration {
	c.mu.Lock()
	s := c.room.Settings.HeartbeatInterval
	c.mu.Unlock()
	if s <= 0 {
		return defaultHeartbeat
	}
	return time.Duration(s) * time.Second
}

// heartbeat sends client/heartbeat every settings.heartbeat_interval, as
// neko's own client does; neko ignores it, but proxies in front of neko may
// close idle sockets. A new interval applies from the next beat.
func (c *Conn) heartbeat(ws *websocket.Conn, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	frame, _ := json.Marshal(Message{Event: EventClientHeartbeat})
	for {
		t := time.NewTimer(c.heartbeatInterval())
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		if err := c.writeOn(ws, frame); err != nil {
			c.log.Debug("neko: heartbeat not sent", "err", err)
		}
	}
}

// reconnect dials until a socket is initialised, logging in again when neko
// no longer knows our session. It returns an error only when the Conn must
// end (Close, or a refusal retrying cannot fix), with the last
// system/disconnect reason.
func (c *Conn) reconnect(cause error, reason string) (_ *websocket.Conn, lastReason string, _ error) {
	for attempt := 1; ; attempt++ {
		delay := backoff(attempt, c.opts.ReconnectMin, c.opts.ReconnectMax)
		c.emit(EventReconnecting, &ConnState{Attempt: attempt, Delay: delay, Err: cause, Reason: reason})
		t := time.NewTimer(delay)
		select {
		case <-c.closing:
			t.Stop()
			return nil, reason, ErrClosed
		case <-t.C:
		}

		relogin := false
		sid := c.client.SessionID()
		l, err := c.dial(c.ctx)
		if errors.Is(err, ErrUnauthorized) {
			c.surfaceRefusal(err, &reason)
			// neko forgot the session (restart) or it was logged out: a new
			// session is the only way back in.
			c.log.Info("neko: session refused, logging in again", "session", sid, "err", err)
			if lerr := c.client.relogin(c.ctx, sid); lerr != nil {
				if c.isClosing() {
					return nil, reason, ErrClosed
				}
				if errors.Is(lerr, ErrUnauthorized) || errors.Is(lerr, ErrNotLoggedIn) {
					return nil, reason, fmt.Errorf("neko: reconnect: re-login failed: %w", lerr)
				}
				cause = lerr
				continue
			}
			relogin = true
			l, err = c.dial(c.ctx)
		}
		if err != nil {
			if c.isClosing() {
				return nil, reason, ErrClosed
			}
			c.surfaceRefusal(err, &reason)
			if errors.Is(err, ErrForbidden) {
				return nil, reason, fmt.Errorf("neko: reconnect: %w", err)
			}
			cause = err
			continue
		}

		c.wmu.Lock()
		if c.isClosing() {
			c.wmu.Unlock()
			l.ws.Close()
			return nil, reason, ErrClosed
		}
		c.ws = l.ws
		c.wmu.Unlock()

		c.mu.Lock()
		c.room.apply(l.init)
		c.room.Connected = true
		c.room.LastServerFrame = l.init.Time
		c.room.Reconnects++
		c.mu.Unlock()
		c.log.Info("neko: reconnected", "attempt", attempt, "relogin", relogin, "session", l.init.Payload.(*SystemInit).SessionID)
		c.emit(EventReconnected, &ConnState{Attempt: attempt, Relogin: relogin, Reason: reason})
		c.publish(l.init)
		for _, ev := range l.pending {
			c.handle(ev)
		}
		return l.ws, reason, nil
	}
}

// surfaceRefusal delivers a pre-init system/disconnect as an event, since
// the reason is often the only explanation the server gives.
func (c *Conn) surfaceRefusal(err error, reason *string) {
	var re *refusedError
	if !errors.As(err, &re) {
		return
	}
	*reason = re.reason
	raw, _ := json.Marshal(SystemDisconnect{Message: re.reason})
	c.publish(Event{Name: EventSystemDisconnect, Time: time.Now(),
		Payload: &SystemDisconnect{Message: re.reason}, Raw: raw})
}

// backoff is min·2^(attempt-1), capped at max, with ±20% jitter.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return clampDuration(d, min*8/10, max)
}

func clampDuration(d, lo, hi time.Duration) time.Duration {
	if d < lo {
		return lo
	}
	if d > hi {
		return hi
	}
	return d
}

func (c *Conn) touch(t time.Time) {
	c.mu.Lock()
	c.room.LastServerFrame = t
	c.mu.Unlock()
}

// malformed counts a frame that did not decode and logs it, at Warn only
// the first time per event name so a misbehaving server cannot flood logs.
func (c *Conn) malformed(err error) {
	name := logNameSkip
	var fe *frameError
	if errors.As(err, &fe) && fe.event != "" {
		name = fe.event
	}
	c.mu.Lock()
	c.room.Malformed++
	first := !c.warned[name]
	c.warned[name] = true
	c.mu.Unlock()
	if first {
		c.log.Warn("neko: ignoring malformed frame", "event", name, "err", err)
	} else {
		c.log.Debug("neko: ignoring malformed frame", "event", name, "err", err)
	}
}

// handle updates the Room, then delivers the event, so that a subscriber
// reading Room() on an event already sees its effect.
func (c *Conn) handle(ev Event) {
	c.mu.Lock()
	c.room.apply(ev)
	c.mu.Unlock()
	c.publish(ev)
}

func (c *Conn) emit(name string, st *ConnState) {
	c.publish(Event{Name: name, Time: time.Now(), Payload: st})
}

func (c *Conn) publish(ev Event) { c.subs.Publish(ev) }

// finish ends the Conn on its own (fatal refusal, replaced, NoReconnect):
// subscribers get conn/closed and then see their channels close once they
// have read everything.
func (c *Conn) finish(err error, reason string) {
	c.setErr(err)
	c.log.Warn("neko: connection ended", "err", err, "reason", reason)
	c.emit(EventClosed, &ConnState{Err: err, Reason: reason})
	c.subs.Close()
	c.cancel()
	c.doneOnce.Do(func() { close(c.done) })
}

func (c *Conn) setErr(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
}

// Subscribe returns a channel with every event from now on, in order, and a
// cancel func that ends the subscription and closes the channel (events not
// yet received are discarded). The queue behind the channel is unbounded: a
// slow reader holds up neither the connection nor other subscribers, and
// loses nothing. When the Conn ends on its own, the channel delivers
// everything up to conn/closed and is then closed; Close closes it at once.
// Subscribing to an ended Conn returns a closed channel.
func (c *Conn) Subscribe() (<-chan Event, func()) { return c.subs.Subscribe() }

// Room returns a snapshot of the room state.
func (c *Conn) Room() Room {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.room.clone()
}

// IsHost reports whether our session is the host, as far as the events
// received tell.
func (c *Conn) IsHost() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.room.Host.HasHost && c.room.Host.HostID != "" && c.room.Host.HostID == c.room.SessionID
}

// RequestControl sends control/request. neko never answers: the outcome is a
// control/host event, or for a request to a busy host nothing at all (the
// host receives control/request).
func (c *Conn) RequestControl() error { return c.Send(EventControlRequest, nil) }

// ReleaseControl sends control/release; neko ignores it unless we host.
func (c *Conn) ReleaseControl() error { return c.Send(EventControlRelease, nil) }

// SendUnicast sends an opaque message to one session (neko fills sender).
func (c *Conn) SendUnicast(receiver, subject string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("neko: send/unicast: encode body: %w", err)
	}
	return c.Send(EventSendUnicast, SendUnicast{Receiver: receiver, Subject: subject, Body: b})
}

// SendBroadcast sends an opaque message to every session (neko fills sender).
func (c *Conn) SendBroadcast(subject string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("neko: send/broadcast: encode body: %w", err)
	}
	return c.Send(EventSendBroadcast, SendBroadcast{Subject: subject, Body: b})
}

// Send writes one frame {"event", "payload"}; a nil payload is omitted.
// Sending while reconnecting fails with ErrNotConnected rather than queueing.
func (c *Conn) Send(event string, payload any) error {
	if event == "" {
		return errors.New("neko: send: empty event name")
	}
	var raw json.RawMessage
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return fmt.Errorf("neko: send %s: encode payload: %w", event, err)
		}
		raw = b
	}
	frame, err := json.Marshal(Message{Event: event, Payload: raw})
	if err != nil {
		return fmt.Errorf("neko: send %s: %w", event, err)
	}
	if c.isClosing() || c.ended() {
		return fmt.Errorf("neko: send %s: %w", event, ErrClosed)
	}
	c.wmu.Lock()
	ws := c.ws
	c.wmu.Unlock()
	if ws == nil {
		return fmt.Errorf("neko: send %s: %w", event, ErrNotConnected)
	}
	if err := c.writeOn(ws, frame); err != nil {
		return fmt.Errorf("neko: send %s: %w", event, err)
	}
	return nil
}

// writeOn writes a text frame on ws if it is still the current socket. A
// failed write closes the socket so the reader notices at once and
// reconnects, instead of waiting for the liveness timeout.
func (c *Conn) writeOn(ws *websocket.Conn, frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.ws != ws {
		if c.isClosing() {
			return ErrClosed
		}
		return ErrNotConnected
	}
	_ = ws.SetWriteDeadline(time.Now().Add(writeWait))
	err := ws.WriteMessage(websocket.TextMessage, frame)
	if err != nil {
		if !errors.Is(err, websocket.ErrCloseSent) {
			ws.Close()
		}
		return err
	}
	if c.opts.written != nil {
		c.opts.written(frame)
	}
	return nil
}

// Close ends the Conn: it sends a normal close frame (1000), so that neko
// disconnects the session at once and clears host if we held it (an
// abnormal drop would leave us host for neko's 5 s delayed-disconnect
// window), waits for the Conn's goroutines and closes every subscriber
// channel. Events a subscriber has not received by then are discarded, and
// no conn/closed is sent: the caller knows. It is idempotent and returns nil.
func (c *Conn) Close() error {
	c.closeOnce.Do(c.close)
	return nil
}

func (c *Conn) close() {
	close(c.closing)
	c.wmu.Lock()
	ws := c.ws
	if ws != nil {
		_ = ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(closeWait))
	}
	c.wmu.Unlock()
	c.cancel() // aborts a dial, re-login or backoff in progress
	t := time.NewTimer(closeWait)
	select {
	case <-c.runDone:
		t.Stop()
	case <-t.C:
		// neko did not answer the close frame; drop the socket.
		c.wmu.Lock()
		if c.ws != nil {
			c.ws.Close()
		}
		c.wmu.Unlock()
		<-c.runDone
	}
	c.mu.Lock()
	c.room.Connected = false
	c.mu.Unlock()

	c.setErr(ErrClosed)
	// Events not yet received are discarded: waiting for readers would let
	// an abandoned subscription hold Close (and its goroutine) forever.
	c.subs.Halt()
	c.doneOnce.Do(func() { close(c.done) })
}

// Done is closed when the Conn has ended (Close, or a fatal condition).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is nil while the Conn lives; afterwards it says why it ended
// (ErrClosed after Close, ErrReplaced, a failed re-login, ...).
func (c *Conn) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}
