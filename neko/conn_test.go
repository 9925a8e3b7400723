package neko_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// fastReconnect keeps reconnect tests quick; timings never decide a test.
var fastReconnect = neko.ConnOptions{ReconnectMin: 10 * time.Millisecond, ReconnectMax: 100 * time.Millisecond}

func TestConnInitSnapshot(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{ScreenSize: neko.ScreenSize{Width: 1024, Height: 768, Rate: 25}})
	ctx := testCtx(t)
	a := login(t, srv, "alice", userPW)
	admin := login(t, srv, "boss", adminPW)
	if _, err := admin.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	cn := connect(t, a, neko.ConnOptions{})
	r := cn.Room()
	if r.SessionID != a.SessionID() || !r.Connected || r.LastServerFrame.IsZero() || r.Reconnects != 0 || r.Malformed != 0 {
		t.Fatalf("room = %+v", r)
	}
	if !r.Host.HasHost || r.Host.HostID != admin.SessionID() || cn.IsHost() {
		t.Fatalf("host = %+v", r.Host)
	}
	if _, ok := r.Sessions[admin.SessionID()]; !ok {
		t.Fatalf("sessions lack the admin: %v", r.Sessions)
	}
	if me, ok := r.Sessions[a.SessionID()]; !ok || me.Profile.Name != "alice" {
		t.Fatalf("sessions lack us: %v", r.Sessions)
	}
	want := srv.Settings()
	if r.Settings.HeartbeatInterval != want.HeartbeatInterval || r.Settings.MercifulReconnect != want.MercifulReconnect ||
		r.Settings.ImplicitHosting != want.ImplicitHosting {
		t.Fatalf("settings = %+v, want %+v", r.Settings, want)
	}
	if r.ScreenSize != (neko.ScreenSize{Width: 1024, Height: 768, Rate: 25}) {
		t.Fatalf("screen = %+v", r.ScreenSize)
	}
	// Room returns a copy.
	r.Sessions["intruder"] = neko.SessionData{}
	if _, ok := cn.Room().Sessions["intruder"]; ok {
		t.Fatal("Room shares its sessions map")
	}
}

func TestConnectRefusedSession(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	a := login(t, srv, "alice", userPW)
	srv.Restart() // neko forgets every session
	_, err := a.Connect(testCtx(t), neko.ConnOptions{})
	if !errors.Is(err, neko.ErrUnauthorized) || !strings.Contains(err.Error(), "session not found") {
		t.Fatalf("Connect with a forgotten session = %v", err)
	}
}

func TestConnectCancelled(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	a := login(t, srv, "alice", userPW)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Connect(ctx, neko.ConnOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Connect(cancelled) = %v", err)
	}
}

func TestConnControlEvents(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	ctx := testCtx(t)
	a, b := login(t, srv, "alice", userPW), login(t, srv, "bob", userPW)
	ca, cb := connect(t, a, neko.ConnOptions{}), connect(t, b, neko.ConnOptions{})
	ea, eb := subscribe(t, ca), subscribe(t, cb)

	if err := ca.RequestControl(); err != nil {
		t.Fatal(err)
	}
	ev := ea.until("control/host alice", hostIs(a.SessionID()))
	// The Room is updated before the event is delivered.
	if !ca.IsHost() || ca.Room().Host.HostID != a.SessionID() {
		t.Fatalf("room not updated when control/host arrived: %+v", ca.Room().Host)
	}
	if h := ev.Payload.(*neko.ControlHost); h.ID != a.SessionID() {
		t.Fatalf("actor = %q, want %q", h.ID, a.SessionID())
	}
	eb.until("control/host alice on bob", hostIs(a.SessionID()))
	if cb.IsHost() || cb.Room().Host.HostID != a.SessionID() {
		t.Fatalf("bob's room: %+v", cb.Room().Host)
	}

	// A REST request while alice hosts: 202, and alice is asked.
	res, err := b.RequestControl(ctx)
	if err != nil || res != neko.ControlPending {
		t.Fatalf("request = %v, %v", res, err)
	}
	ev = ea.named(neko.EventControlRequest)
	if p := ev.Payload.(*neko.SessionID); p.ID != b.SessionID() {
		t.Fatalf("control/request from %q, want %q", p.ID, b.SessionID())
	}
	// The same over the WebSocket.
	if err := cb.RequestControl(); err != nil {
		t.Fatal(err)
	}
	if p := ea.named(neko.EventControlRequest).Payload.(*neko.SessionID); p.ID != b.SessionID() {
		t.Fatalf("control/request from %q", p.ID)
	}
	if !ca.IsHost() {
		t.Fatal("a pending request moved host")
	}

	if err := ca.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	ea.until("no host", hostIs(""))
	eb.until("no host on bob", hostIs(""))
	if ca.IsHost() || ca.Room().Host.HasHost {
		t.Fatalf("room after release: %+v", ca.Room().Host)
	}
	waitHost(t, srv, "")
}

func TestConnSettingsEvent(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	ctx := testCtx(t)
	admin := login(t, srv, "boss", adminPW)
	cu := connect(t, login(t, srv, "bot", userPW), neko.ConnOptions{})
	eu := subscribe(t, cu)
	if err := admin.UpdateSettings(ctx, neko.SettingsPatch{LockedControls: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	ev := eu.named(neko.EventSystemSettings)
	p := ev.Payload.(*neko.SystemSettingsUpdate)
	if !p.LockedControls || p.ID != admin.SessionID() || !p.MercifulReconnect {
		t.Fatalf("system/settings = %+v", p)
	}
	if !cu.Room().Settings.LockedControls {
		t.Fatal("room settings not updated")
	}
}

func TestConnAdminGetsSystemAdmin(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	// system/admin follows system/init on the initial socket before any
	// subscriber exists; a reconnect shows it to subscribers.
	ca := connect(t, login(t, srv, "boss", adminPW), fastReconnect)
	e := subscribe(t, ca)
	srv.DropSocket(ca.Room().SessionID)
	e.named(neko.EventReconnected)
	e.named(neko.EventSystemInit)
	if _, ok := e.named(neko.EventSystemAdmin).Payload.(*neko.SystemAdmin); !ok {
		t.Fatal("system/admin payload type")
	}
}

func TestConnSessionLifecycle(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	ctx := testCtx(t)
	ca := connect(t, login(t, srv, "alice", userPW), neko.ConnOptions{})
	ea := subscribe(t, ca)

	carol := login(t, srv, "carol", userPW)
	id := carol.SessionID()
	ev := ea.until("session/created", func(ev neko.Event) bool {
		p, ok := ev.Payload.(*neko.SessionData)
		return ok && ev.Name == neko.EventSessionCreated && p.ID == id
	})
	if ev.Payload.(*neko.SessionData).Profile.Name != "carol" {
		t.Fatalf("created = %+v", ev.Payload)
	}
	if _, ok := ca.Room().Sessions[id]; !ok {
		t.Fatal("room lacks the created session")
	}

	cc := connect(t, carol, neko.ConnOptions{})
	ea.until("session/state connected", func(ev neko.Event) bool {
		p, ok := ev.Payload.(*neko.SessionStateUpdate)
		return ok && p.ID == id && p.IsConnected
	})
	if !ca.Room().Sessions[id].State.IsConnected {
		t.Fatal("room does not show carol connected")
	}

	if err := carol.PostForTest(ctx, "profile", "/api/profile", neko.MemberProfile{Name: "Carol C."}); err != nil {
		t.Fatal(err)
	}
	ea.until("session/profile", func(ev neko.Event) bool {
		p, ok := ev.Payload.(*neko.SessionProfileUpdate)
		return ok && p.ID == id && p.Name == "Carol C."
	})
	if got := ca.Room().Sessions[id].Profile.Name; got != "Carol C." {
		t.Fatalf("room profile name = %q", got)
	}

	cc.Close()
	ea.until("session/state disconnected", func(ev neko.Event) bool {
		p, ok := ev.Payload.(*neko.SessionStateUpdate)
		return ok && p.ID == id && !p.IsConnected
	})
	if err := carol.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	ev = ea.until("session/deleted", func(ev neko.Event) bool {
		p, ok := ev.Payload.(*neko.SessionID)
		return ok && ev.Name == neko.EventSessionDeleted && p.ID == id
	})
	if _, ok := ca.Room().Sessions[id]; ok {
		t.Fatal("room still has the deleted session")
	}
}

func TestConnUnicastBroadcast(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	a, b := login(t, srv, "alice", userPW), login(t, srv, "bob", userPW)
	ca, cb := connect(t, a, neko.ConnOptions{}), connect(t, b, neko.ConnOptions{})
	eb := subscribe(t, cb)

	if err := ca.SendUnicast(b.SessionID(), "codrive", map[string]string{"why": "handoff"}); err != nil {
		t.Fatal(err)
	}
	u := eb.named(neko.EventSendUnicast).Payload.(*neko.SendUnicast)
	if u.Sender != a.SessionID() || u.Receiver != b.SessionID() || u.Subject != "codrive" || string(u.Body) != `{"why":"handoff"}` {
		t.Fatalf("unicast = %+v body %s", u, u.Body)
	}
	if err := ca.SendBroadcast("hello", 42); err != nil {
		t.Fatal(err)
	}
	bc := eb.named(neko.EventSendBroadcast).Payload.(*neko.SendBroadcast)
	if bc.Sender != a.SessionID() || bc.Subject != "hello" || string(bc.Body) != "42" {
		t.Fatalf("broadcast = %+v body %s", bc, bc.Body)
	}
	if err := ca.SendUnicast(b.SessionID(), "x", func() {}); err == nil {
		t.Fatal("unencodable body accepted")
	}
	if err := ca.Send("", nil); err == nil {
		t.Fatal("empty event name accepted")
	}
}

func TestConnUnknownEventDeliveredRaw(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	cn := connect(t, login(t, srv, "alice", userPW), neko.ConnOptions{})
	e := subscribe(t, cn)
	srv.BroadcastRaw([]byte(`{"event":"plugin/thing","payload":{"k":[1,2]}}`))
	ev := e.named("plugin/thing")
	if ev.Payload != nil || string(ev.Raw) != `{"k":[1,2]}` || ev.Time.IsZero() {
		t.Fatalf("unknown event = %+v raw %s", ev, ev.Raw)
	}
	// nekotest has no desktop to resize; a raw frame stands in for neko's
	// screen/updated (flat {"id", width, height, rate}).
	srv.BroadcastRaw([]byte(`{"event":"screen/updated","payload":{"id":"admin-1","width":1920,"height":1080,"rate":60}}`))
	ev = e.named(neko.EventScreenUpdated)
	want := neko.ScreenSize{Width: 1920, Height: 1080, Rate: 60}
	if p, ok := ev.Payload.(*neko.ScreenSize); !ok || *p != want || cn.Room().ScreenSize != want {
		t.Fatalf("screen/updated = %+v, room %+v", ev.Payload, cn.Room().ScreenSize)
	}
}

// logRecorder is a slog.Handler that keeps the records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecorder) WithGroup(string) slog.Handler      { return h }

// warnings counts Warn records per "event" attribute.
func (h *logRecorder) warnings() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	for _, r := range h.recs {
		if r.Level != slog.LevelWarn {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "event" {
				out[a.Value.String()]++
			}
			return true
		})
	}
	return out
}

func TestConnMalformedFrames(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	rec := &logRecorder{}
	cn := connect(t, login(t, srv, "alice", userPW), neko.ConnOptions{Logger: slog.New(rec)})
	e := subscribe(t, cn)

	for _, f := range []string{
		`this is not json`,
		`{"event":"control/host","payload":"nope"}`,
		`{"event":"control/host","payload":{"has_host":"yes"}}`,
		`{"event":"session/deleted","payload":null}`,
		`{"payload":{}}`,
		`{"event":"test/marker"}`,
	} {
		srv.BroadcastRaw([]byte(f))
	}
	var seen []string
	e.until("test/marker", func(ev neko.Event) bool {
		seen = append(seen, ev.Name)
		return ev.Name == "test/marker"
	})
	for _, n := range seen {
		if n == neko.EventControlHost || n == neko.EventSessionDeleted || strings.HasPrefix(n, "conn/") {
			t.Fatalf("malformed frame was delivered or dropped the socket: %v", seen)
		}
	}
	r := cn.Room()
	if r.Malformed != 5 || !r.Connected || r.Reconnects != 0 {
		t.Fatalf("room after malformed frames: malformed=%d connected=%v reconnects=%d", r.Malformed, r.Connected, r.Reconnects)
	}
	w := rec.warnings()
	if w[neko.EventControlHost] != 1 || w[neko.EventSessionDeleted] != 1 || w["(undecodable)"] != 1 {
		t.Fatalf("warnings per event = %v, want one each", w)
	}
	// The connection still works both ways.
	if err := cn.RequestControl(); err != nil {
		t.Fatal(err)
	}
	e.until("control/host", hostIs(cn.Room().SessionID))
}

func TestConnHeartbeats(t *testing.T) {
	t.Parallel()
	s := neko.DefaultSettings()
	s.HeartbeatInterval = 1 // seconds, neko's unit
	srv := newServer(t, nekotest.Options{Settings: &s})
	beats := make(chan []byte, 8)
	opts := neko.WithWrittenHook(neko.ConnOptions{}, func(f []byte) {
		if bytes.Contains(f, []byte(neko.EventClientHeartbeat)) {
			select {
			case beats <- bytes.Clone(f):
			default:
			}
		}
	})
	connect(t, login(t, srv, "alice", userPW), opts)
	for i := 0; i < 2; i++ {
		select {
		case f := <-beats:
			if string(f) != `{"event":"client/heartbeat"}` {
				t.Fatalf("heartbeat frame = %s", f)
			}
		case <-time.After(waitFor):
			t.Fatalf("heartbeat %d not sent", i+1)
		}
	}
}

func TestConnReconnectAfterRestart(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	ctx := testCtx(t)
	a := login(t, srv, "alice", userPW)
	if _, err := a.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	ca := connect(t, a, fastReconnect)
	if !ca.IsHost() {
		t.Fatal("not host before restart")
	}
	ea := subscribe(t, ca)
	old := a.SessionID()

	srv.Restart()
	st := ea.named(neko.EventReconnecting).Payload.(*neko.ConnState)
	if st.Attempt != 1 || st.Err == nil {
		t.Fatalf("reconnecting = %+v", st)
	}
	// The old token is refused; the reason surfaces as an event.
	d := ea.named(neko.EventSystemDisconnect).Payload.(*neko.SystemDisconnect)
	if d.Message != "session not found" {
		t.Fatalf("refusal = %q", d.Message)
	}
	st = ea.named(neko.EventReconnected).Payload.(*neko.ConnState)
	if !st.Relogin || st.Reason != "session not found" {
		t.Fatalf("reconnected = %+v", st)
	}
	init := ea.named(neko.EventSystemInit).Payload.(*neko.SystemInit)
	if init.SessionID == old || init.SessionID != a.SessionID() {
		t.Fatalf("init session %q, old %q, client %q", init.SessionID, old, a.SessionID())
	}
	r := ca.Room()
	if r.SessionID != a.SessionID() || r.Reconnects != 1 || !r.Connected || r.Host.HasHost || ca.IsHost() {
		t.Fatalf("room after restart = %+v", r)
	}
	if _, ok := r.Sessions[old]; ok {
		t.Fatal("room kept the forgotten session")
	}
	if _, ok := r.Sessions[r.SessionID]; !ok {
		t.Fatal("room lacks the new session")
	}
	// And it works.
	if err := ca.RequestControl(); err != nil {
		t.Fatal(err)
	}
	ea.until("control/host after restart", hostIs(r.SessionID))
}

func TestConnReconnectAfterStopStart(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	a := login(t, srv, "alice", userPW)
	ca := connect(t, a, fastReconnect)
	ea := subscribe(t, ca)
	old := a.SessionID()

	srv.Stop()
	ea.named(neko.EventReconnecting)
	// While neko is down: attempts fail as unreachable, sends fail fast.
	ea.until("a failed attempt", func(ev neko.Event) bool {
		st, ok := ev.Payload.(*neko.ConnState)
		return ok && ev.Name == neko.EventReconnecting && st.Attempt >= 2 && errors.Is(st.Err, neko.ErrUnreachable)
	})
	if err := ca.RequestControl(); !errors.Is(err, neko.ErrNotConnected) {
		t.Fatalf("send while down = %v", err)
	}
	if ca.Room().Connected {
		t.Fatal("room says connected while down")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	st := ea.named(neko.EventReconnected).Payload.(*neko.ConnState)
	if !st.Relogin {
		t.Fatalf("reconnected = %+v (a stopped neko forgets sessions)", st)
	}
	r := ca.Room()
	if r.SessionID == old || r.SessionID != a.SessionID() || !r.Connected || r.Reconnects != 1 {
		t.Fatalf("room = %+v", r)
	}
}

func TestConnReconnectAfterDropKeepsHost(t *testing.T) {
	t.Parallel()
	// A long delayed disconnect: the reconnect must land inside the window.
	srv := newServer(t, nekotest.Options{DelayedDisconnect: time.Minute})
	a := login(t, srv, "alice", userPW)
	ca := connect(t, a, fastReconnect)
	ea := subscribe(t, ca)
	if err := ca.RequestControl(); err != nil {
		t.Fatal(err)
	}
	ea.until("host", hostIs(a.SessionID()))

	srv.DropSocket(a.SessionID())
	ea.named(neko.EventReconnecting)
	st := ea.named(neko.EventReconnected).Payload.(*neko.ConnState)
	if st.Relogin {
		t.Fatal("re-logged in although the session survived")
	}
	init := ea.named(neko.EventSystemInit).Payload.(*neko.SystemInit)
	if init.SessionID != a.SessionID() || init.ControlHost.HostID != a.SessionID() {
		t.Fatalf("init after drop = %+v", init)
	}
	if !ca.IsHost() || ca.Room().Reconnects != 1 {
		t.Fatalf("room = %+v", ca.Room())
	}
	waitHost(t, srv, a.SessionID())
}

func TestConnReconnectWithoutMercifulReconnect(t *testing.T) {
	t.Parallel()
	// Without merciful_reconnect neko refuses a second socket while the
	// session still counts as connected (the delayed-disconnect window): the
	// client must keep trying, then get in once the window has passed.
	s := neko.DefaultSettings()
	s.MercifulReconnect = false
	srv := newServer(t, nekotest.Options{Settings: &s, DelayedDisconnect: 300 * time.Millisecond})
	a := login(t, srv, "alice", userPW)
	ca := connect(t, a, fastReconnect)
	ea := subscribe(t, ca)
	srv.DropSocket(a.SessionID())
	ea.until("already connected", func(ev neko.Event) bool {
		d, ok := ev.Payload.(*neko.SystemDisconnect)
		return ok && d.Message == "already connected"
	})
	st := ea.named(neko.EventReconnected).Payload.(*neko.ConnState)
	if st.Relogin || st.Attempt < 2 || st.Reason != "already connected" {
		t.Fatalf("reconnected = %+v", st)
	}
	if ca.Room().SessionID != a.SessionID() {
		t.Fatal("session changed")
	}
}

func TestConnLivenessTimeout(t *testing.T) {
	t.Parallel()
	// neko stays silent (no heartbeat, no ping): only the client can notice.
	srv := newServer(t, nekotest.Options{HeartbeatPeriod: time.Hour, DelayedDisconnect: time.Minute})
	a := login(t, srv, "alice", userPW)
	o := fastReconnect
	o.LivenessTimeout = 300 * time.Millisecond
	ca := connect(t, a, o)
	ea := subscribe(t, ca)
	st := ea.named(neko.EventReconnecting).Payload.(*neko.ConnState)
	if st.Err == nil || !strings.Contains(st.Err.Error(), "no frame for 300ms") {
		t.Fatalf("reconnecting = %+v", st)
	}
	st = ea.named(neko.EventReconnected).Payload.(*neko.ConnState)
	if st.Relogin || ca.Room().SessionID != a.SessionID() {
		t.Fatalf("reconnected = %+v", st)
	}
}

func TestConnReplacedStops(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	a := login(t, srv, "alice", userPW)
	c1 := connect(t, a, fastReconnect)
	e1 := subscribe(t, c1)
	if err := c1.RequestControl(); err != nil {
		t.Fatal(err)
	}
	e1.until("host", hostIs(a.SessionID()))

	c2 := connect(t, a, fastReconnect) // same token: replaces c1's socket
	if d := e1.named(neko.EventSystemDisconnect).Payload.(*neko.SystemDisconnect); d.Message != "connection replaced" {
		t.Fatalf("disconnect = %q", d.Message)
	}
	st := e1.named(neko.EventClosed).Payload.(*neko.ConnState)
	if !errors.Is(st.Err, neko.ErrReplaced) || st.Reason != "connection replaced" {
		t.Fatalf("closed = %+v", st)
	}
	if rest := e1.closed(); len(rest) != 0 {
		t.Fatalf("events after conn/closed: %v", rest)
	}
	select {
	case <-c1.Done():
	case <-time.After(waitFor):
		t.Fatal("Done not closed")
	}
	if !errors.Is(c1.Err(), neko.ErrReplaced) {
		t.Fatalf("Err = %v", c1.Err())
	}
	if err := c1.Send("control/move", nil); !errors.Is(err, neko.ErrClosed) {
		t.Fatalf("send after replaced = %v", err)
	}
	if !c2.IsHost() || !c2.Room().Connected {
		t.Fatalf("replacing conn: %+v", c2.Room())
	}
}

func TestConnEndsAfterLogout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	a := login(t, srv, "alice", userPW)
	ca := connect(t, a, fastReconnect)
	ea := subscribe(t, ca)
	if err := a.Logout(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ea.named(neko.EventSystemDisconnect)
	st := ea.named(neko.EventClosed).Payload.(*neko.ConnState)
	if !errors.Is(st.Err, neko.ErrNotLoggedIn) {
		t.Fatalf("closed = %+v", st)
	}
	<-ca.Done()
	if !errors.Is(ca.Err(), neko.ErrNotLoggedIn) {
		t.Fatalf("Err = %v", ca.Err())
	}
}

func TestConnNoReconnect(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	a := login(t, srv, "alice", userPW)
	ca := connect(t, a, neko.ConnOptions{NoReconnect: true})
	ea := subscribe(t, ca)
	srv.DropSocket(a.SessionID())
	st := ea.named(neko.EventClosed).Payload.(*neko.ConnState)
	if st.Err == nil || !strings.Contains(st.Err.Error(), "reconnect disabled") {
		t.Fatalf("closed = %+v", st)
	}
	ea.closed()
	<-ca.Done()
	if ca.Err() == nil || ca.Room().Connected {
		t.Fatalf("Err = %v, room %+v", ca.Err(), ca.Room())
	}
}

func TestConnCloseClearsHostAtOnce(t *testing.T) {
	t.Parallel()
	// An hour of delayed disconnect: only a clean close can clear host now.
	srv := newServer(t, nekotest.Options{DelayedDisconnect: time.Hour})
	a, b := login(t, srv, "alice", userPW), login(t, srv, "bob", userPW)
	ca, cb := connect(t, a, neko.ConnOptions{}), connect(t, b, neko.ConnOptions{})
	ea, eb := subscribe(t, ca), subscribe(t, cb)
	if err := ca.RequestControl(); err != nil {
		t.Fatal(err)
	}
	eb.until("host alice", hostIs(a.SessionID()))

	if err := ca.Close(); err != nil {
		t.Fatal(err)
	}
	waitHost(t, srv, "")
	eb.until("host cleared", hostIs(""))

	// Close closed the channel: reading ends without waiting.
	select {
	case _, ok := <-ea.ch:
		for ok {
			_, ok = <-ea.ch
		}
	default:
		t.Fatal("subscription still open after Close returned")
	}
	select {
	case <-ca.Done():
	default:
		t.Fatal("Done not closed after Close returned")
	}
	if !errors.Is(ca.Err(), neko.ErrClosed) || ca.Room().Connected {
		t.Fatalf("Err = %v connected=%v", ca.Err(), ca.Room().Connected)
	}
	if err := ca.RequestControl(); !errors.Is(err, neko.ErrClosed) {
		t.Fatalf("send after close = %v", err)
	}
	if err := ca.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	ch, cancel := ca.Subscribe()
	defer cancel()
	if _, ok := <-ch; ok {
		t.Fatal("subscription on a closed Conn is open")
	}
}

func TestConnSlowSubscriberBlocksNobody(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	cn := connect(t, login(t, srv, "alice", userPW), neko.ConnOptions{})
	slow, cancelSlow := cn.Subscribe() // not read until the end
	fast := subscribe(t, cn)

	const n = 300
	for i := range n {
		srv.BroadcastRaw(fmt.Appendf(nil, `{"event":"test/n","payload":%d}`, i))
	}
	isN := func(ev neko.Event) bool { return ev.Name == "test/n" }
	for i := range n {
		if got := string(fast.until("test/n", isN).Raw); got != fmt.Sprint(i) {
			t.Fatalf("fast subscriber: event %d has payload %s", i, got)
		}
	}
	ls := &events{t: t, ch: slow}
	for i := range n {
		if got := string(ls.until("test/n", isN).Raw); got != fmt.Sprint(i) {
			t.Fatalf("slow subscriber: event %d has payload %s", i, got)
		}
	}
	cancelSlow()
	if _, ok := <-slow; ok {
		t.Fatal("channel open after cancel")
	}
	cancelSlow() // idempotent
}

func TestConnCookieMode(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{CookieEnabled: true})
	c := newClient(t, srv, neko.Options{Cookies: true})
	if _, err := c.Login(testCtx(t), "bot", userPW); err != nil {
		t.Fatal(err)
	}
	cn := connect(t, c, fastReconnect)
	e := subscribe(t, cn)
	if cn.Room().SessionID != c.SessionID() {
		t.Fatalf("room session %q, client %q", cn.Room().SessionID, c.SessionID())
	}
	if err := cn.RequestControl(); err != nil {
		t.Fatal(err)
	}
	e.until("host", hostIs(c.SessionID()))
	// Re-login after a restart works with cookies too.
	srv.Restart()
	if st := e.named(neko.EventReconnected).Payload.(*neko.ConnState); !st.Relogin {
		t.Fatalf("reconnected = %+v", st)
	}
	if cn.Room().SessionID != c.SessionID() {
		t.Fatal("room session differs from client session after re-login")
	}
}

// TestCloseLeavesNoGoroutines is deliberately not parallel: it compares the
// goroutines before and after, with no other test running.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, append([]goleak.Option{goleak.IgnoreCurrent()}, leakOpts...)...)
	srv := nekotest.NewServer(nekotest.Options{})
	defer srv.Close()
	a := login(t, srv, "alice", userPW)
	ca, err := a.Connect(testCtx(t), fastReconnect)
	if err != nil {
		t.Fatal(err)
	}
	ch, cancel := ca.Subscribe()
	defer cancel()
	_, _ = ca.Subscribe() // abandoned: never read, never cancelled
	e := &events{t: t, ch: ch}
	srv.DropSocket(a.SessionID())
	e.named(neko.EventReconnected)
	srv.Restart()
	e.named(neko.EventReconnected)
	ca.Close()
	e.closed()
}
