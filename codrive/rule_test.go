package codrive

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Deterministic tests of the rule, one per failure found in the arbiter it
// replaced (issue 9), in simulated time. The same failures have tests
// against nekotest in arbiter_test.go.

type ruleRun struct {
	t   *testing.T
	r   *rule
	now time.Time
	out []effect
}

func newRuleRun(t *testing.T, cfg ruleConfig) *ruleRun {
	t.Helper()
	if cfg.Policy == "" {
		cfg.Policy = PolicyYield
	}
	setDefault(&cfg.ReclaimAfter, time.Second)
	setDefault(&cfg.StepTimeout, 5*time.Second)
	setDefault(&cfg.RequestInterval, time.Second)
	setDefault(&cfg.HandoffTimeout, time.Minute)
	return &ruleRun{t: t, r: newRule(cfg), now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
}

func (rr *ruleRun) in(in input) []effect {
	rr.out = rr.r.step(rr.now, in)
	return rr.out
}

func (rr *ruleRun) after(d time.Duration) []effect {
	rr.now = rr.now.Add(d)
	return rr.in(inTick{})
}

// init connects codrive as session "bot" to a room hosted by host; for
// host "bot", codrive asks for control and gets it.
func (rr *ruleRun) init(host string, s roomSettings) {
	rr.t.Helper()
	first := host
	if host == "bot" {
		first = ""
	}
	rr.in(inInit{Self: "bot", Host: first, Settings: s, Reason: "connected", Sessions: []sessionInfo{
		{ID: "bot", Name: "codrive", Connected: true}, {ID: "alice", Name: "alice", Connected: true},
	}})
	rr.in(inHello{From: "bot", Self: true}) // its announcement went out
	if host == "bot" {
		rr.in(inAcquire{Call: 1000})
		req := rr.mustREST(opRequest)
		rr.in(restResult{Op: req.Op})
		rr.in(inHost{Actor: "bot", Host: "bot"})
		if err, ok := rr.reply(1000); !ok || err != nil {
			rr.t.Fatalf("acquire: %v %v", err, ok)
		}
	}
}

func (rr *ruleRun) rest(kind restKind) (effREST, bool) {
	for _, e := range rr.out {
		if e, ok := e.(effREST); ok && e.Kind == kind {
			return e, true
		}
	}
	return effREST{}, false
}

func (rr *ruleRun) mustREST(kind restKind) effREST {
	rr.t.Helper()
	e, ok := rr.rest(kind)
	if !ok {
		rr.t.Fatalf("want a %s, got %s", kind, describeEffects(rr.out))
	}
	return e
}

func (rr *ruleRun) noREST(kind restKind) {
	rr.t.Helper()
	if _, ok := rr.rest(kind); ok {
		rr.t.Fatalf("want no %s, got %s", kind, describeEffects(rr.out))
	}
}

func (rr *ruleRun) events(kind EventKind) []Event {
	var evs []Event
	for _, e := range rr.out {
		if e, ok := e.(effEmit); ok && e.Ev.Kind == kind {
			evs = append(evs, e.Ev)
		}
	}
	return evs
}

func (rr *ruleRun) reply(call callID) (error, bool) {
	for _, e := range rr.out {
		if e, ok := e.(effReply); ok && e.Call == call {
			return e.Err, true
		}
	}
	return nil, false
}

func (rr *ruleRun) begin(call callID) error {
	rr.t.Helper()
	rr.in(inBegin{Call: call, Sent: true})
	err, ok := rr.reply(call)
	if !ok {
		rr.t.Fatalf("Begin was not answered")
	}
	return err
}

func (rr *ruleRun) gate(want Gate) {
	rr.t.Helper()
	if g := rr.r.gate(); g != want {
		rr.t.Fatalf("gate %s, want %s (state %s)", g, want, rr.r.state())
	}
}

func describeEffects(effs []effect) string {
	var s []string
	for _, e := range effs {
		switch e := e.(type) {
		case effREST:
			s = append(s, "REST "+e.Kind.String())
		case effEmit:
			s = append(s, fmt.Sprintf("event %s %q", e.Ev.Kind, e.Ev.Reason))
		default:
			s = append(s, fmt.Sprintf("%T", e))
		}
	}
	return "[" + strings.Join(s, "; ") + "]"
}

// Failure 1: control went codrive → person → nobody → codrive faster than
// the old arbiter looked, and it stayed "yielding" for ever. Every host
// change is now an input of its own, and a yield ends at the first one.
func TestRuleQuickTurnEndsTheYield(t *testing.T) {
	rr := newRuleRun(t, ruleConfig{ReclaimAfter: time.Millisecond})
	rr.init("bot", roomSettings{})
	rr.in(inRequest{From: "alice"})
	rr.gate(GateYielding)
	give := rr.mustREST(opGive)
	rr.in(restResult{Op: give.Op})
	rr.in(inHost{Actor: "bot", Host: "alice"})
	rr.in(inHost{Actor: "alice", Host: ""})
	rr.after(time.Millisecond)
	req := rr.mustREST(opRequest)
	rr.in(restResult{Op: req.Op})
	rr.in(inHost{Actor: "bot", Host: "bot"})
	rr.gate(GateOpen)
	if err := rr.begin(1); err != nil {
		t.Fatalf("automation frozen after a quick turn: %v", err)
	}
	// A later request is a new yield, not "already yielding".
	rr.in(inRequest{From: "alice"})
	if evs := rr.events(EventRequest); len(evs) != 1 || !strings.Contains(evs[0].Reason, "pausing automation") {
		t.Fatalf("second request: %v", describeEffects(rr.out))
	}
}

// Failure 2: a person's zero-hold turn had no "human" event; the next
// "free" event named them as actor. One state event per host change now.
func TestRuleReportsEveryTurn(t *testing.T) {
	rr := newRuleRun(t, ruleConfig{})
	rr.init("", roomSettings{})
	var seen []string
	for _, h := range []inHost{{"alice", "alice"}, {"alice", ""}, {"alice", "alice"}, {"alice", ""}} {
		rr.in(h)
		for _, ev := range rr.events(EventState) {
			seen = append(seen, fmt.Sprintf("%s:%s", ev.Status.State, ev.Status.Host))
		}
	}
	if got, want := strings.Join(seen, " "), "human:alice free: human:alice free:"; got != want {
		t.Fatalf("state events %q, want %q", got, want)
	}
}

// Failure 4: after a neko restart codrive took control a person had. It
// takes back at once only what it held; a person's turn cut short by the
// restart gets the reclaim grace.
func TestRuleRestartTakesBackOnlyWhatItHeld(t *testing.T) {
	for _, held := range []bool{true, false} {
		t.Run(fmt.Sprintf("codrive held=%v", held), func(t *testing.T) {
			rr := newRuleRun(t, ruleConfig{ReclaimAfter: time.Hour})
			host := "alice"
			if held {
				host = "bot"
			}
			rr.init(host, roomSettings{})
			rr.begin(1) // automation wants control
			rr.in(inStepEnd{Call: 1})
			rr.in(inConnLost{Reason: "neko connection lost"})
			rr.in(inInit{Self: "bot2", Host: "", Relogin: true, Reason: "neko restarted"})
			rr.in(inHello{From: "bot2", Self: true})
			if held {
				rr.mustREST(opRequest)
				return
			}
			rr.noREST(opRequest)
			rr.after(59 * time.Minute)
			rr.noREST(opRequest)
			rr.after(time.Minute)
			rr.mustREST(opRequest)
		})
	}
}

// Failure 5: a crash under policy locked left the room locked for ever.
// The lock's lease names its codrive; when that session is gone, the next
// codrive with an admin login restores the recorded settings.
func TestRuleRestoresALockLeftByAGoneCodrive(t *testing.T) {
	lease := &lockLease{Owner: "dead", Before: lockSettings{ImplicitHosting: true}}
	locked := roomSettings{lockSettings: lockSettings{LockedControls: true}, Lease: lease}
	t.Run("owner still connected", func(t *testing.T) {
		rr := newRuleRun(t, ruleConfig{Admin: true})
		rr.in(inInit{Self: "bot", Settings: locked, Sessions: []sessionInfo{{ID: "dead", Connected: true}}})
		rr.noREST(opRestore)
		f := false
		rr.in(inSession{ID: "dead", Connected: &f}) // neko's delayed disconnect
		if e := rr.mustREST(opRestore); e.Want == nil || *e.Want != lease.Before {
			t.Fatalf("restore %+v, want %+v", e.Want, lease.Before)
		}
	})
	t.Run("not admin", func(t *testing.T) {
		rr := newRuleRun(t, ruleConfig{})
		rr.in(inInit{Self: "bot", Settings: locked})
		rr.noREST(opRestore)
		if evs := rr.events(EventError); len(evs) != 1 || !strings.Contains(evs[0].Reason, "codrive control reset") {
			t.Fatalf("want one error naming the way out, got %s", describeEffects(rr.out))
		}
	})
}

// Failure 6: the proxy passed the gate and counted its step in two calls,
// so finish-step could hand over between them. Begin is one decision.
func TestRuleBeginCountsTheStepItLetsThrough(t *testing.T) {
	rr := newRuleRun(t, ruleConfig{Policy: PolicyFinishStep})
	rr.init("bot", roomSettings{})
	if err := rr.begin(1); err != nil {
		t.Fatal(err)
	}
	rr.in(inRequest{From: "alice"})
	rr.noREST(opGive)
	if evs := rr.events(EventYield); len(evs) != 1 || !strings.Contains(evs[0].Reason, "1 automation step") {
		t.Fatalf("want the yield to wait for the step: %s", describeEffects(rr.out))
	}
	if err := rr.begin(2); !errors.Is(err, errNotNow) {
		t.Fatalf("a new step started during the yield: %v", err)
	}
	rr.in(inStepEnd{Call: 1})
	rr.mustREST(opGive)
}

// Failure 7 (in part): giving control to codrive's own session is refused.
func TestRuleGiveToItselfIsRefused(t *testing.T) {
	rr := newRuleRun(t, ruleConfig{Admin: true})
	rr.init("alice", roomSettings{})
	rr.in(inGive{Call: 1, To: "bot"})
	if err, ok := rr.reply(1); !ok || err == nil {
		t.Fatalf("give to itself: %v %v", err, ok)
	}
}

// A release neko answered but has not reported keeps the gate closed: its
// answer and its control/host come on different sockets.
func TestRuleGateStaysClosedUntilNekoReportsTheRelease(t *testing.T) {
	rr := newRuleRun(t, ruleConfig{})
	rr.init("bot", roomSettings{})
	rr.in(inPause{Call: 1})
	rel := rr.mustREST(opRelease)
	rr.in(inResume{})
	rr.in(restResult{Op: rel.Op})
	if err := rr.begin(2); !errors.Is(err, errNotNow) {
		t.Fatalf("gate open before neko reported the release: %v", err)
	}
	rr.in(inHost{Actor: "bot", Host: ""})
	rr.mustREST(opRequest)
}

// Issue 12 item 7: two codrive processes with the default user called each
// other "human". A session of codrive's own neko user, or one that announced
// itself, is StateCodrive: automation waits for it as for anyone, but its
// turn is no person's (a handoff does not count it, NoReclaim ignores it).
func TestRuleOtherCodriveIsNotAPerson(t *testing.T) {
	rr := newRuleRun(t, ruleConfig{User: "codrive", NoReclaim: true, ReclaimAfter: time.Hour})
	rr.in(inInit{Self: "bot", Reason: "connected", Sessions: []sessionInfo{
		{ID: "bot", Name: "codrive", Connected: true}, {ID: "alice", Name: "alice", Connected: true},
		{ID: "oneshot", Name: "codrive", Connected: true}, {ID: "robot", Name: "robot", Connected: true},
	}})
	var sends []effSend
	for _, e := range rr.out {
		if e, ok := e.(effSend); ok {
			sends = append(sends, e)
		}
	}
	// The announcement, then a note to itself that tells when it went out.
	if len(sends) != 2 || sends[0].To != "" || sends[0].Subject != helloSubject || sends[0].Body["codrive"] != helloAnnounce ||
		sends[1].To != "bot" || sends[1].Body["codrive"] != helloSelf {
		t.Fatalf("codrive did not announce itself on connect: %s", describeEffects(rr.out))
	}
	rr.in(inHello{From: "bot", Self: true})

	// Another session of the same user hosts: a one-shot `codrive control
	// request`, or another codrive.
	rr.in(inHost{Actor: "oneshot", Host: "oneshot"})
	if evs := rr.events(EventState); len(evs) != 1 || evs[0].Status.State != StateCodrive || evs[0].Status.Host != "oneshot" {
		t.Fatalf("same user hosting: %s", describeEffects(rr.out))
	}
	rr.in(inHost{Actor: "oneshot", Host: ""})
	// Its turn is no person's: NoReclaim does not keep automation away and
	// there is no reclaim grace.
	if err := rr.begin(1); err != errNotNow {
		t.Fatalf("begin: %v", err)
	}
	rr.mustREST(opRequest)

	// A codrive of another user announces itself and is answered.
	rr.in(inHello{From: "robot"})
	var answer effSend
	for _, e := range rr.out {
		if e, ok := e.(effSend); ok {
			answer = e
		}
	}
	if answer.To != "robot" || answer.Subject != helloSubject || answer.Body["codrive"] != helloAnswer {
		t.Fatalf("announcement not answered: %s", describeEffects(rr.out))
	}
	rr.in(inHello{From: "robot", Answer: true})
	for _, e := range rr.out {
		if _, ok := e.(effSend); ok {
			t.Fatalf("an answer was answered: %s", describeEffects(rr.out))
		}
	}
	rr.in(inHost{Actor: "robot", Host: "robot"})
	if st := rr.r.status(); st.State != StateCodrive || st.Host != "robot" || st.HostName != "robot" {
		t.Fatalf("announced codrive hosting: %+v", st)
	}

	// A handoff waits for a person: another codrive's turn does not end it.
	rr.in(inHandoff{Call: 2, Reason: "captcha"})
	rr.in(inHost{Actor: "robot", Host: ""})
	rr.in(inHost{Actor: "oneshot", Host: "oneshot"})
	rr.in(inHost{Actor: "oneshot", Host: ""})
	if _, ok := rr.reply(2); ok || rr.r.handoff == nil {
		t.Fatalf("a codrive turn ended the handoff: %s", describeEffects(rr.out))
	}
	rr.in(inHost{Actor: "alice", Host: "alice"})
	if st := rr.r.status(); st.State != StateHuman {
		t.Fatalf("alice hosting: %+v", st)
	}
	rr.in(inHost{Actor: "alice", Host: ""})
	if err, ok := rr.reply(2); !ok || err != nil {
		t.Fatalf("handoff after the person's turn: %v %v", err, ok)
	}
}

// codrive moves control (over REST) only once its announcement has gone out
// on its socket, known by a note to itself coming back: another codrive
// then never sees it host as a stranger. At most helloGrace.
func TestRuleControlWaitsForTheAnnouncement(t *testing.T) {
	rr := newRuleRun(t, ruleConfig{})
	rr.in(inInit{Self: "bot", Reason: "connected"})
	rr.in(inAcquire{Call: 1})
	rr.noREST(opRequest)
	rr.in(inHello{From: "bot", Self: true})
	rr.mustREST(opRequest)

	rr = newRuleRun(t, ruleConfig{})
	rr.in(inInit{Self: "bot", Reason: "connected"})
	rr.in(inAcquire{Call: 1})
	rr.after(helloGrace)
	rr.mustREST(opRequest)
}
