package codrive

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// BenchmarkHandoff measures, side by side in one run on nekotest, how long a
// person waits for control:
//
//	raw:     a plain neko client hosts; on the person's control/request it
//	         gives control (REST give) — the least a cooperative host does;
//	codrive: the arbiter hosts with policy yield and does the same through
//	         its gate and policy.
//
// Each sample is from the person's REST request until the person's socket
// sees control/host naming them. Rounds alternate so both see the same
// machine load. It reports p50/p99 of each and the p50 ratio codrive/raw.
//
//	go test -run '^$' -bench BenchmarkHandoff -benchtime 200x ./codrive/
func BenchmarkHandoff(b *testing.B) {
	srv := nekotest.NewServer(nekotest.Options{})
	defer srv.Close()
	ctx := context.Background()

	// raw host
	hostClient, err := neko.NewClient(srv.URL, neko.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := hostClient.Login(ctx, "rawhost", "neko"); err != nil {
		b.Fatal(err)
	}
	hostConn, err := hostClient.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		b.Fatal(err)
	}
	defer hostConn.Close()
	hostEvents, unsubHost := hostConn.Subscribe()
	defer unsubHost()
	stopRaw := make(chan struct{})
	defer close(stopRaw)
	go func() {
		for {
			select {
			case ev, ok := <-hostEvents:
				if !ok {
					return
				}
				if p, ok := ev.Payload.(*neko.SessionID); ok && ev.Name == neko.EventControlRequest && p.ID != hostClient.SessionID() {
					_ = hostClient.GiveControl(ctx, p.ID)
				}
			case <-stopRaw:
				return
			}
		}
	}()

	// codrive
	cfg := testConfig(srv, PolicyYield)
	cfg.ReclaimAfter = time.Millisecond
	arb, err := connectWithDefaults(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer arb.Close(ctx)

	// the person
	pc, err := neko.NewClient(srv.URL, neko.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pc.Login(ctx, "person", "neko"); err != nil {
		b.Fatal(err)
	}
	pconn, err := pc.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		b.Fatal(err)
	}
	defer pconn.Close()
	pev, unsubP := pconn.Subscribe()
	defer unsubP()

	waitHost := func(id string) {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := neko.Await(wctx, pev, neko.HostIs(id)); err != nil {
			b.Fatalf("person never saw host %s: %v", id, err)
		}
	}
	round := func(giveToHost func()) time.Duration {
		giveToHost()
		start := time.Now()
		if res, err := pc.RequestControl(ctx); err != nil || res != neko.ControlPending {
			b.Fatalf("request: %v %v", res, err)
		}
		waitHost(pc.SessionID())
		d := time.Since(start)
		if err := pc.ReleaseControl(ctx); err != nil {
			b.Fatal(err)
		}
		return d
	}
	rawSetup := func() {
		_ = arb.Release(ctx)
		if _, err := hostClient.RequestControl(ctx); err != nil {
			b.Fatal(err)
		}
		waitHost(hostClient.SessionID())
	}
	codriveSetup := func() {
		if err := hostClient.ReleaseControl(ctx); err != nil && !isNotHost(err) {
			b.Fatal(err)
		}
		if err := arb.Acquire(ctx); err != nil {
			b.Fatal(err)
		}
		waitHost(arb.Status().Session)
	}

	var raw, cod []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw = append(raw, round(rawSetup))
		cod = append(cod, round(codriveSetup))
	}
	b.StopTimer()
	rp50, rp99 := percentiles(raw)
	cp50, cp99 := percentiles(cod)
	b.ReportMetric(float64(rp50.Microseconds()), "raw-p50-µs")
	b.ReportMetric(float64(rp99.Microseconds()), "raw-p99-µs")
	b.ReportMetric(float64(cp50.Microseconds()), "codrive-p50-µs")
	b.ReportMetric(float64(cp99.Microseconds()), "codrive-p99-µs")
	b.ReportMetric(float64(cp50)/float64(rp50), "p50-ratio")
}

func isNotHost(err error) bool { return err != nil && errors.Is(err, neko.ErrNotHost) }

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0, 0
	}
	return s[len(s)/2], s[min(len(s)-1, len(s)*99/100)]
}

// BenchmarkGateStep is the arbiter's share of every proxied acting command:
// Begin through the open gate, Sent, Done, with the idle release the proxy
// uses (30s).
//
//	go test -run '^$' -bench BenchmarkGateStep -benchmem ./codrive/
func BenchmarkGateStep(b *testing.B) {
	srv := nekotest.NewServer(nekotest.Options{})
	defer srv.Close()
	cfg := Options{NekoURL: srv.URL, User: "codrive", Password: "admin", IdleRelease: 30 * time.Second}
	ctx := context.Background()
	a, err := connectWithDefaults(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close(ctx)
	if err := a.Acquire(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := a.WaitState(ctx, func(s Status) bool { return s.Gate == GateOpen }); err != nil {
		b.Fatal(err)
	}
	ended, cancel := context.WithCancel(ctx)
	cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c, err := a.begin(ended, false, stepCommand)
		if err != nil {
			b.Fatal(err)
		}
		c.Sent()
		c.Done()
	}
}
