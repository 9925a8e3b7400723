package codrive

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// Regression tests for the failures found in the arbiter the rule replaced
// (issue 9), against nekotest. Each made the old arbiter fail: it derived
// who hosts from neko's latest room snapshot, so changes that came and went
// while it was busy were lost. Holding the arbiter's status lock stalls its
// loop at the next publish, which makes "while it was busy" happen every
// time.

// Failure 1: control went codrive → person → nobody → codrive before the
// arbiter looked; it stayed "yielding" for ever.
func TestQuickTurnBackToCodriveDoesNotFreeze(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyYield))
	acquire(t, a, srv)
	alice := newPerson(t, srv, "alice", true)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "request", func(ev Event) bool { return ev.Kind == EventRequest })
	self := a.Status().Session
	a.mu.Lock()
	err := srv.WaitHost(ctxT(t), alice.id()) // codrive's give lands meanwhile
	if err == nil {
		err = alice.client.ReleaseControl(ctxT(t))
	}
	if err == nil {
		err = alice.client.GiveControl(ctxT(t), self)
	}
	a.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(ctxT(t)); err != nil {
		t.Fatalf("automation frozen after a quick turn: %v", err)
	}
}

// Failure 2: a person's zero-hold turn had no "human" event, and the "free"
// that followed named them as actor.
func TestQuickTurnIsReported(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	a, evs := startArbiter(t, testConfig(srv, PolicyYield))
	alice := newPerson(t, srv, "alice", false)
	a.mu.Lock()
	res, err := alice.client.RequestControl(ctxT(t))
	if err == nil {
		err = alice.client.ReleaseControl(ctxT(t))
	}
	a.mu.Unlock()
	if err != nil || res != neko.ControlGranted {
		t.Fatalf("alice's turn: %v %v", res, err)
	}
	human := nextEvent(t, evs, "alice's turn", func(ev Event) bool { return ev.Kind == EventState })
	free := nextEvent(t, evs, "the end of it", func(ev Event) bool { return ev.Kind == EventState })
	if human.Status.State != StateHuman || human.Status.Host != alice.id() || free.Status.State != StateFree {
		t.Fatalf("state events: %s %s, %s", human.Status.State, human.Status.Host, free.Status.State)
	}
}

// Failure 4: after a neko restart codrive took control a person had. It
// takes back at once only what it held; a person's turn cut short by the
// restart waits ReclaimAfter, as if they had let go.
func TestRestartDoesNotTakeAPersonsControl(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	cfg := testConfig(srv, PolicyYield)
	cfg.ReclaimAfter = testTimeout * 10
	a, evs := startArbiter(t, cfg)
	acquire(t, a, srv)
	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "alice hosts", isState(StateHuman))
	srv.Restart()
	nextEvent(t, evs, "back after the restart", func(ev Event) bool {
		return ev.Kind == EventState && strings.Contains(ev.Reason, "restarted")
	})
	// She logs in again: the room is still free for her.
	alice = newPerson(t, srv, "alice", false)
	if res, err := alice.client.RequestControl(ctxT(t)); err != nil || res != neko.ControlGranted {
		t.Fatalf("alice's request after the restart: %v %v (host: %+v)", res, err, srv.State().HostID)
	}
}

// Failure 3: neko frozen (SIGSTOP) long enough for codrive to give up on its
// socket and on reconnect attempts; when neko woke up, an attempt codrive had
// abandoned replaced its new socket, and codrive exited. It must ride it out
// and host again, whatever order neko handles the waiting connections in.
func TestFrozenNekoDoesNotEndCodrive(t *testing.T) {
	t.Parallel()
	resumes := map[string]func(*nekotest.Server){
		"in order":     (*nekotest.Server).Resume,
		"newest first": (*nekotest.Server).ResumeNewestFirst,
		"interleaved":  (*nekotest.Server).ResumeInterleaved,
	}
	for name, resume := range resumes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newNeko(t, nil)
			cfg := testConfig(srv, PolicyYield)
			cfg.conn = neko.ConnOptions{LivenessTimeout: 300 * time.Millisecond, InitTimeout: 200 * time.Millisecond,
				ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond}
			a, evs := startArbiter(t, cfg)
			acquire(t, a, srv)
			srv.Pause()
			nextEvent(t, evs, "the freeze noticed", isState(StateDisconnected))
			if _, err := srv.WaitQueued(ctxT(t), 2); err != nil {
				t.Fatal(err)
			}
			resume(srv)
			nextEvent(t, evs, "hosting again", isState(StateAutomation))
			select {
			case <-a.Done():
				t.Fatalf("codrive's connection ended: %v", a.Err())
			default:
			}
			if err := a.Wait(ctxT(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A script's click is two commands (press, release) and a drag more: a
// person asking for control in the middle must not have their clicks land
// inside it (found by the person-input scenarios on real neko). The
// hand-over waits until the script lets go; what continues the gesture
// passes meanwhile, anything else waits. (Commands keep their order on a
// connection: an acting command sent in the middle of the gesture holds the
// rest of it up until StepTimeout.)
func TestHandOverWaitsForTheScriptsGesture(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	tab := c.NewTabT(t, "about:blank")
	cfg := testConfig(srv, PolicyYield)
	cfg.CDPURL, cfg.Target, cfg.Listen = c.URL, tab, "127.0.0.1:0"
	s, err := Attach(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	evs, unsub := s.Subscribe()
	defer unsub()
	if err := s.Acquire(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sc := dialScript(t, s.ProxyURL(), tab)
	mouse := func(typ string) {
		sc.send("Input.dispatchMouseEvent", map[string]any{"type": typ, "x": 10, "y": 10, "button": "left", "clickCount": 1})
	}
	mouse("mousePressed")
	sc.answered(t)
	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "the hand-over waiting for the gesture", func(ev Event) bool {
		return ev.Kind == EventYield && strings.Contains(ev.Reason, "let go")
	})
	mouse("mouseMoved")
	mouse("mouseReleased")
	sc.evaluate("window.x = 1") // not part of the gesture: held
	// Chromium answers the release while codrive still hosts (the
	// hand-over waits for that answer); alice gets control after it, and
	// the evaluation stays held until she lets go. The script may read its
	// answers after the hand-over: its reader is another goroutine.
	human := nextEvent(t, evs, "alice hosts", isState(StateHuman))
	sc.answeredBut(t, 1)
	if n := sc.pendingCount(); n != 1 {
		t.Fatalf("%d command(s) unanswered while alice hosts, want only the held evaluation", n)
	}
	if human.Status.Host != alice.id() {
		t.Fatalf("host %q", human.Status.Host)
	}
	if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sc.answered(t)
}
