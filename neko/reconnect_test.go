package neko_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// frozenOptions notice a frozen neko within a second (neko heartbeats every
// 100ms in these tests) and give up on each attempt after half a second;
// timings never decide a test.
var frozenOptions = neko.ConnOptions{
	ReconnectMin:    10 * time.Millisecond,
	ReconnectMax:    100 * time.Millisecond,
	LivenessTimeout: time.Second,
	InitTimeout:     500 * time.Millisecond,
}

// frozenServer heartbeats often, so that only a pause trips the liveness
// timeout, and keeps a dropped host for a minute, so that host is lost only
// if the session really disconnects.
func frozenServer(t testing.TB) *nekotest.Server {
	return newServer(t, nekotest.Options{HeartbeatPeriod: 100 * time.Millisecond, DelayedDisconnect: time.Minute})
}

// hostConn connects a and makes it host.
func hostConn(t *testing.T, srv *nekotest.Server, a *neko.Client, o neko.ConnOptions) (*neko.Conn, *events) {
	t.Helper()
	ca := connect(t, a, o)
	ea := subscribe(t, ca)
	if err := ca.RequestControl(); err != nil {
		t.Fatal(err)
	}
	ea.until("host", hostIs(a.SessionID()))
	waitHost(t, srv, a.SessionID())
	return ca, ea
}

// freezeUntilAttempt pauses srv and waits until the Conn has failed two
// reconnect attempts and its third one has a request waiting in the paused
// server; it returns the queued requests.
func freezeUntilAttempt3(t *testing.T, srv *nekotest.Server, ea *events) []string {
	t.Helper()
	srv.Pause()
	st := ea.named(neko.EventReconnecting).Payload.(*neko.ConnState)
	if st.Attempt != 1 || st.Err == nil || !strings.Contains(st.Err.Error(), "no frame for") {
		t.Fatalf("first reconnecting = %+v, want the liveness timeout", st)
	}
	ea.until("reconnect attempt 3", func(ev neko.Event) bool {
		st, ok := ev.Payload.(*neko.ConnState)
		return ok && ev.Name == neko.EventReconnecting && st.Attempt == 3
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	q, err := srv.WaitQueued(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// alive fails the test if ev ends the Conn.
func alive(t *testing.T, ev neko.Event) {
	t.Helper()
	if ev.Name == neko.EventClosed {
		t.Fatalf("the Conn ended: %s", describe(ev))
	}
}

// resumeModes are the orders in which real neko, resumed after SIGSTOP,
// may handle the requests queued meanwhile, worst cases for a client whose
// newest request is the live one: the newest handled first, and the same
// with registrations interleaved so that a socket can be replaced before
// its system/init.
var resumeModes = []struct {
	name   string
	resume func(*nekotest.Server)
}{
	{"newest first", (*nekotest.Server).ResumeNewestFirst},
	{"interleaved", (*nekotest.Server).ResumeInterleaved},
}

// Failure 3 of issue 9: neko frozen (SIGSTOP) longer than the liveness
// timeout, with reconnect attempts piling up in it, then resumed. Before
// health probing, the Conn's live socket was replaced by an attempt it had
// abandoned: after its system/init the Conn ended with ErrReplaced, before
// it the Conn logged in again and the old session lost host.
func TestConnSurvivesFrozenNeko(t *testing.T) {
	t.Parallel()
	for _, mode := range resumeModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			srv := frozenServer(t)
			a := login(t, srv, "alice", userPW)
			ca, ea := hostConn(t, srv, a, frozenOptions)

			queued := freezeUntilAttempt3(t, srv, ea)
			mode.resume(srv)

			st := ea.until("reconnected", func(ev neko.Event) bool {
				alive(t, ev)
				return ev.Name == neko.EventReconnected
			}).Payload.(*neko.ConnState)
			if st.Relogin || st.Attempt < 3 {
				t.Fatalf("reconnected = %+v", st)
			}
			init := ea.named(neko.EventSystemInit).Payload.(*neko.SystemInit)
			if init.SessionID != a.SessionID() || init.ControlHost.HostID != a.SessionID() {
				t.Fatalf("init after resume = %+v, want our session, host kept", init)
			}
			// A round trip on the new socket: anything neko did before it
			// (such as replacing the socket) has reached the Conn by then.
			if err := ca.SendUnicast(a.SessionID(), "after-resume", nil); err != nil {
				t.Fatalf("send after resume: %v (Conn: %v)", err, ca.Err())
			}
			ea.until("our unicast", func(ev neko.Event) bool {
				alive(t, ev)
				u, ok := ev.Payload.(*neko.SendUnicast)
				return ok && u.Subject == "after-resume"
			})
			if ca.Err() != nil || !ca.IsHost() || !ca.Room().Connected || a.SessionID() != init.SessionID {
				t.Fatalf("after resume: err %v, room %+v", ca.Err(), ca.Room())
			}
			waitHost(t, srv, a.SessionID())
			t.Logf("requests held while frozen: %q", queued)
		})
	}
}

// While neko is frozen the Conn only polls GET /health: no upgrade request
// is left queued in it, and the one dial comes after neko answers.
func TestConnProbesFrozenNekoBeforeDialing(t *testing.T) {
	t.Parallel()
	srv := frozenServer(t)
	a := login(t, srv, "alice", userPW)
	_, ea := hostConn(t, srv, a, frozenOptions)
	dials := srv.RequestCount("/api/ws")

	queued := freezeUntilAttempt3(t, srv, ea)
	if want := []string{"GET /health", "GET /health", "GET /health"}; !slices.Equal(queued[:3], want) {
		t.Fatalf("queued while frozen = %q, want health probes only", queued)
	}
	if got := srv.RequestCount("/api/ws"); got != dials {
		t.Fatalf("%d upgrade requests while frozen", got-dials)
	}
	// The failed attempts say why.
	srv.Resume()
	ea.until("reconnected", func(ev neko.Event) bool {
		alive(t, ev)
		return ev.Name == neko.EventReconnected
	})
	if got := srv.RequestCount("/api/ws"); got != dials+1 {
		t.Fatalf("%d upgrade requests after resume, want 1", got-dials)
	}
}

func TestConnProbeFailureIsUnreachable(t *testing.T) {
	t.Parallel()
	srv := frozenServer(t)
	a := login(t, srv, "alice", userPW)
	_, ea := hostConn(t, srv, a, frozenOptions)
	srv.Pause()
	st := ea.until("a failed probe", func(ev neko.Event) bool {
		st, ok := ev.Payload.(*neko.ConnState)
		return ok && ev.Name == neko.EventReconnecting && st.Attempt == 2
	}).Payload.(*neko.ConnState)
	if !errors.Is(st.Err, neko.ErrUnreachable) || !strings.Contains(st.Err.Error(), "health probe") {
		t.Fatalf("attempt 2 cause = %v", st.Err)
	}
	srv.Resume()
	ea.named(neko.EventReconnected)
}

// The same freeze with the health probe off, so that abandoned upgrades do
// pile up in neko: the late "connection replaced", after or before the live
// socket's system/init, is recognised as ours, and the Conn reconnects at
// once and keeps host. Once neko has sent a heartbeat on the new socket, a
// replacement is again another client's, and fatal.
func TestConnStaleAttemptReplacesSocket(t *testing.T) {
	t.Parallel()
	for _, mode := range resumeModes {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			srv := frozenServer(t)
			a := login(t, srv, "alice", userPW)
			ca, ea := hostConn(t, srv, a, neko.WithoutHealthProbe(frozenOptions))

			queued := freezeUntilAttempt3(t, srv, ea)
			if want := []string{"GET /api/ws", "GET /api/ws", "GET /api/ws"}; !slices.Equal(queued[:3], want) {
				t.Fatalf("queued while frozen = %q", queued)
			}
			mode.resume(srv)

			d := ea.until("connection replaced", func(ev neko.Event) bool {
				alive(t, ev)
				return ev.Name == neko.EventSystemDisconnect
			}).Payload.(*neko.SystemDisconnect)
			if d.Message != "connection replaced" {
				t.Fatalf("disconnect = %q", d.Message)
			}
			st := ea.until("reconnecting", func(ev neko.Event) bool {
				alive(t, ev)
				return ev.Name == neko.EventReconnecting
			}).Payload.(*neko.ConnState)
			if !errors.Is(st.Err, neko.ErrStaleAttempt) || errors.Is(st.Err, neko.ErrReplaced) ||
				st.Reason != "connection replaced" || st.Delay != 0 || st.Stale != 1 {
				t.Fatalf("reconnecting = %+v, want at once for a stale attempt, one more outstanding", st)
			}
			st = ea.until("reconnected", func(ev neko.Event) bool {
				alive(t, ev)
				return ev.Name == neko.EventReconnected
			}).Payload.(*neko.ConnState)
			if st.Relogin {
				t.Fatalf("reconnected = %+v", st)
			}
			init := ea.named(neko.EventSystemInit).Payload.(*neko.SystemInit)
			if init.SessionID != a.SessionID() || init.ControlHost.HostID != a.SessionID() {
				t.Fatalf("init = %+v, want our session, host kept", init)
			}
			if ca.Err() != nil || !ca.IsHost() {
				t.Fatalf("err %v, room %+v", ca.Err(), ca.Room())
			}

			// Settled by a heartbeat; then another client on our session wins.
			ea.until("heartbeat", func(ev neko.Event) bool {
				alive(t, ev)
				return ev.Name == neko.EventSystemHeartbeat
			})
			connect(t, a, neko.ConnOptions{})
			st = ea.named(neko.EventClosed).Payload.(*neko.ConnState)
			if !errors.Is(st.Err, neko.ErrReplaced) {
				t.Fatalf("closed = %+v", st)
			}
		})
	}
}

// Close does not wait for an attempt stuck in a frozen neko, whether it is
// a health probe or, without one, a WebSocket handshake.
func TestConnCloseWhileNekoFrozen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts neko.ConnOptions
		want string
	}{
		{"probe", neko.ConnOptions{ReconnectMin: time.Millisecond, InitTimeout: time.Hour}, "GET /health"},
		{"dial", neko.WithoutHealthProbe(neko.ConnOptions{ReconnectMin: time.Millisecond, InitTimeout: time.Hour}), "GET /api/ws"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := frozenServer(t)
			a := login(t, srv, "alice", userPW)
			ca := connect(t, a, tc.opts)
			srv.Pause()
			srv.DropSocket(a.SessionID())
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			q, err := srv.WaitQueued(ctx, 1)
			if err != nil || q[0] != tc.want {
				t.Fatalf("queued = %q, %v", q, err)
			}
			closed := make(chan struct{})
			go func() {
				ca.Close()
				close(closed)
			}()
			select {
			case <-closed:
			case <-time.After(waitFor):
				t.Fatal("Close hangs on the frozen attempt")
			}
			if !errors.Is(ca.Err(), neko.ErrClosed) {
				t.Fatalf("Err = %v", ca.Err())
			}
			srv.Resume()
		})
	}
}
