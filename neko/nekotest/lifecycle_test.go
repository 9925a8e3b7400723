package nekotest

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/neko"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestURLAndDefaults(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{})
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || strings.HasSuffix(s.URL, ":0") {
		t.Fatalf("URL %q", s.URL)
	}
	if !settingsEqual(s.Settings(), neko.DefaultSettings()) {
		t.Fatalf("default settings %+v", s.Settings())
	}
	loginUser(t, s, "u")
	loginAdmin(t, s, "a")
}

func TestNewServerPanicsWhenPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer func() {
		if recover() == nil {
			t.Fatal("NewServer on a taken port did not panic")
		}
	}()
	s := NewServer(Options{Addr: ln.Addr().String()})
	s.Close()
}

func TestStartErrorWhenPortTaken(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if s, err := Start(Options{Addr: ln.Addr().String()}); err == nil {
		s.Close()
		t.Fatal("Start on a taken port succeeded")
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	url := s.URL
	h, hc, w, wc := hostAndWatcher(t, s)
	changed := neko.DefaultSettings()
	changed.ImplicitHosting = true
	s.SetSettings(changed)
	hc.expect(neko.EventSystemSettings)
	wc.expect(neko.EventSystemSettings)

	s.Restart()
	// Dropped without a word: no system/disconnect, no close frame.
	for _, c := range []*wsConn{hc, wc} {
		c.expectDropped()
		select {
		case f := <-c.frames:
			t.Fatalf("frame before the drop: %s", f.raw)
		default:
		}
	}
	if s.URL != url {
		t.Fatalf("URL changed: %s", s.URL)
	}
	st := s.State()
	if st.HasHost || len(st.Sessions) != 0 || !settingsEqual(st.Settings, neko.DefaultSettings()) {
		t.Fatalf("state after restart: %+v", st)
	}
	h.mustCall(http.MethodGet, "/api/whoami", nil, http.StatusUnauthorized)
	old := w.dial()
	if got := expectPayload[neko.SystemDisconnect](old, neko.EventSystemDisconnect); got.Message != "session not found" {
		t.Fatalf("old token after restart: %q", got.Message)
	}
	old.expectDropped()
	// And it keeps serving.
	u := loginUser(t, s, "again")
	u.dialInit().expect(neko.EventSessionState)
}

func TestStopStartSamePort(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	url := s.URL
	u := loginUser(t, s, "u")
	c := u.dialInit()
	c.expect(neko.EventSessionState)

	s.Stop()
	c.expectDropped()
	if _, err := http.Get(url + "/health"); err == nil {
		t.Fatal("stopped server still answers")
	}
	s.Stop() // a second Stop is harmless
	if err := s.Start(); err != nil {
		t.Fatalf("start again: %v", err)
	}
	if err := s.Start(); err == nil {
		t.Fatal("Start while running succeeded")
	}
	if s.URL != url {
		t.Fatalf("URL changed: %s -> %s", url, s.URL)
	}
	rest := newREST(t, s)
	if res := rest.do(http.MethodGet, "/health", nil, nil); res.code != http.StatusOK {
		t.Fatalf("health after restart: %s", res)
	}
	// A stopped neko forgot everything.
	u.mustCall(http.MethodGet, "/api/whoami", nil, http.StatusUnauthorized)
	if len(s.Sessions()) != 0 {
		t.Fatalf("sessions survived Stop: %+v", s.Sessions())
	}
}

func TestCloseTellsSocketsAndIsFinal(t *testing.T) {
	t.Parallel()
	s, err := Start(quiet())
	if err != nil {
		t.Fatal(err)
	}
	c := loginUser(t, s, "u").dialInit()
	c.expect(neko.EventSessionState)
	s.Close()
	if got := expectPayload[neko.SystemDisconnect](c, neko.EventSystemDisconnect); got.Message != "connection shutdown" {
		t.Fatalf("close reason %q", got.Message)
	}
	c.expectDropped()
	s.Close() // idempotent
	if err := s.Start(); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

// Not parallel: goleak must not see other tests' goroutines.
func TestCloseEndsAllGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	logs := newLogRecorder()
	opts := Options{HeartbeatPeriod: 20 * time.Millisecond, DelayedDisconnect: time.Hour, Logger: logs.logger()}
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	rest := newREST(t, s)
	defer rest.hc.CloseIdleConnections()

	// A connected host, a socket in its delayed-disconnect window, a refused
	// socket, and a socket that never reads.
	h := loginUser(t, s, "h")
	hc := h.dialInit()
	hc.send(neko.EventControlRequest, nil)
	hc.waitEvent(neko.EventControlHost)
	d := loginUser(t, s, "d")
	dc := d.dialInit()
	dc.expect(neko.EventSessionState)
	s.DropSocket(d.ID)
	dc.expectDropped()
	logs.wait(t, "delayed websocket disconnect", d.ID, 1)
	refused := dialWS(t, s, "?token=nope", nil)
	refused.expectDropped()
	if res := rest.do(http.MethodGet, "/health", nil, nil); res.code != http.StatusOK {
		t.Fatal(res)
	}

	s.Close()
	// The system/disconnect itself is checked in TestCloseTellsSocketsAndIsFinal;
	// with pings flowing the close may come as a reset that loses it.
	_ = hc.closed()
	h.rest.hc.CloseIdleConnections()
	d.rest.hc.CloseIdleConnections()
}

func TestWaitForContextEnds(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitFor(ctx, func(State) bool { return false }); err == nil {
		t.Fatal("WaitFor with a cancelled context returned nil")
	}
	if err := s.WaitHost(ctx, "nobody"); err == nil {
		t.Fatal("WaitHost with a cancelled context returned nil")
	}
}

// Graceful is neko on SIGINT: system/disconnect "connection shutdown", then a
// drop; Abrupt (Stop, Restart) says nothing.
func TestShutdownModes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		how     Shutdown
		restart bool
	}{{Graceful, false}, {Graceful, true}, {Abrupt, false}, {Abrupt, true}} {
		t.Run(tc.how.String()+map[bool]string{false: " stop", true: " restart"}[tc.restart], func(t *testing.T) {
			t.Parallel()
			s := startServer(t, quiet())
			c := loginUser(t, s, "u").dialInit()
			c.expect(neko.EventSessionState)
			if tc.restart {
				s.RestartWith(tc.how)
			} else {
				s.StopWith(tc.how)
			}
			if tc.how == Graceful {
				if got := expectPayload[neko.SystemDisconnect](c, neko.EventSystemDisconnect); got.Message != "connection shutdown" {
					t.Fatalf("reason %q", got.Message)
				}
			}
			c.expectDropped()
			select {
			case f := <-c.frames:
				t.Fatalf("frame after the expected ones: %s", f.raw)
			default:
			}
			if !tc.restart {
				if err := s.Start(); err != nil {
					t.Fatal(err)
				}
			}
			if len(s.Sessions()) != 0 {
				t.Fatalf("sessions survived: %+v", s.Sessions())
			}
		})
	}
}
