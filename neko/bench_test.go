package neko_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// BenchmarkControlRoundTrip measures how long it takes to become host and to
// see it: per iteration B asks for control while nobody hosts, waits until
// its own Conn shows control/host with host=B, then releases and waits for
// the control/host without host. A is connected too, as an audience, so
// every change is broadcast to two sockets.
func BenchmarkControlRoundTrip(b *testing.B) {
	srv := newServer(b, nekotest.Options{})
	ctx := context.Background()
	connect(b, login(b, srv, "alice", userPW), neko.ConnOptions{})
	bob := login(b, srv, "bob", userPW)
	cb := connect(b, bob, neko.ConnOptions{})
	eb := subscribe(b, cb)
	id := bob.SessionID()

	b.Run("REST", func(b *testing.B) {
		for b.Loop() {
			res, err := bob.RequestControl(ctx)
			if err != nil || res != neko.ControlGranted {
				b.Fatalf("request = %v, %v", res, err)
			}
			eb.until("host bob", hostIs(id))
			if err := bob.ReleaseControl(ctx); err != nil {
				b.Fatal(err)
			}
			eb.until("no host", hostIs(""))
		}
	})
	b.Run("WS", func(b *testing.B) {
		for b.Loop() {
			if err := cb.RequestControl(); err != nil {
				b.Fatal(err)
			}
			eb.until("host bob", hostIs(id))
			if err := cb.ReleaseControl(); err != nil {
				b.Fatal(err)
			}
			eb.until("no host", hostIs(""))
		}
	})
}

// BenchmarkLoginAndInit measures a cold start: a new Client logs in and
// connects, up to system/init. Closing and logging out are not timed; the
// logout keeps the room from growing (system/init lists every session).
func BenchmarkLoginAndInit(b *testing.B) {
	srv := newServer(b, nekotest.Options{})
	ctx := context.Background()
	for b.Loop() {
		c, err := neko.NewClient(srv.URL, neko.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Login(ctx, "bench", userPW); err != nil {
			b.Fatal(err)
		}
		cn, err := c.Connect(ctx, neko.ConnOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		cn.Close()
		if err := c.Logout(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkReconnectAfterFreeze measures the comeback after neko was frozen
// (SIGSTOP): per iteration neko is paused until the Conn has noticed
// (liveness timeout, 0.5s here instead of 25s) and failed a first health
// probe, then for a random further 0-2s so that the resume falls anywhere in
// the probe cycle; the time from Resume to conn/reconnected is timed. The
// reconnect options are the defaults. Besides ns/op (the mean), it reports
// the median and the maximum in ms.
func BenchmarkReconnectAfterFreeze(b *testing.B) {
	srv := newServer(b, nekotest.Options{HeartbeatPeriod: 100 * time.Millisecond})
	a := login(b, srv, "alice", userPW)
	ca := connect(b, a, neko.ConnOptions{LivenessTimeout: 500 * time.Millisecond})
	ea := subscribe(b, ca)
	if err := ca.RequestControl(); err != nil {
		b.Fatal(err)
	}
	ea.until("host", hostIs(a.SessionID()))
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		srv.Pause()
		ea.until("a failed probe", func(ev neko.Event) bool {
			st, ok := ev.Payload.(*neko.ConnState)
			return ok && ev.Name == neko.EventReconnecting && st.Attempt == 2
		})
		time.Sleep(rand.N(2 * time.Second)) // the freeze lasts longer, by a random amount
		start := time.Now()
		b.StartTimer()
		srv.Resume()
		ea.named(neko.EventReconnected)
		b.StopTimer()
		took = append(took, time.Since(start))
		if !ca.IsHost() {
			b.Fatal("host lost")
		}
		b.StartTimer()
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/1e6, "median-ms")
	b.ReportMetric(float64(took[len(took)-1])/1e6, "max-ms")
}
