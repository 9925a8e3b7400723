package neko

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/internal/pubsub"
)

// ConnOptions configure a WebSocket Conn. Zero values take the defaults.
type ConnOptions struct {
	// ReconnectMin is the first reconnect delay; default 250ms. Delays double
	// per attempt with ±20% jitter (so that many bots do not hammer a
	// restarting neko in lockstep), capped at ReconnectMax. After its delay,
	// every attempt first asks GET /health (for at most min(InitTimeout, 1s))
	// and dials only once neko answers, so that a frozen neko (SIGSTOP, a
	// stalled VM), whose kernel still accepts connections, is polled with
	// small requests instead of collecting upgrade requests that it would
	// handle, all at once, when it runs again.
	ReconnectMin time.Duration
	// ReconnectMax caps the reconnect delay, and so the health polling
	// interval while neko is down or frozen; default 1s. It is what bounds
	// the time from neko answering again to the Conn being back: at most
	// ReconnectMax until the next probe (a probe in flight when a frozen neko
	// resumes is answered at once), then one probe and one dial, so about 1s
	// with the default. Keep it well under neko's 5s delayed disconnect
	// (wsDelayedDuration, internal/session/session.go): a host that is back
	// within that window keeps host. A larger cap only
	// saves requests that cost neko almost nothing.
	ReconnectMax time.Duration
	// LivenessTimeout: no server frame (heartbeat, ping or anything) for this
	// long means the link is dead and the Conn reconnects; default 25s. neko
	// sends system/heartbeat and a ping every 10s, and never notices a dead
	// peer itself, so the client has to.
	LivenessTimeout time.Duration
	// InitTimeout bounds each dial up to system/init, and a re-login;
	// default 10s. An attempt given up after its upgrade request reached
	// neko is remembered: neko may still handle it later (see Conn).
	InitTimeout time.Duration
	// NoReconnect makes a drop end the Conn, for one-shot commands.
	NoReconnect bool
	// Logger defaults to the Client's logger.
	Logger *slog.Logger

	// written, if set, sees every frame after it was written (tests observe
	// client/heartbeat with it, since neko answers nothing to it).
	written func(frame []byte)
	// noProbe skips the health probe before reconnect dials, so that tests
	// can make abandoned attempts pile up in a paused server.
	noProbe bool
}

// Synthetic event names, delivered alongside neko's own events.
const (
	// EventReconnecting precedes every reconnect attempt (Payload *ConnState
	// with Attempt, Delay, the Err that caused it and the server's Reason).
	// Err wraps ErrUnreachable when neko did not answer the health probe, and
	// ErrStaleAttempt when a late attempt of our own replaced the socket.
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
	// Stale counts attempts given up after their upgrade request reached
	// neko, which neko may still handle (it then replaces our socket, and the
	// Conn reconnects with ErrStaleAttempt instead of ending).
	Stale int
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
	Chat            bool      // neko's chat plugin is on (chat/init, after system/init)
}

// Conn is a live WebSocket to neko that reconnects by itself. All methods are
// safe for concurrent use.
//
// Reconnect policy: a read error, a close, system/disconnect, or silence
// longer than LivenessTimeout drops the socket (without a close frame, so
// neko's delayed disconnect keeps our host for a quick comeback) and starts
// the reconnect loop, one attempt at a time: exponential backoff with jitter
// capped at ReconnectMax, a health probe, then a dial with the current
// token; if neko refuses it (it forgot the session, e.g. after a restart),
// log in again with the remembered credentials (a new session id) and dial
// again. The fresh system/init rebuilds the Room. The loop stops for good
// only when retrying cannot help: "connection replaced" by another client
// on our session (fighting it would evict each other forever), a re-login
// rejected with 401 or after Logout, or "connection disabled". Err then says
// why, and subscribers get conn/closed.
//
// An attempt given up after its upgrade request reached neko (a frozen neko
// accepts TCP but answers nothing) is closed on our side and never used,
// but neko may still handle the request when it runs again and replace our
// newer socket with it, even before that socket got its system/init. Such a
// "connection replaced" is ours, not another client's: while attempts like
// that are outstanding (ConnState.Stale), the Conn takes it for one of them
// and reconnects at once (conn/reconnecting with ErrStaleAttempt), within
// neko's delayed-disconnect window so that host is kept; it never logs in
// again for it, which would give up the session and its host. They are forgotten once neko sends a heartbeat on a later
// socket, by which time it has handled everything sent before.
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

	stale staleAttempts // owned by the run goroutine (reconnect.go)

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
	defaultReconnectMax    = time.Second
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

// ErrSilent is the cause (ConnState.Err) of a reconnect after neko sent
// nothing, not even a heartbeat, for ConnOptions.LivenessTimeout: the
// client dropped the link.
var ErrSilent = errors.New("liveness timeout: neko went silent")

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
		c.stale.settled(c.log)
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
				return reason, fmt.Errorf("neko: no frame for %v: %w", c.opts.LivenessTimeout, ErrSilent)
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
		if ev.Name == EventSystemHeartbeat {
			c.stale.settled(c.log)
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

// SendChat posts text to neko's chat (chat/message), where its web client
// shows it to people under our session's name. neko drops it silently when
// the chat plugin is off or the room's chat.can_send forbids our user
// (server/internal/plugins/chat/manager.go): Room().Chat says whether it is
// on.
func (c *Conn) SendChat(text string) error {
	return c.Send(EventChatMessage, ChatContent{Text: text})
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
