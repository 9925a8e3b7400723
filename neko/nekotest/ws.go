package nekotest

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/neko"
)

// allowOrigin is internal/config/server.go AllowOrigin: no list or "*"
// allows everything; otherwise the Origin header, even an empty one, must be
// listed.
func (s *Server) allowOrigin(r *http.Request) bool {
	list := s.opts.AllowedOrigins
	if len(list) == 0 || list[0] == "*" {
		return true
	}
	return slices.Contains(list, r.Header.Get("Origin"))
}

// serveWS is GET /api/ws (internal/websocket/manager.go Upgrade and connect).
// A failed handshake (bad Origin, not a WebSocket request) writes nothing
// itself and ends as a 400 JSON error, because neko's upgrader has a no-op
// Error func. Authentication happens after the upgrade: a refused socket
// gets system/disconnect and is dropped without a close frame.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) error {
	upgrader := websocket.Upgrader{
		CheckOrigin: s.allowOrigin,
		Error:       func(http.ResponseWriter, *http.Request, int, error) {},
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Warn("websocket upgrade failed", "err", err)
		return httpError(http.StatusBadRequest)
	}
	s.holdControlFrames(conn)
	token, found := s.tokenFromRequest(r)

	s.mu.Lock()
	if !s.live {
		s.mu.Unlock()
		_ = conn.Close()
		return nil
	}
	sess, err := s.authenticateTokenLocked(token, found)
	reason := ""
	switch {
	case err != nil:
		reason = err.Error()
		s.log.Warn("authentication failed", "err", err)
	case !sess.profile.CanConnect:
		reason = "connection disabled"
	case sess.state.IsConnected && !s.settings.MercifulReconnect:
		// Also during the delayed-disconnect window: the session still
		// counts as connected then.
		reason = "already connected"
	}
	if reason != "" {
		s.newPeerLocked(conn, false).destroy(reason)
		s.mu.Unlock()
		return nil
	}
	p := s.newPeerLocked(conn, true)
	p.sess = sess
	s.log.Info("connection started", "session_id", sess.id, "address", conn.RemoteAddr().String())
	s.connectPeerLocked(sess, p)
	s.mu.Unlock()

	// The read loop runs in the request's goroutine, counted by serveHTTP.
	stepDone(r)
	s.readLoop(sess, p)
	return nil
}

// readLoop has no read deadline and checks no pong: a peer that vanishes
// without closing TCP is never noticed (internal/websocket/manager.go handle).
func (s *Server) readLoop(sess *session, p *peer) {
	for {
		_, raw, err := p.conn.ReadMessage()
		if err != nil {
			// A clean close (1000, 1001) disconnects at once; any other close
			// code or a read error waits for a reconnect
			// (internal/websocket/manager.go connect).
			delayed := true
			var ce *websocket.CloseError
			if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway) {
				delayed = false
			}
			s.step(func() {
				s.log.Info("connection ended", "session_id", sess.id, "err", err, "delayed", delayed)
				s.mu.Lock()
				s.disconnectPeerLocked(sess, p, delayed)
				s.mu.Unlock()
			})
			p.kill()
			return
		}
		s.step(func() { s.handleMessage(sess, raw) })
	}
}

// Payload shapes of server/pkg/types/message/messages.go, only so that a
// payload of the wrong shape fails to decode as it would in neko.
type (
	controlPos struct {
		X int `json:"x"`
		Y int `json:"y"`
	}
	controlScroll struct {
		X          int  `json:"x"`
		Y          int  `json:"y"`
		DeltaX     int  `json:"delta_x"`
		DeltaY     int  `json:"delta_y"`
		ControlKey bool `json:"control_key"`
	}
	controlButton struct {
		X    *int   `json:"x"`
		Y    *int   `json:"y"`
		Code uint32 `json:"code"`
	}
	controlKey struct {
		X      *int   `json:"x"`
		Y      *int   `json:"y"`
		Keysym uint32 `json:"keysym"`
	}
	controlTouch struct {
		TouchID  uint32 `json:"touch_id"`
		X        int    `json:"x"`
		Y        int    `json:"y"`
		Pressure uint8  `json:"pressure"`
	}
	clipboardData struct {
		Text string `json:"text"`
	}
	sendUnicast struct {
		Receiver string          `json:"receiver"`
		Subject  string          `json:"subject"`
		Body     json.RawMessage `json:"body"`
	}
	sendBroadcast struct {
		Subject string          `json:"subject"`
		Body    json.RawMessage `json:"body"`
	}
)

// inputPayload returns a value to decode an input event's payload into, or
// nil for events that take none.
func inputPayload(event string) any {
	switch event {
	case neko.EventControlMove:
		return &controlPos{}
	case neko.EventControlScroll:
		return &controlScroll{}
	case neko.EventControlButtonPress, neko.EventControlButtonDown, neko.EventControlButtonUp:
		return &controlButton{}
	case neko.EventControlKeyPress, neko.EventControlKeyDown, neko.EventControlKeyUp:
		return &controlKey{}
	case neko.EventControlTouchBegin, neko.EventControlTouchUpdate, neko.EventControlTouchEnd:
		return &controlTouch{}
	case neko.EventControlPaste:
		return &clipboardData{}
	}
	return nil
}

// Events neko handles that need a desktop or WebRTC; accepted and ignored.
var mediaEvents = []string{
	"signal/request", "signal/restart", "signal/offer", "signal/answer", "signal/candidate",
	"signal/video", "signal/audio", neko.EventScreenSet, "clipboard/set",
	"keyboard/map", "keyboard/modifiers", neko.EventSystemLogs,
}

// handleMessage is neko's per-message handling: malformed JSON and unknown
// events are logged and ignored, a failing handler is only logged, and
// nothing is ever sent back as an error (internal/websocket/manager.go
// handle, internal/websocket/handler/handler.go Message).
func (s *Server) handleMessage(sess *session, raw []byte) {
	var msg neko.Message
	if err := json.Unmarshal(raw, &msg); err != nil {
		s.log.Warn("message unmarshalling has failed", "session_id", sess.id, "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.gone {
		return
	}
	handled, err := s.dispatchLocked(sess, msg)
	if !handled {
		s.log.Warn("unhandled message", "session_id", sess.id, "event", msg.Event)
		return
	}
	if err != nil {
		s.log.Warn("message handler has failed", "session_id", sess.id, "event", msg.Event, "err", err)
	}
}

func (s *Server) dispatchLocked(sess *session, msg neko.Message) (bool, error) {
	switch ev := msg.Event; {
	case ev == neko.EventClientHeartbeat:
		// nothing happens and nothing is sent back
		return true, nil
	case ev == neko.EventControlRequest:
		return true, s.controlRequestLocked(sess)
	case ev == neko.EventControlRelease:
		return true, s.controlReleaseLocked(sess)
	case slices.Contains(neko.InputEvents, ev):
		return true, s.inputLocked(sess, ev, msg.Payload)
	case ev == neko.EventSendUnicast:
		var in sendUnicast
		if err := json.Unmarshal(msg.Payload, &in); err != nil {
			return true, err
		}
		// internal/websocket/handler/send.go sendUnicast
		receiver, ok := s.sessions[in.Receiver]
		if !ok {
			return true, errors.New("receiver session ID not found")
		}
		s.sendLocked(receiver, neko.EventSendUnicast, neko.SendUnicast{
			Sender: sess.id, Receiver: receiver.id, Subject: in.Subject, Body: in.Body,
		})
		return true, nil
	case ev == neko.EventSendBroadcast:
		var in sendBroadcast
		if err := json.Unmarshal(msg.Payload, &in); err != nil {
			return true, err
		}
		// everyone but the sender (internal/websocket/handler/send.go sendBroadcast)
		s.broadcastLocked(neko.EventSendBroadcast, neko.SendBroadcast{
			Sender: sess.id, Subject: in.Subject, Body: in.Body,
		}, sess.id)
		return true, nil
	case ev == EventChatMessage && !s.opts.NoPlugins:
		return true, s.chatMessageLocked(sess, msg.Payload)
	case slices.Contains(mediaEvents, ev):
		s.log.Debug("media event ignored", "session_id", sess.id, "event", ev)
		return true, nil
	}
	return false, nil
}

// inputLocked runs the control/request logic before any input, so with
// implicit hosting any input takes control, and without it the first input
// in a room with no host makes the sender host
// (internal/websocket/handler/control.go controlMove and friends).
func (s *Server) inputLocked(sess *session, event string, payload json.RawMessage) error {
	if v := inputPayload(event); v != nil {
		if err := json.Unmarshal(payload, v); err != nil {
			return err
		}
	}
	if err := s.controlRequestLocked(sess); err != nil && !errors.Is(err, errAlreadyTheHost) {
		return err
	}
	s.log.Debug("input applied", "session_id", sess.id, "event", event)
	return nil
}
