package nekotest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/neko"
)

// Without a usable token the socket is upgraded, told why, and dropped.
func TestWSRefusedToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	for _, tc := range []struct{ query, reason string }{
		{"", "no authentication provided"},
		{"?token=nope", "session not found"},
	} {
		c := dialWS(t, s, tc.query, nil)
		if got := expectPayload[neko.SystemDisconnect](c, neko.EventSystemDisconnect); got.Message != tc.reason {
			t.Fatalf("token %q: reason %q, want %q", tc.query, got.Message, tc.reason)
		}
		c.expectDropped()
	}
}

// The socket takes the token like REST does: header before query.
func TestWSTokenFromHeader(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a, b := loginUser(t, s, "a"), loginUser(t, s, "b")
	c := dialWS(t, s, "?token="+b.Token, http.Header{"Authorization": {"Bearer " + a.Token}})
	if init := expectPayload[neko.SystemInit](c, neko.EventSystemInit); init.SessionID != a.ID {
		t.Fatalf("socket authenticated as %s, want %s", init.SessionID, a.ID)
	}
}

func TestWSConnectSequenceUser(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.ScreenSize = neko.ScreenSize{Width: 800, Height: 600, Rate: 25}
	s := startServer(t, opts)
	w := loginAdmin(t, s, "w")
	wc := w.dialInit()
	wc.expect(neko.EventSessionState)
	u := loginUser(t, s, "u")
	wc.expect(neko.EventSessionCreated)

	c := u.dial()
	f := c.next()
	if f.msg.Event != neko.EventSystemInit || !bytes.HasSuffix(f.raw, []byte("}\n")) {
		t.Fatalf("first frame %q", f.raw)
	}
	if !bytes.Contains(f.raw, []byte(`"control_host":{"id":"","has_host":false}`)) {
		t.Fatalf("control_host in %s", f.raw)
	}
	var init neko.SystemInit
	if err := json.Unmarshal(f.msg.Payload, &init); err != nil {
		t.Fatal(err)
	}
	if init.SessionID != u.ID || init.ScreenSize != opts.ScreenSize || init.ScreencastEnabled || init.TouchEvents ||
		!settingsEqual(init.Settings, neko.DefaultSettings()) || len(init.Sessions) != 2 || len(init.WebRTC.Videos) == 0 {
		t.Fatalf("system/init: %+v", init)
	}
	if self := init.Sessions[u.ID]; !self.State.IsConnected || self.Profile.Name != "u" {
		t.Fatalf("own session in system/init: %+v", self)
	}
	// A user gets no system/admin: next is its own session/state.
	f = c.next()
	st := neko.SessionStateUpdate{}
	if err := json.Unmarshal(f.msg.Payload, &st); f.msg.Event != neko.EventSessionState || err != nil || st.ID != u.ID || !st.IsConnected || st.ConnectedSince == nil {
		t.Fatalf("second frame %s", f.raw)
	}
	if !bytes.HasSuffix(f.raw, []byte("\n")) {
		t.Fatalf("frame without newline: %q", f.raw)
	}
	// Everyone else hears about it too.
	if got := expectPayload[neko.SessionStateUpdate](wc, neko.EventSessionState); got.ID != u.ID || !got.IsConnected {
		t.Fatalf("others' session/state: %+v", got)
	}
}

func TestWSConnectSequenceAdmin(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a := loginAdmin(t, s, "a")
	c := a.dial()
	c.expect(neko.EventSystemInit)
	f := c.next()
	if f.msg.Event != neko.EventSystemAdmin || !bytes.Contains(f.raw, []byte(`"broadcast_status":{"is_active":false}`)) {
		t.Fatalf("system/admin frame %q", f.raw)
	}
	c.expect(neko.EventSessionState)
}

func TestWSSystemInitShowsHost(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h := loginUser(t, s, "h")
	h.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	u := loginUser(t, s, "u")
	init := expectPayload[neko.SystemInit](u.dial(), neko.EventSystemInit)
	if init.ControlHost != (neko.ControlHost{HasHost: true, HostID: h.ID}) {
		t.Fatalf("control_host %+v", init.ControlHost)
	}
}

func TestWSServerHeartbeat(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.HeartbeatPeriod = 20 * time.Millisecond
	s := startServer(t, opts)
	u := loginUser(t, s, "u")
	c := u.dialInit()
	for {
		f := c.nextFrame()
		if f.msg.Event == neko.EventSystemHeartbeat {
			if string(f.raw) != "{\"event\":\"system/heartbeat\"}\n" {
				t.Fatalf("heartbeat frame %q", f.raw)
			}
			break
		}
	}
	select {
	case <-c.pings:
	case <-time.After(waitTimeout):
		t.Fatal("no WebSocket ping")
	}
}

func TestWSClientHeartbeatIsSilent(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	c := loginUser(t, s, "u").dialInit()
	c.expect(neko.EventSessionState)
	c.send(neko.EventClientHeartbeat, nil)
	c.silent()
}

func TestWSMalformedAndUnknownIgnored(t *testing.T) {
	t.Parallel()
	logs := newLogRecorder()
	opts := quiet()
	opts.Logger = logs.logger()
	s := startServer(t, opts)
	u := loginUser(t, s, "u")
	c := u.dialInit()
	c.expect(neko.EventSessionState)
	c.sendRaw("this is not json")
	c.sendRaw(`{"event":"nope/unknown","payload":{"a":1}}`)
	c.sendRaw(`{"event":"send/unicast","payload":"not an object"}`)
	c.send(neko.EventSendUnicast, map[string]any{"receiver": "nobody", "subject": "x"})
	// No error event, and the socket keeps working.
	c.silent()
	logs.wait(t, "message unmarshalling has failed", u.ID, 1)
	logs.wait(t, "unhandled message", u.ID, 1)
	logs.wait(t, "message handler has failed", u.ID, 2)
}

func TestWSControlRequestNoHost(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	o := loginUser(t, s, "o")
	oc := o.dialInit()
	oc.expect(neko.EventSessionState)
	h := loginUser(t, s, "h")
	oc.expect(neko.EventSessionCreated)
	hc := h.dialInit()
	hc.expect(neko.EventSessionState)
	oc.expect(neko.EventSessionState)

	hc.send(neko.EventControlRequest, nil)
	want := neko.ControlHost{ID: h.ID, HasHost: true, HostID: h.ID}
	for _, c := range []*wsConn{hc, oc} {
		if got := expectPayload[neko.ControlHost](c, neko.EventControlHost); got != want {
			t.Fatalf("control/host %+v, want %+v", got, want)
		}
	}
	// Asking again as host does nothing at all.
	hc.send(neko.EventControlRequest, nil)
	hc.silent()
	oc.silent()
}

func TestWSControlRequestWhenHostedAsksHost(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h, v := loginUser(t, s, "h"), loginUser(t, s, "v")
	hc := h.dialInit()
	hc.expect(neko.EventSessionState)
	vc := v.dialInit()
	vc.expect(neko.EventSessionState)
	hc.expect(neko.EventSessionState)
	hc.send(neko.EventControlRequest, nil)
	hc.expect(neko.EventControlHost)
	vc.expect(neko.EventControlHost)

	vc.send(neko.EventControlRequest, nil)
	if got := expectPayload[neko.SessionID](hc, neko.EventControlRequest); got.ID != v.ID {
		t.Fatalf("host was asked by %s", got.ID)
	}
	vc.silent() // the requester hears nothing
	if host, _ := s.Host(); host != h.ID {
		t.Fatalf("host is %s", host)
	}
}

func TestWSImplicitHostingSteals(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.ImplicitHosting = true
	})
	a, u := loginAdmin(t, s, "a"), loginUser(t, s, "u")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	uc := u.dialInit()
	uc.expect(neko.EventSessionState)
	ac.expect(neko.EventSessionState)
	a.mustCall(http.MethodPost, "/api/room/control/take", nil, http.StatusNoContent)
	ac.expect(neko.EventControlHost)
	uc.expect(neko.EventControlHost)

	// A user takes it from an admin, without asking.
	uc.send(neko.EventControlRequest, nil)
	want := neko.ControlHost{ID: u.ID, HasHost: true, HostID: u.ID}
	if got := expectPayload[neko.ControlHost](ac, neko.EventControlHost); got != want {
		t.Fatalf("steal: %+v", got)
	}
	uc.expect(neko.EventControlHost)
}

// inputPayloads are valid payloads for every input event.
var inputPayloads = map[string]any{
	neko.EventControlMove:        map[string]any{"x": 10, "y": 20},
	neko.EventControlScroll:      map[string]any{"delta_x": 0, "delta_y": 120},
	neko.EventControlButtonPress: map[string]any{"code": 1, "x": 5, "y": 5},
	neko.EventControlButtonDown:  map[string]any{"code": 1},
	neko.EventControlButtonUp:    map[string]any{"code": 1},
	neko.EventControlKeyPress:    map[string]any{"keysym": 97},
	neko.EventControlKeyDown:     map[string]any{"keysym": 97, "x": 1, "y": 2},
	neko.EventControlKeyUp:       map[string]any{"keysym": 97},
	neko.EventControlTouchBegin:  map[string]any{"touch_id": 1, "x": 1, "y": 1, "pressure": 100},
	neko.EventControlTouchUpdate: map[string]any{"touch_id": 1, "x": 2, "y": 2, "pressure": 100},
	neko.EventControlTouchEnd:    map[string]any{"touch_id": 1, "x": 2, "y": 2, "pressure": 0},
	neko.EventControlCut:         nil,
	neko.EventControlCopy:        nil,
	neko.EventControlPaste:       map[string]any{"text": ""},
	neko.EventControlSelectAll:   nil,
}

func TestWSInputEventsTakeHostWithImplicitHosting(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.ImplicitHosting = true
	})
	a, b := loginUser(t, s, "a"), loginUser(t, s, "b")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	bc := b.dialInit()
	bc.expect(neko.EventSessionState)
	ac.expect(neko.EventSessionState)
	conns := map[string]*wsConn{a.ID: ac, b.ID: bc}
	// Control bounces between a and b, one input event at a time.
	senders := []*user{a, b}
	for i, ev := range neko.InputEvents {
		sender := senders[i%2]
		conns[sender.ID].send(ev, inputPayloads[ev])
		want := neko.ControlHost{ID: sender.ID, HasHost: true, HostID: sender.ID}
		for _, c := range conns {
			if got := expectPayload[neko.ControlHost](c, neko.EventControlHost); got != want {
				t.Fatalf("%s: control/host %+v, want %+v", ev, got, want)
			}
		}
	}
}

func TestWSInputWithoutImplicitHosting(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h, v := loginUser(t, s, "h"), loginUser(t, s, "v")
	hc := h.dialInit()
	hc.expect(neko.EventSessionState)
	vc := v.dialInit()
	vc.expect(neko.EventSessionState)
	hc.expect(neko.EventSessionState)
	// Nobody hosts: the first input makes its sender host.
	hc.send(neko.EventControlMove, inputPayloads[neko.EventControlMove])
	if got := expectPayload[neko.ControlHost](vc, neko.EventControlHost); got.HostID != h.ID {
		t.Fatalf("first input: %+v", got)
	}
	hc.expect(neko.EventControlHost)
	// While hosted, every input of a viewer asks the host again.
	for range 3 {
		vc.send(neko.EventControlMove, inputPayloads[neko.EventControlMove])
		if got := expectPayload[neko.SessionID](hc, neko.EventControlRequest); got.ID != v.ID {
			t.Fatalf("control/request from %s", got.ID)
		}
	}
	vc.silent()
	// The host's own input changes nothing.
	hc.send(neko.EventControlKeyDown, inputPayloads[neko.EventControlKeyDown])
	hc.silent()
	vc.silent()
}

func TestWSInputWithBadPayloadIgnored(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	c := loginUser(t, s, "u").dialInit()
	c.expect(neko.EventSessionState)
	c.send(neko.EventControlMove, nil)                              // payload missing
	c.send(neko.EventControlKeyDown, map[string]any{"keysym": "a"}) // wrong type
	c.silent()
	if _, ok := s.Host(); ok {
		t.Fatal("an input with a bad payload took control")
	}
}

func TestWSControlRequestLockedControls(t *testing.T) {
	t.Parallel()
	opts := quiet()
	st := neko.DefaultSettings()
	st.LockedControls, st.ImplicitHosting = true, true
	opts.Settings = &st
	s := startServer(t, opts)
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	uc := u.dialInit()
	uc.expect(neko.EventSessionState)
	uc.send(neko.EventControlRequest, nil)
	uc.send(neko.EventControlMove, inputPayloads[neko.EventControlMove])
	uc.silent()
	if _, ok := s.Host(); ok {
		t.Fatal("user got control while controls are locked")
	}
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	uc.expect(neko.EventSessionState)
	ac.send(neko.EventControlRequest, nil)
	if got := expectPayload[neko.ControlHost](uc, neko.EventControlHost); got.HostID != a.ID {
		t.Fatalf("admin request: %+v", got)
	}
}

func TestWSControlRequestPrivateMode(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.PrivateMode = true
	})
	uc := loginUser(t, s, "u").dialInit()
	uc.expect(neko.EventSessionState)
	uc.send(neko.EventControlRequest, nil)
	uc.silent()
	if _, ok := s.Host(); ok {
		t.Fatal("user got control in private mode")
	}
}

func TestWSControlRelease(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h, o := loginUser(t, s, "h"), loginUser(t, s, "o")
	hc := h.dialInit()
	hc.expect(neko.EventSessionState)
	oc := o.dialInit()
	oc.expect(neko.EventSessionState)
	hc.expect(neko.EventSessionState)
	hc.send(neko.EventControlRequest, nil)
	hc.expect(neko.EventControlHost)
	oc.expect(neko.EventControlHost)

	oc.send(neko.EventControlRelease, nil) // not the host: ignored
	oc.silent()
	hc.silent()
	hc.send(neko.EventControlRelease, nil)
	want := neko.ControlHost{ID: h.ID}
	if got := expectPayload[neko.ControlHost](oc, neko.EventControlHost); got != want {
		t.Fatalf("release: %+v", got)
	}
	waitHost(t, s, "")
}

func TestWSSendUnicastAndBroadcast(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a, b, c := loginUser(t, s, "a"), loginUser(t, s, "b"), loginUser(t, s, "c")
	ac, bc, cc := a.dialInit(), b.dialInit(), c.dialInit()
	ac.waitEvent(neko.EventSessionState)
	bc.syncVia(ac)
	cc.syncVia(ac)
	ac.syncVia(bc)

	ac.send(neko.EventSendUnicast, map[string]any{"receiver": b.ID, "subject": "hello", "body": map[string]any{"n": 1}})
	got := expectPayload[neko.SendUnicast](bc, neko.EventSendUnicast)
	if got.Sender != a.ID || got.Receiver != b.ID || got.Subject != "hello" || string(got.Body) != `{"n":1}` {
		t.Fatalf("unicast %+v", got)
	}
	ac.send(neko.EventSendBroadcast, map[string]any{"subject": "all", "body": "x"})
	for _, conn := range []*wsConn{bc, cc} {
		got := expectPayload[neko.SendBroadcast](conn, neko.EventSendBroadcast)
		if got.Sender != a.ID || got.Subject != "all" || string(got.Body) != `"x"` {
			t.Fatalf("broadcast %+v", got)
		}
	}
	ac.silent() // the sender does not get its own broadcast
}

func TestBroadcastRaw(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	c := loginUser(t, s, "u").dialInit()
	c.expect(neko.EventSessionState)
	s.BroadcastRaw([]byte(`{"event":`))
	if f := c.next(); string(f.raw) != `{"event":` {
		t.Fatalf("raw frame %q", f.raw)
	}
	c.silent()
}

// ---- close handling (internal/websocket/manager.go connect) ----

// hostAndWatcher logs in a host with a socket that hosts and a watcher with a
// socket, with every connect event consumed.
func hostAndWatcher(t *testing.T, s *Server) (h *user, hc *wsConn, w *user, wc *wsConn) {
	t.Helper()
	w = loginUser(t, s, "w")
	wc = w.dialInit()
	wc.expect(neko.EventSessionState)
	h = loginUser(t, s, "h")
	wc.expect(neko.EventSessionCreated)
	hc = h.dialInit()
	hc.expect(neko.EventSessionState)
	wc.expect(neko.EventSessionState)
	hc.send(neko.EventControlRequest, nil)
	hc.expect(neko.EventControlHost)
	wc.expect(neko.EventControlHost)
	return h, hc, w, wc
}

func TestWSCleanCloseDisconnectsAtOnce(t *testing.T) {
	t.Parallel()
	for _, code := range []int{websocket.CloseNormalClosure, websocket.CloseGoingAway} {
		opts := quiet()
		opts.DelayedDisconnect = time.Hour // a delayed disconnect would never finish
		s := startServer(t, opts)
		h, hc, _, wc := hostAndWatcher(t, s)
		hc.closeWith(code)
		if got := expectPayload[neko.ControlHost](wc, neko.EventControlHost); got != (neko.ControlHost{ID: h.ID}) {
			t.Fatalf("close %d: control/host %+v", code, got)
		}
		if got := expectPayload[neko.SessionStateUpdate](wc, neko.EventSessionState); got.ID != h.ID || got.IsConnected || got.NotConnectedSince == nil {
			t.Fatalf("close %d: session/state %+v", code, got)
		}
		if _, ok := s.Host(); ok {
			t.Fatalf("close %d: host kept", code)
		}
	}
}

func TestWSAbnormalCloseDelaysDisconnect(t *testing.T) {
	t.Parallel()
	logs := newLogRecorder()
	opts := quiet()
	opts.DelayedDisconnect = time.Hour
	opts.Logger = logs.logger()
	s := startServer(t, opts)
	h, hc, _, wc := hostAndWatcher(t, s)
	hc.closeWith(4000) // not 1000/1001
	logs.wait(t, "delayed websocket disconnect", h.ID, 1)
	st := s.State()
	if d, _ := st.Session(h.ID); !st.HasHost || st.HostID != h.ID || !d.State.IsConnected {
		t.Fatalf("state during the delay: %+v", st)
	}
	wc.silent()
}

func TestWSDelayedDisconnectExpires(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet()) // 200ms
	h, hc, _, wc := hostAndWatcher(t, s)
	s.DropSocket(h.ID)
	hc.expectDropped()
	if got := expectPayload[neko.ControlHost](wc, neko.EventControlHost); got != (neko.ControlHost{ID: h.ID}) {
		t.Fatalf("control/host %+v", got)
	}
	if got := expectPayload[neko.SessionStateUpdate](wc, neko.EventSessionState); got.ID != h.ID || got.IsConnected {
		t.Fatalf("session/state %+v", got)
	}
	waitHost(t, s, "")
}

func TestWSReconnectWithinDelayKeepsHost(t *testing.T) {
	t.Parallel()
	logs := newLogRecorder()
	opts := quiet()
	opts.DelayedDisconnect = time.Hour
	opts.Logger = logs.logger()
	s := startServer(t, opts)
	h, hc, _, wc := hostAndWatcher(t, s)
	s.DropSocket(h.ID)
	hc.expectDropped()
	logs.wait(t, "delayed websocket disconnect", h.ID, 1)

	hc2 := h.dial()
	init := expectPayload[neko.SystemInit](hc2, neko.EventSystemInit)
	if init.ControlHost.HostID != h.ID {
		t.Fatalf("reconnected system/init control_host %+v", init.ControlHost)
	}
	hc2.expect(neko.EventSessionState)
	// Others only see the session state again, nothing about control.
	if got := expectPayload[neko.SessionStateUpdate](wc, neko.EventSessionState); got.ID != h.ID || !got.IsConnected {
		t.Fatalf("session/state %+v", got)
	}
	wc.silent()
	if host, _ := s.Host(); host != h.ID {
		t.Fatalf("host is %q", host)
	}
	// The pending disconnect is gone.
	s.mu.Lock()
	pending := s.sessions[h.ID].delayed != nil
	s.mu.Unlock()
	if pending {
		t.Fatal("delayed disconnect still pending after reconnect")
	}
}

func TestWSMercifulReconnectReplacesSocket(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h, hc, _, wc := hostAndWatcher(t, s)
	hc2 := h.dial()
	hc2.expect(neko.EventSystemInit)
	hc2.expect(neko.EventSessionState)
	// The broadcast already went to the new socket; the old one only gets
	// told why it is dropped.
	if got := expectPayload[neko.SystemDisconnect](hc, neko.EventSystemDisconnect); got.Message != "connection replaced" {
		t.Fatalf("old socket: %q", got.Message)
	}
	hc.expectDropped()
	wc.expect(neko.EventSessionState)
	wc.silent()
	if host, _ := s.Host(); host != h.ID {
		t.Fatalf("host lost on replacement: %q", host)
	}
	hc2.silent()
}

func TestWSNoMercifulReconnectRefusesSecondSocket(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.MercifulReconnect = false
	})
	u := loginUser(t, s, "u")
	c := u.dialInit()
	c.expect(neko.EventSessionState)
	c2 := u.dial()
	if got := expectPayload[neko.SystemDisconnect](c2, neko.EventSystemDisconnect); got.Message != "already connected" {
		t.Fatalf("second socket: %q", got.Message)
	}
	c2.expectDropped()
	c.silent()
}

// A peer that stops reading and never answers a ping is never noticed.
func TestWSVanishedPeerIsNeverDetected(t *testing.T) {
	t.Parallel()
	logs := newLogRecorder()
	opts := quiet()
	opts.HeartbeatPeriod = 10 * time.Millisecond
	opts.Logger = logs.logger()
	s := startServer(t, opts)
	h := loginUser(t, s, "h")
	h.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	conn, _, err := d.Dial(wsURL(s, "?token="+h.Token), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	// Never read: no pong ever goes back.
	logs.wait(t, "sent heartbeat", h.ID, 30)
	st := s.State()
	if d, _ := st.Session(h.ID); !d.State.IsConnected || st.HostID != h.ID {
		t.Fatalf("silent peer was dropped: %+v", st)
	}
}

func TestWSLogoutOfConnectedHost(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h, hc, _, wc := hostAndWatcher(t, s)
	h.mustCall(http.MethodPost, "/api/logout", nil, http.StatusOK)
	if got := expectPayload[neko.ControlHost](wc, neko.EventControlHost); got != (neko.ControlHost{ID: h.ID}) {
		t.Fatalf("control/host %+v", got)
	}
	wc.expect(neko.EventSessionState)
	if got := expectPayload[neko.SessionID](wc, neko.EventSessionDeleted); got.ID != h.ID {
		t.Fatalf("session/deleted %+v", got)
	}
	hc.waitEvent(neko.EventSystemDisconnect)
	hc.expectDropped()
}

func TestWSOriginCheck(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.AllowedOrigins = []string{"http://good.example"}
	s := startServer(t, opts)
	u := loginUser(t, s, "u")
	good := dialWS(t, s, "?token="+u.Token, http.Header{"Origin": {"http://good.example"}})
	good.expect(neko.EventSystemInit)

	for name, h := range map[string]http.Header{"bad": {"Origin": {"http://evil.example"}}, "missing": nil} {
		d := websocket.Dialer{HandshakeTimeout: waitTimeout}
		conn, res, err := d.Dial(wsURL(s, "?token="+u.Token), h)
		if err == nil {
			_ = conn.Close()
			t.Fatalf("%s origin accepted", name)
		}
		if res == nil || res.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s origin: %v %v", name, res, err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if strings.TrimSpace(string(body)) != `{"code":400,"message":"Bad Request"}` {
			t.Fatalf("%s origin body %q", name, body)
		}
	}
}

func TestWSNotAWebSocketRequest(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	res := newREST(t, s).do(http.MethodGet, "/api/ws", nil, nil)
	if res.code != http.StatusBadRequest || res.errorBody(t).Message != "Bad Request" {
		t.Fatalf("plain GET /api/ws: %s", res)
	}
}
