package nekotest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/neko"
)

// waitHeld waits until at least n pieces of work (requests, frames, writes,
// timers) wait at the pause gate.
func waitHeld(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	pz := &s.pause
	for {
		pz.mu.Lock()
		got := len(pz.queue)
		if pz.changed == nil {
			pz.changed = make(chan struct{})
		}
		ch := pz.changed
		pz.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%d pieces of work held within %v, want %d", got, waitTimeout, n)
		}
	}
}

func waitQueued(t *testing.T, s *Server, n int) []string {
	t.Helper()
	q, err := s.WaitQueued(waitCtx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

type asyncResult struct {
	code int
	body string
	err  error
}

// getAsync sends GET path from another goroutine; the result arrives on the
// channel once there is an answer (or a failure).
func getAsync(t *testing.T, s *Server, path string) <-chan asyncResult {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: waitTimeout}
	ch := make(chan asyncResult, 1)
	go func() {
		res, err := hc.Get(s.URL + path)
		if err != nil {
			ch <- asyncResult{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		ch <- asyncResult{code: res.StatusCode, body: string(b), err: err}
	}()
	return ch
}

func result(t *testing.T, ch <-chan asyncResult) asyncResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(waitTimeout):
		t.Fatalf("no answer within %v", waitTimeout)
	}
	return asyncResult{}
}

func pending(ch <-chan asyncResult) bool {
	select {
	case r := <-ch:
		_ = r
		return false
	default:
		return true
	}
}

type dialResult struct {
	conn *websocket.Conn
	err  error
}

// dialAsync opens a WebSocket for u from another goroutine; ending ctx
// closes the connection, also during the handshake (which gorilla's
// DialContext bounds by a deadline only).
func dialAsync(ctx context.Context, s *Server, u *user) <-chan dialResult {
	ch := make(chan dialResult, 1)
	go func() {
		d := websocket.Dialer{NetDialContext: func(_ context.Context, network, addr string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				context.AfterFunc(ctx, func() { conn.Close() })
			}
			return conn, err
		}}
		conn, _, err := d.Dial(wsURL(s, "?token="+url.QueryEscape(u.Token)), nil)
		ch <- dialResult{conn, err}
	}()
	return ch
}

// abandonedDial is a WebSocket upgrade that reached the paused server and
// whose client then gave up and closed the connection.
func abandonedDial(t *testing.T, s *Server, u *user, queuedBefore int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := dialAsync(ctx, s, u)
	waitQueued(t, s, queuedBefore+1)
	cancel()
	select {
	case r := <-ch:
		if r.err == nil {
			r.conn.Close()
			t.Fatal("an upgrade was answered while paused")
		}
	case <-time.After(waitTimeout):
		t.Fatal("the dial did not give up")
	}
}

func TestPauseHoldsRequestsAndSockets(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{HeartbeatPeriod: 20 * time.Millisecond, DelayedDisconnect: time.Hour})
	u := loginUser(t, s, "u")
	c := u.dialInit()
	for c.nextFrame().msg.Event != neko.EventSystemHeartbeat {
	} // heartbeats flow
	before := s.RequestCount("/health")

	s.Pause()
	waitHeld(t, s, 1) // the writer's next heartbeat
	// A frame of ours is read but not handled: its answer cannot exist yet.
	c.send(neko.EventSendUnicast, map[string]any{"receiver": u.ID, "subject": "paused", "body": nil})
	waitHeld(t, s, 2)
	health := getAsync(t, s, "/health")
	if q := waitQueued(t, s, 1); !slices.Equal(q, []string{"GET /health"}) {
		t.Fatalf("queued = %q", q)
	}
	if got := s.RequestCount("/health"); got != before+1 {
		t.Fatalf("health requests = %d, want %d", got, before+1)
	}
	heartbeats := 0
	for len(c.frames) > 0 {
		f := <-c.frames
		if f.msg.Event != neko.EventSystemHeartbeat {
			t.Fatalf("frame while paused: %s", f.raw)
		}
		heartbeats++
	}
	if !pending(health) {
		t.Fatal("GET /health answered while paused")
	}

	s.Resume()
	if q := s.Queued(); len(q) != 0 {
		t.Fatalf("queued after resume = %q", q)
	}
	if r := result(t, health); r.err != nil || r.code != http.StatusOK || r.body != "true" {
		t.Fatalf("health after resume = %+v", r)
	}
	// Held in arrival order: the heartbeat the writer held, then our frame.
	for {
		f := c.nextFrame()
		if f.msg.Event == neko.EventSystemHeartbeat {
			heartbeats++
			continue
		}
		p := expectJSON[neko.SendUnicast](t, f)
		if f.msg.Event != neko.EventSendUnicast || p.Subject != "paused" {
			t.Fatalf("after resume: %s", f.raw)
		}
		break
	}
	// However long the pause: at most one heartbeat on its way when it
	// began, the one held, and one more tick the ticker kept buffered.
	if heartbeats > 3 {
		t.Fatalf("%d heartbeats from pause to resume", heartbeats)
	}
}

func expectJSON[T any](t *testing.T, f wsFrame) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(f.msg.Payload, &v); err != nil {
		t.Fatalf("decode %s: %v", f.raw, err)
	}
	return v
}

func TestResumeHandlesAbandonedUpgrade(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{HeartbeatPeriod: time.Hour, DelayedDisconnect: time.Hour})
	u := loginUser(t, s, "u")
	c := u.dialInit()

	s.Pause()
	abandonedDial(t, s, u, 0)
	if got := s.RequestCount("/api/ws"); got != 2 {
		t.Fatalf("upgrade requests = %d, want 2", got)
	}
	s.Resume()
	// neko registered the upgrade nobody waits for any more, and it
	// replaced the socket still in use (internal/session/session.go
	// ConnectWebSocketPeer).
	var d neko.SystemDisconnect
	if err := json.Unmarshal(c.waitEvent(neko.EventSystemDisconnect).Payload, &d); err != nil || d.Message != "connection replaced" {
		t.Fatalf("disconnect = %q", d.Message)
	}
	c.expectDropped()
	// The abandoned socket is now the session's, dead: the delayed
	// disconnect keeps it connected for an hour.
	if sess, _ := s.State().Session(u.ID); !sess.State.IsConnected {
		t.Fatalf("session after resume = %+v", sess)
	}
}

// One abandoned upgrade, then a live one, on the same session: which one
// the session keeps depends on the order neko handles them in.
func TestResumeOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		resume func(*Server)
		// what the live socket gets: kept (init, no disconnect), replaced
		// after its init, or replaced before any init
		want string
	}{
		{"arrival", (*Server).Resume, "kept"},
		{"newest first", (*Server).ResumeNewestFirst, "replaced after init"},
		{"interleaved", (*Server).ResumeInterleaved, "replaced before init"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, Options{HeartbeatPeriod: time.Hour, DelayedDisconnect: time.Hour})
			u := loginUser(t, s, "u")

			s.Pause()
			abandonedDial(t, s, u, 0)
			live := dialAsync(context.Background(), s, u)
			waitQueued(t, s, 2)
			tc.resume(s)
			r := <-live
			if r.err != nil {
				t.Fatalf("live dial: %v", r.err)
			}
			c := watchWS(t, r.conn)
			c.id = u.ID
			switch tc.want {
			case "kept":
				c.expect(neko.EventSystemInit)
				for _, f := range c.sync() {
					if f.msg.Event == neko.EventSystemDisconnect {
						t.Fatalf("live socket got %s", f.raw)
					}
				}
				return
			case "replaced after init":
				c.expect(neko.EventSystemInit)
			}
			var msg neko.Message
			if tc.want == "replaced before init" {
				msg = c.expect(neko.EventSystemDisconnect) // the very first frame
			} else {
				msg = c.waitEvent(neko.EventSystemDisconnect)
			}
			var d neko.SystemDisconnect
			if err := json.Unmarshal(msg.Payload, &d); err != nil || d.Message != "connection replaced" {
				t.Fatalf("disconnect = %+v, %v", d, err)
			}
			c.expectDropped()
		})
	}
}

func TestPauseHoldsDelayedDisconnect(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u := loginUser(t, s, "u")
	c := u.dialInit()
	u.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	waitHost(t, s, u.ID)

	s.Pause()
	_ = c.conn.Close() // no close frame: a network failure
	waitHeld(t, s, 1)  // the read error, not handled yet
	st := s.State()
	if sess, _ := st.Session(u.ID); !sess.State.IsConnected || st.HostID != u.ID {
		t.Fatalf("state while paused = %+v", st)
	}
	s.Resume()
	// Handled now: the delayed disconnect runs from here.
	waitHost(t, s, "")
}

func TestStopRestartEndPause(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())

	s.Pause()
	held := getAsync(t, s, "/health")
	waitQueued(t, s, 1)
	s.Stop() // must not hang on the held request
	if r := result(t, held); r.err == nil && r.code == http.StatusOK {
		t.Fatalf("held request answered after Stop: %+v", r)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if r := result(t, getAsync(t, s, "/health")); r.err != nil || r.code != http.StatusOK {
		t.Fatalf("health after Start = %+v", r)
	}

	s.Pause()
	held = getAsync(t, s, "/health")
	waitQueued(t, s, 1)
	s.Restart() // a restarted process is not paused
	if r := result(t, held); r.err != nil || r.code != http.StatusOK {
		t.Fatalf("held request after Restart = %+v", r)
	}
	if q := s.Queued(); len(q) != 0 {
		t.Fatalf("queued after Restart = %q", q)
	}

	s.Pause()
	held = getAsync(t, s, "/health")
	waitQueued(t, s, 1)
	s.Close()
	result(t, held)
}
