package codrive

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// Tests here drive a real arbiter against nekotest, with people emulated by
// second neko clients. Nothing is mocked; every wait has a deadline.

const testTimeout = 10 * time.Second

func newNeko(t *testing.T, settings *neko.Settings) *nekotest.Server {
	t.Helper()
	srv := nekotest.NewServer(nekotest.Options{
		Settings:          settings,
		HeartbeatPeriod:   200 * time.Millisecond,
		DelayedDisconnect: 300 * time.Millisecond,
	})
	t.Cleanup(srv.Close)
	return srv
}

func testConfig(srv *nekotest.Server, policy Policy) Options {
	return Options{
		NekoURL:         srv.URL,
		User:            "codrive",
		Password:        "admin",
		Policy:          policy,
		ReclaimAfter:    50 * time.Millisecond,
		requestInterval: 100 * time.Millisecond,
		StepTimeout:     5 * time.Second,
		conn:            neko.ConnOptions{ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond, LivenessTimeout: 2 * time.Second},
	}
}

// startArbiter connects an arbiter and subscribes to its events before
// anything else happens, so tests see every event.
func startArbiter(t *testing.T, cfg Options) (*arbiter, <-chan Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	a, err := connectWithDefaults(ctx, cfg)
	if err != nil {
		t.Fatalf("connect arbiter: %v", err)
	}
	evs, unsub := a.Subscribe()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("close arbiter: %v", err)
		}
		unsub()
	})
	return a, evs
}

// connectWithDefaults is connect as Attach calls it: on checked options.
func connectWithDefaults(ctx context.Context, cfg Options) (*arbiter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return connect(ctx, cfg)
}

// person is a viewer of the room: its own neko session and socket.
type person struct {
	name   string
	client *neko.Client
	conn   *neko.Conn
	events <-chan neko.Event
}

func newPerson(t *testing.T, srv *nekotest.Server, name string, admin bool) *person {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := neko.NewClient(srv.URL, neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pw := "neko"
	if admin {
		pw = "admin"
	}
	if _, err := c.Login(ctx, name, pw); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	conn, err := c.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	evs, unsub := conn.Subscribe()
	t.Cleanup(func() {
		_ = conn.Close()
		unsub()
	})
	return &person{name: name, client: c, conn: conn, events: evs}
}

func (p *person) id() string { return p.client.SessionID() }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// nextEvent returns the first arbiter event satisfying ok, failing the test
// after testTimeout. seen collects the events skipped on the way.
func nextEvent(t *testing.T, evs <-chan Event, what string, ok func(Event) bool) Event {
	t.Helper()
	deadline := time.After(testTimeout)
	var seen []string
	for {
		select {
		case ev, open := <-evs:
			if !open {
				t.Fatalf("event stream closed while waiting for %s (saw %v)", what, seen)
			}
			if ok(ev) {
				return ev
			}
			seen = append(seen, string(ev.Kind)+":"+string(ev.Status.State)+":"+ev.Reason)
		case <-deadline:
			t.Fatalf("timed out waiting for %s (saw %v)", what, seen)
		}
	}
}

func nekoEvent(t *testing.T, evs <-chan neko.Event, what string, ok func(neko.Event) bool) neko.Event {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case ev, open := <-evs:
			if !open {
				t.Fatalf("neko event stream closed while waiting for %s", what)
			}
			if ok(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func isState(s State) func(Event) bool {
	return func(ev Event) bool { return ev.Kind == "state" && ev.Status.State == s }
}

func acquire(t *testing.T, a *arbiter, srv *nekotest.Server) {
	t.Helper()
	if err := a.Acquire(ctxT(t)); err != nil {
		t.Fatalf("acquire: %v", err)
	}
	if err := srv.WaitHost(ctxT(t), a.Status().Session); err != nil {
		t.Fatal(err)
	}
}

// gateBlocked asserts that Wait does not pass now: with an already-expired
// context, Wait returns nil only if the gate is open.
func gateBlocked(t *testing.T, a *arbiter) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := a.Wait(ctx)
	if err == nil {
		t.Fatal("gate is open; want it closed")
	}
	return err
}

func TestAcquireWhenFree(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyYield))
	if st := a.Status(); st.State != StateFree || st.Go {
		t.Fatalf("fresh room: %+v", st)
	}
	acquire(t, a, srv)
	ev := nextEvent(t, evs, "automation", isState(StateAutomation))
	if !ev.Status.Go || ev.Status.Host != a.Status().Session {
		t.Fatalf("automation event: %+v", ev.Status)
	}
	if !strings.Contains(ev.Reason, "took control") {
		t.Fatalf("reason %q", ev.Reason)
	}
	if err := a.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestWaitRequestsControlWhenFree(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, _ := startArbiter(t, testConfig(srv, PolicyYield))
	if err := a.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if id, ok := srv.Host(); !ok || id != a.Status().Session {
		t.Fatalf("host %q, want codrive", id)
	}
}

// Policy yield, end to end: the person asks, the gate closes before the host
// moves, the person drives, releases, and automation resumes.
func TestPolicyYield(t *testing.T) {
	t.Parallel()
	for _, policy := range []Policy{PolicyYield, PolicyFinishStep} {
		t.Run(string(policy), func(t *testing.T) {
			t.Parallel()
			srv := newNeko(t, nil)
			a, evs := startArbiter(t, testConfig(srv, policy))
			acquire(t, a, srv)
			alice := newPerson(t, srv, "alice", false)

			res, err := alice.client.RequestControl(ctxT(t))
			if err != nil || res != neko.ControlPending {
				t.Fatalf("alice request: %v %v", res, err)
			}
			// The first thing after the request: the gate is closed while
			// codrive still hosts.
			req := nextEvent(t, evs, "request", func(ev Event) bool { return ev.Kind == "request" })
			if req.Status.State != StateAutomation || req.Status.Go {
				t.Fatalf("at the request the gate must close before the host moves: %+v", req.Status)
			}
			if req.Actor != alice.id() || req.ActorName != "alice" {
				t.Fatalf("request actor %q %q", req.Actor, req.ActorName)
			}
			human := nextEvent(t, evs, "human", isState(StateHuman))
			if human.Status.Host != alice.id() || human.Status.HostName != "alice" {
				t.Fatalf("host after yield: %+v", human.Status)
			}
			if !strings.Contains(human.Reason, "alice") || !strings.Contains(human.Reason, string(policy)) {
				t.Fatalf("reason %q", human.Reason)
			}
			if err := srv.WaitHost(ctxT(t), alice.id()); err != nil {
				t.Fatal(err)
			}
			werr := gateBlocked(t, a)
			if !strings.Contains(werr.Error(), "alice") {
				t.Fatalf("wait error should name the person: %v", werr)
			}

			// Automation waits; alice drives, then releases.
			waited := make(chan error, 1)
			go func() { waited <- a.Wait(ctxT(t)) }()
			if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-waited:
				if err != nil {
					t.Fatalf("automation did not resume: %v", err)
				}
			case <-time.After(testTimeout):
				t.Fatal("automation did not resume after the person released")
			}
			if id, _ := srv.Host(); id != a.Status().Session {
				t.Fatalf("host %q after reclaim", id)
			}
		})
	}
}

// finish-step: a step in flight delays the handover until it ends.
func TestPolicyFinishStepWaitsForStep(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyFinishStep))
	acquire(t, a, srv)
	end, err := a.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "request", func(ev Event) bool { return ev.Kind == "request" })
	gateBlocked(t, a)
	// A REST round trip later the step is still running, so codrive still
	// hosts.
	if st, err := alice.client.ControlStatus(ctxT(t)); err != nil || st.HostID != a.Status().Session {
		t.Fatalf("host moved while the step was in flight: %+v %v", st, err)
	}
	end()
	if err := srv.WaitHost(ctxT(t), alice.id()); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyHoldKeepsControlAndTellsThePerson(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyHold))
	acquire(t, a, srv)
	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	req := nextEvent(t, evs, "request", func(ev Event) bool { return ev.Kind == "request" })
	if !req.Status.Go || req.Status.State != StateAutomation {
		t.Fatalf("hold must keep automation going: %+v", req.Status)
	}
	if len(req.Status.Pending) != 1 || req.Status.Pending[0].ID != alice.id() {
		t.Fatalf("pending: %+v", req.Status.Pending)
	}
	ev := nekoEvent(t, alice.events, "codrive's notice", func(ev neko.Event) bool { return ev.Name == neko.EventSendUnicast })
	msg := ev.Payload.(*neko.SendUnicast)
	if msg.Subject != "codrive" || msg.Sender != a.Status().Session || !strings.Contains(string(msg.Body), "automation is running") {
		t.Fatalf("notice: %+v body %s", msg, msg.Body)
	}
	if id, _ := srv.Host(); id != a.Status().Session {
		t.Fatalf("host moved under policy hold: %q", id)
	}
	// Without implicit hosting every mouse move of a viewer reaches the host
	// as a request: codrive answers once, not per move.
	for i := 0; i < 5; i++ {
		if err := alice.conn.Send(neko.EventControlMove, neko.ControlPos{X: i, Y: i}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// bob's first request is an event; the arbiter handles neko's events
	// in order, so once it shows, alice's repeats were handled too.
	bob := newPerson(t, srv, "bob", false)
	if _, err := bob.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "bob's request", func(ev Event) bool { return ev.Kind == "request" && ev.Actor == bob.id() })
	// A broadcast from codrive marks the end of what it sent before.
	if err := a.conn.SendBroadcast("marker", "end"); err != nil {
		t.Fatal(err)
	}
	for {
		ev := nekoEvent(t, alice.events, "marker", func(ev neko.Event) bool {
			return ev.Name == neko.EventSendUnicast || ev.Name == neko.EventSendBroadcast
		})
		if ev.Name == neko.EventSendBroadcast {
			break
		}
		t.Fatalf("a second notice was sent: %s", ev.Raw)
	}
}

func TestPolicyLockedRestoresSettings(t *testing.T) {
	t.Parallel()
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	srv := newNeko(t, &initial)
	cfg := testConfig(srv, PolicyLocked)
	a, evs := startArbiter(t, cfg)
	acquire(t, a, srv)
	nextEvent(t, evs, "lock", func(ev Event) bool { return ev.Kind == "settings" && ev.Status.Locked })
	if s := srv.Settings(); !s.LockedControls || s.ImplicitHosting {
		t.Fatalf("settings while automation runs: %+v", s)
	}
	// A viewer cannot take it: input events are ignored under the lock.
	alice := newPerson(t, srv, "alice", false)
	if err := alice.conn.Send(neko.EventControlMove, neko.ControlPos{X: 1, Y: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "request", func(ev Event) bool { return ev.Kind == "request" })
	// Her socket's frames are handled in order: once her broadcast reaches
	// another viewer, her move has been handled too (and ignored).
	watch := newPerson(t, srv, "watch", false)
	if err := alice.conn.SendBroadcast("marker", "after the move"); err != nil {
		t.Fatal(err)
	}
	nekoEvent(t, watch.events, "alice's marker", func(ev neko.Event) bool {
		p, ok := ev.Payload.(*neko.SendBroadcast)
		return ok && p.Subject == "marker"
	})
	if id, _ := srv.Host(); id != a.Status().Session {
		t.Fatalf("host moved under policy locked: %q", id)
	}

	ctx := ctxT(t)
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := srv.Settings()
	if s.LockedControls || !s.ImplicitHosting {
		t.Fatalf("settings not restored after close: %+v", s)
	}
	if id, has := srv.Host(); has {
		t.Fatalf("host %q after close", id)
	}
}

func TestPolicyLockedNeedsAdmin(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	cfg := testConfig(srv, PolicyLocked)
	cfg.Password = "neko"
	_, err := connectWithDefaults(ctxT(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "admin") {
		t.Fatalf("want an admin error, got %v", err)
	}
	if n := len(srv.Sessions()); n != 0 {
		t.Fatalf("a refused connect left %d session(s) behind", n)
	}
}

// With implicit hosting on, a viewer's mouse move takes the host without
// asking: the arbiter must see it and close the gate at once.
func TestImplicitHostingSteal(t *testing.T) {
	t.Parallel()
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	srv := newNeko(t, &initial)
	a, evs := startArbiter(t, testConfig(srv, PolicyYield))
	acquire(t, a, srv)
	bob := newPerson(t, srv, "bob", false)
	if err := bob.conn.Send(neko.EventControlMove, neko.ControlPos{X: 10, Y: 10}); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, evs, "steal", isState(StateHuman))
	if ev.Status.Host != bob.id() || ev.Status.Go {
		t.Fatalf("after the steal: %+v", ev.Status)
	}
	if !strings.Contains(ev.Reason, "bob") || !strings.Contains(ev.Reason, "took control") {
		t.Fatalf("reason %q", ev.Reason)
	}
	gateBlocked(t, a)
}

func TestHandoff(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyYield))
	acquire(t, a, srv)
	alice := newPerson(t, srv, "alice", false)

	done := make(chan error, 1)
	go func() { done <- a.Handoff(ctxT(t), "solve the CAPTCHA") }()

	bc := nekoEvent(t, alice.events, "handoff broadcast", func(ev neko.Event) bool { return ev.Name == neko.EventSendBroadcast })
	msg := bc.Payload.(*neko.SendBroadcast)
	var body struct{ Reason string }
	if err := json.Unmarshal(msg.Body, &body); err != nil || msg.Subject != "codrive" || body.Reason != "solve the CAPTCHA" {
		t.Fatalf("broadcast %+v body %s (%v)", msg, msg.Body, err)
	}
	nextEvent(t, evs, "released for handoff", isState(StateFree))
	if res, err := alice.client.RequestControl(ctxT(t)); err != nil || res != neko.ControlGranted {
		t.Fatalf("alice could not take control during the handoff: %v %v", res, err)
	}
	nextEvent(t, evs, "alice hosts", isState(StateHuman))
	select {
	case err := <-done:
		t.Fatalf("handoff returned before the person released: %v", err)
	default:
	}
	if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("handoff did not return after the release")
	}
	if err := a.Wait(ctxT(t)); err != nil {
		t.Fatalf("automation did not take control back: %v", err)
	}
}

func TestHandoffTimesOutWhenNobodyComes(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, _ := startArbiter(t, testConfig(srv, PolicyYield))
	acquire(t, a, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := a.Handoff(ctx, "login")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no person took control") {
		t.Fatalf("got %v", err)
	}
	if err := a.Wait(ctxT(t)); err != nil {
		t.Fatalf("automation did not take control back after the timeout: %v", err)
	}
}

// Acquire never steals from a person by default: it keeps asking, and its
// error names who holds control.
func TestAcquireWaitsForPerson(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	a, _ := startArbiter(t, testConfig(srv, PolicyYield))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Acquire(ctx) }()
	// Two requests reach alice: the repeat interval works.
	for i := 0; i < 2; i++ {
		ev := nekoEvent(t, alice.events, "control/request", func(ev neko.Event) bool { return ev.Name == neko.EventControlRequest })
		if ev.Payload.(*neko.SessionID).ID != a.Status().Session {
			t.Fatalf("request from %+v", ev.Payload)
		}
	}
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "alice") || !errors.Is(err, context.Canceled) {
		t.Fatalf("want an error naming alice, got %v", err)
	}
	if id, _ := srv.Host(); id != alice.id() {
		t.Fatalf("acquire stole control: host %q", id)
	}
}

func TestAcquireTakeover(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv, PolicyYield)
	cfg.Takeover = true
	a, _ := startArbiter(t, cfg)
	acquire(t, a, srv)
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyYield))
	acquire(t, a, srv)
	if err := a.Pause(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, evs, "released on pause", isState(StateFree))
	if !ev.Status.Paused || !strings.Contains(ev.Reason, "paused") {
		t.Fatalf("pause event: %+v", ev)
	}
	gateBlocked(t, a)
	waited := make(chan error, 1)
	go func() { waited <- a.Wait(ctxT(t)) }()
	a.Resume()
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
}

func TestIdleRelease(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	cfg := testConfig(srv, PolicyYield)
	cfg.IdleRelease = 100 * time.Millisecond
	a, evs := startArbiter(t, cfg)
	if err := a.Do(ctxT(t), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, evs, "idle release", isState(StateFree))
	if !strings.Contains(ev.Reason, "idle") {
		t.Fatalf("reason %q", ev.Reason)
	}
	// The next step acquires again.
	if err := a.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestNoReclaim(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	cfg := testConfig(srv, PolicyYield)
	cfg.NoReclaim = true
	a, evs := startArbiter(t, cfg)
	acquire(t, a, srv)
	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "alice hosts", isState(StateHuman))
	if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "free", isState(StateFree))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := a.Wait(ctx); err == nil {
		t.Fatal("automation reclaimed control despite NoReclaim")
	}
	a.Resume()
	if err := a.Wait(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// neko restarts mid-run (every session forgotten): codrive logs in again,
// rebuilds its state and, since it held control, takes it again and
// re-applies its lock.
func TestNekoRestartReacquires(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyLocked))
	acquire(t, a, srv)
	nextEvent(t, evs, "lock", func(ev Event) bool { return ev.Kind == "settings" && ev.Status.Locked })
	before := a.Status().Session

	srv.Restart()
	nextEvent(t, evs, "disconnected", isState(StateDisconnected))
	ev := nextEvent(t, evs, "automation again", isState(StateAutomation))
	if ev.Status.Session == before {
		t.Fatalf("session id did not change across a restart: %q", before)
	}
	if err := srv.WaitHost(ctxT(t), ev.Status.Session); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitFor(ctxT(t), func(st nekotest.State) bool {
		return st.Settings.LockedControls && !st.Settings.ImplicitHosting
	}); err != nil {
		t.Fatalf("lock not re-applied after the restart: %v", err)
	}
}

func TestCloseReleasesAtOnce(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, _ := startArbiter(t, testConfig(srv, PolicyYield))
	acquire(t, a, srv)
	if err := a.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, has := srv.Host(); has {
		t.Fatal("host still set after close")
	}
	for _, s := range srv.Sessions() {
		if s.Profile.Name == "codrive" {
			t.Fatalf("codrive session left behind: %+v", s)
		}
	}
	if err := a.Wait(ctxT(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("wait after close: %v", err)
	}
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	cfg := testConfig(srv, PolicyYield)
	cfg.Password = "s3cr3t-pw"
	_, err := connectWithDefaults(ctxT(t), cfg)
	if !errors.Is(err, neko.ErrUnauthorized) || !strings.Contains(err.Error(), `"codrive"`) || strings.Contains(err.Error(), cfg.Password) {
		t.Fatalf("wrong password: %v", err)
	}
	cfg = testConfig(srv, PolicyYield)
	cfg.NekoURL = "http://127.0.0.1:1"
	_, err = connectWithDefaults(ctxT(t), cfg)
	if !errors.Is(err, neko.ErrUnreachable) {
		t.Fatalf("unreachable: %v", err)
	}
	cfg = testConfig(srv, "sometimes")
	if _, err := connectWithDefaults(ctxT(t), cfg); err == nil || !strings.Contains(err.Error(), "unknown policy") {
		t.Fatalf("bad policy: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range Policies() {
		if got, err := ParsePolicy(string(p)); err != nil || got != p {
			t.Fatalf("%s: %v %v", p, got, err)
		}
	}
	if _, err := ParsePolicy("YIELD"); err == nil {
		t.Fatal("policies are case-sensitive")
	}
}

func TestOperatorGiveAndTake(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyYield))
	acquire(t, a, srv)
	alice := newPerson(t, srv, "alice", false)
	if err := a.Give(ctxT(t), alice.id()); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, evs, "alice hosts", isState(StateHuman))
	if !strings.Contains(ev.Reason, "by the operator") {
		t.Fatalf("reason %q", ev.Reason)
	}
	if err := a.Take(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "automation", isState(StateAutomation))
	if err := a.Give(ctxT(t), a.Status().Session); err == nil {
		t.Fatal("giving control to itself must fail")
	}
}

func TestTakeNeedsAdmin(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	cfg := testConfig(srv, PolicyYield)
	cfg.Password = "neko"
	a, _ := startArbiter(t, cfg)
	if err := a.Take(ctxT(t)); !errors.Is(err, neko.ErrNotAdmin) {
		t.Fatalf("take as user: %v", err)
	}
}

// A person may take control and give it back before the arbiter looks: the
// handoff must still see their turn. Holding the arbiter's lock while the
// person takes and releases makes that happen every time: by the time the
// arbiter handles neko's events, its room snapshot already shows no host.
func TestHandoffSeesAQuickTurn(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyYield))
	alice := newPerson(t, srv, "alice", false)
	acquire(t, a, srv)
	done := make(chan error, 1)
	go func() { done <- a.Handoff(ctxT(t), "quick") }()
	nextEvent(t, evs, "released for the handoff", isState(StateFree))

	a.mu.Lock()
	res, err := alice.client.RequestControl(ctxT(t))
	if err == nil {
		err = alice.client.ReleaseControl(ctxT(t))
	}
	a.mu.Unlock()
	if err != nil || res != neko.ControlGranted {
		t.Fatalf("alice's turn: %v %v", res, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the handoff missed the person's quick turn")
	}
}
