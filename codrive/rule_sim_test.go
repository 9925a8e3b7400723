package codrive

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/roomlock"
	"github.com/codrive/codrive/neko"
)

// A deterministic simulation of the rule (in the manner of FoundationDB's
// simulator and TigerBeetle's VOPR): a seeded generator plays neko, the
// people in the room, the operator and automation around one rule, in every
// order the real system allows (REST answers and socket events race, events
// are delivered late, sockets drop, neko restarts, codrive crashes), and
// checks the rule's invariants after every step. A failing seed prints
// itself; -sim.seed replays it with a trace.

var (
	simSeeds = flag.Int("sim.seeds", 10000, "seeds TestRuleSimulation runs")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this seed, with a trace")
)

func TestRuleSimulation(t *testing.T) {
	if *simSeed != 0 {
		w := newSim(*simSeed, true)
		if err := w.run(); err != nil {
			t.Fatalf("seed %d: %v\ntrace:\n%s", *simSeed, err, strings.Join(w.trace, "\n"))
		}
		return
	}
	var next atomic.Uint64
	var once sync.Once
	var failed error
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1)
				if seed > uint64(*simSeeds) {
					return
				}
				if err := newSim(seed, false).run(); err != nil {
					once.Do(func() {
						failed = fmt.Errorf("seed %d: %v\nreplay: go test ./codrive -run TestRuleSimulation -sim.seed %d -v", seed, err, seed)
					})
					next.Store(uint64(*simSeeds)) // stop the others
					return
				}
			}
		}()
	}
	wg.Wait()
	if failed != nil {
		t.Fatal(failed)
	}
	t.Logf("%d seeds, every invariant held", *simSeeds)
}

type simSession struct {
	name      string
	admin     bool
	connected bool
	downAt    time.Time // its socket dropped without a close frame
}

type simOp struct {
	e       effREST
	applied bool
	res     restResult
	owner   *rule  // the codrive that sent it (a crash leaves orphans)
	self    string // its session
	allowed bool   // a take sent while a takeover was asked for
}

type sim struct {
	rng     *rand.Rand
	verbose bool
	trace   []string
	now     time.Time
	cfg     ruleConfig
	r       *rule

	// neko's truth.
	host     string
	byCodeOf bool // the last host change was codrive's own give or release
	settings lockSettings
	initial  lockSettings
	lease    *lockLease
	baseline lockSettings // the room as it would be without codrive
	sessions map[string]*simSession
	self     string
	logins   int

	// codrive's socket and what is on its way to codrive.
	linkUp   bool
	lastDrop time.Time
	restart  bool // the drop was a neko restart: the next init is a re-login
	queue    []input
	queuedAt []time.Time
	ops      []*simOp

	// codrive's callers.
	nextCall    callID
	calls       map[callID]string
	steps       map[callID]bool      // in flight; true once sent to Chromium
	unsent      map[callID]time.Time // begun, not yet sent (proxied commands)
	wakeAt      time.Time
	shutdown    *effShutdown
	takeAllowed int // operator Take calls, Acquires with takeover, outstanding

	// What codrive has been told, for I4.
	known     string
	knownConn bool

	// Handoffs outstanding, and whether codrive has been told of a person
	// hosting since each began (its promise: ok only after a person's turn).
	handoffs map[callID]bool

	pendingSent map[callID]bool // begin calls in flight: acting at once?
	pendingKind map[callID]stepKindT
	// Gestures: presses in flight, the continuations that release them,
	// and whether the rule said it gave up waiting for them.
	presses, releasers map[callID]bool
	gestureGaveUp      bool
	// The arbiter's fast gate (fastgate.go), driven the arbiter's way
	// around every input.
	fast *fastGate
	// lastStep is when a step last began or ended, fast or not: an idle
	// release comes IdleRelease after it, never sooner.
	lastStep time.Time
}

func newSim(seed uint64, verbose bool) *sim {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	policy := Policies()[rng.IntN(len(Policies()))]
	cfg := ruleConfig{
		Policy:          policy,
		Admin:           policy == PolicyLocked || rng.IntN(2) == 0,
		ReclaimAfter:    time.Duration(rng.IntN(3)) * time.Second,
		NoReclaim:       rng.IntN(4) == 0,
		StepTimeout:     time.Duration(1+rng.IntN(3)) * time.Second,
		RequestInterval: time.Duration(200+rng.IntN(800)) * time.Millisecond,
		HandoffTimeout:  time.Duration(2+rng.IntN(5)) * time.Second,
		Takeover:        rng.IntN(3) == 0,
		User:            "codrive",
	}
	if rng.IntN(3) == 0 {
		cfg.IdleRelease = time.Duration(500+rng.IntN(3000)) * time.Millisecond
	}
	initial := lockSettings{LockedControls: rng.IntN(5) == 0, ImplicitHosting: rng.IntN(2) == 0}
	w := &sim{
		rng: rng, verbose: verbose, now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), cfg: cfg,
		settings: initial, baseline: initial, initial: initial,
		sessions: map[string]*simSession{
			"p1": {name: "alice", connected: true}, "p2": {name: "bob", connected: true},
			"adm": {name: "root", admin: true, connected: true},
		},
		calls: map[callID]string{}, steps: map[callID]bool{},
	}
	w.logf("seed %d: %+v initial %s", seed, cfg, &initial)
	if rng.IntN(3) == 0 {
		w.host = []string{"p1", "p2", "adm"}[rng.IntN(3)]
	}
	w.boot()
	return w
}

func (w *sim) logf(format string, args ...any) {
	if w.verbose {
		w.trace = append(w.trace, fmt.Sprintf("%s ", w.now.Format("05.000"))+fmt.Sprintf(format, args...))
	}
}

// boot starts a codrive: a new login, a new socket, a new rule.
func (w *sim) boot() {
	w.logins++
	w.self = fmt.Sprintf("codrive%d", w.logins)
	w.sessions[w.self] = &simSession{name: "codrive", admin: w.cfg.Admin, connected: true}
	w.r = newRule(w.cfg)
	w.fast = &fastGate{}
	w.linkUp, w.queue, w.queuedAt, w.known, w.knownConn = true, nil, nil, "", false
	w.shutdown = nil
	w.calls, w.steps, w.unsent = map[callID]string{}, map[callID]bool{}, map[callID]time.Time{}
	w.wakeAt = time.Time{}
	w.takeAllowed = 0
	w.handoffs = map[callID]bool{}
	w.pendingSent = map[callID]bool{}
	w.pendingKind = map[callID]stepKindT{}
	w.presses, w.releasers = map[callID]bool{}, map[callID]bool{}
	w.deliver(w.initInput(false, "connected"))
}

func (w *sim) initInput(relogin bool, reason string) inInit {
	in := inInit{Self: w.self, Host: w.host, Relogin: relogin, Reason: reason,
		Settings: roomSettings{lockSettings: w.settings, Lease: w.lease}}
	for id, s := range w.sessions {
		in.Sessions = append(in.Sessions, sessionInfo{ID: id, Name: s.name, Connected: s.connected})
	}
	return in
}

// isPerson: host is a person's session, not codrive's own nor an earlier
// codrive's (same user name: StateCodrive).
func (w *sim) isPerson(host string) bool {
	if host == "" || host == w.self {
		return false
	}
	s, ok := w.sessions[host]
	return !ok || s.name != w.cfg.User
}

// --- neko ------------------------------------------------------------------

// tell queues an event for codrive (lost while its socket is down).
func (w *sim) tell(in input) {
	if w.linkUp {
		w.queue = append(w.queue, in)
		w.queuedAt = append(w.queuedAt, w.now)
	}
}

// next delivers the oldest event on its way to codrive.
func (w *sim) next() {
	in := w.queue[0]
	w.queue, w.queuedAt = w.queue[1:], w.queuedAt[1:]
	w.deliver(in)
}

func (w *sim) setHost(actor, host string, byCodrive bool) {
	w.logf("  neko: host %q → %q by %s (codrive's own move: %v)", w.host, host, actor, byCodrive)
	w.host, w.byCodeOf = host, byCodrive
	if byCodrive && len(w.presses) > 0 && !w.gestureGaveUp {
		panic(fmt.Sprintf("I1: codrive handed control to %q while automation held %d press(es)", host, len(w.presses)))
	}
	if byCodrive && len(w.unsent) > 0 {
		panic(fmt.Sprintf("I1: codrive handed control to %q with %d command(s) that passed its gate not yet sent", host, len(w.unsent)))
	}
	w.tell(inHost{Actor: actor, Host: host})
}

func (w *sim) setSettings(actor string, s lockSettings, lease *lockLease, clearLease bool) {
	w.settings = s
	if lease != nil {
		w.lease = lease
	}
	if clearLease {
		w.lease = nil
	}
	w.tell(inSettings{Actor: actor, Settings: roomSettings{lockSettings: w.settings, Lease: w.lease}})
}

// personRequest is a viewer asking for control, as neko handles it
// (handler/control.go; REST never takes, WS input takes with implicit
// hosting).
func (w *sim) personRequest(p string, ws bool) {
	s := w.sessions[p]
	locked := w.settings.LockedControls && !s.admin
	switch {
	case w.host == p:
	case ws && locked:
	case ws && w.settings.ImplicitHosting:
		w.setHost(p, p, false)
	case w.host == "" && !locked:
		w.setHost(p, p, false)
	case w.host == w.self && !locked:
		w.tell(inRequest{From: p})
	}
}

// apply carries out one REST call at neko (and the executor's reads).
func (w *sim) apply(op *simOp) {
	op.applied = true
	w.logf("  neko applies %s %s #%d", op.e.Kind, op.e.To, op.e.Op)
	self := op.self
	res := restResult{Op: op.e.Op}
	admin := w.cfg.Admin
	switch op.e.Kind {
	case opRequest:
		switch {
		case w.host == "" && w.settings.LockedControls && !admin:
			res.Err, res.Permanent = neko.ErrControlsLocked, true
		case w.host == "":
			w.setHost(self, self, false)
		default:
			res.Pending = true
			if w.host == self {
				w.tell(inRequest{From: self}) // neko notifies the host, itself
			}
		}
	case opRelease:
		if w.host == self {
			w.setHost(self, "", true)
		} else {
			res.NotHost = true // 422
		}
	case opGive:
		switch {
		case w.host != self && !admin:
			res.Err, res.Permanent = neko.ErrForbidden, true
		case w.sessions[op.e.To] == nil:
			res.Err = neko.ErrNotFound
		default:
			w.setHost(self, op.e.To, true)
		}
	case opTake:
		if !admin {
			res.Err, res.Permanent = neko.ErrNotAdmin, true
			break
		}
		if op.e.To != "" && w.host != op.e.To {
			res.Err = errors.New("control is no longer held by " + op.e.To)
			break
		}
		if w.host != "" && w.host != self && w.sessions[w.host].connected && !op.allowed {
			panic("I2: codrive took control from a person without a takeover")
		}
		w.host = "" // take broadcasts even when the caller hosts
		w.setHost(self, self, false)
	case opLock:
		before := w.settings
		if l := w.lease; l != nil {
			if l.Owner != self && w.sessions[l.Owner] != nil && w.sessions[l.Owner].connected {
				res.Declined = l.Owner
				break
			}
			before = l.Before
		}
		res.Before = &before
		if w.host != "" && w.host != self && !w.sessions[w.host].admin {
			// Locking controls clears a non-admin host (session manager).
			w.setHost(self, "", false)
		}
		w.setSettings(self, lockSettings{LockedControls: true}, &lockLease{Owner: self, Before: before, Since: w.now}, false)
	case opRestore:
		w.setSettings(self, roomlock.RestoreOnto(w.settings, op.e.Want), nil, true)
	}
	op.res = res
}

// --- codrive -----------------------------------------------------------------

// deliver runs one input through the rule as the arbiter does (apply):
// the fast gate shut around it, its steps adopted first.
func (w *sim) deliver(in input) {
	if ad, ok := w.fast.close(); ok {
		w.deliverOne(ad)
	}
	w.deliverOne(in)
	w.fast.setOpen(w.r.fastOK())
}

// deliverOne runs one input through the rule and checks the invariants on
// what it did.
func (w *sim) deliverOne(in input) {
	w.logf("→ %T%+v", in, in)
	effs := w.r.step(w.now, in)
	states := 0
	for _, e := range effs {
		switch e := e.(type) {
		case effREST:
			w.logf("  REST %s %s", e.Kind, e.To)
			if e.Kind == opRelease && !w.r.want && strings.HasPrefix(w.r.releaseReason, "automation idle") {
				if len(w.steps) > 0 || w.now.Sub(w.lastStep) < w.cfg.IdleRelease {
					panic(fmt.Sprintf("idle release %s after the last step, with %d in flight (IdleRelease %s)", w.now.Sub(w.lastStep), len(w.steps), w.cfg.IdleRelease))
				}
			}
			w.ops = append(w.ops, &simOp{e: e, owner: w.r, self: w.self, allowed: w.takeAllowed > 0})
		case effSend:
			if e.To == w.self && e.Body["codrive"] == helloSelf {
				w.tell(inHello{From: w.self, Self: true}) // neko delivers a note to oneself
			}
		case effEmit:
			w.logf("  event %s %s/%s host=%s: %s", e.Ev.Kind, e.Ev.Status.State, e.Ev.Status.Gate, e.Ev.Status.Host, e.Ev.Reason)
			if strings.Contains(e.Ev.Reason, "held a button or key pressed") {
				w.gestureGaveUp = true
			}
			if strings.Contains(e.Ev.Reason, "never reported it") && (w.lastDrop.IsZero() || w.now.Sub(w.lastDrop) > 3*reportGrace) {
				// The slow way out is for a report lost with a socket;
				// here nothing was lost, so the rule missed it.
				panic("codrive waited reportGrace for a report neko did send: " + e.Ev.Reason)
			}
			if e.Ev.Kind == EventState {
				states++
				w.checkStateEvent(in, e.Ev)
			}
		case effReply:
			w.onReply(e)
		case effWake:
			w.wakeAt = e.At
		case effShutdown:
			w.shutdown = &e
		}
	}
	w.checkStateCount(in, states)
	switch in := in.(type) {
	case inHost:
		if w.knownConn {
			w.known = in.Host
		}
		w.sawHost(in.Host)
	case inInit:
		w.known, w.knownConn = in.Host, true
		w.sawHost(in.Host)
	case inConnLost:
		w.knownConn = false
	}
}

func (w *sim) sawHost(host string) {
	if w.isPerson(host) {
		for id := range w.handoffs {
			w.handoffs[id] = true
		}
	}
}

func (w *sim) onReply(e effReply) {
	kind, ok := w.calls[e.Call]
	if !ok {
		panic(fmt.Sprintf("reply to call %d that nobody made or that was answered", e.Call))
	}
	delete(w.calls, e.Call)
	w.logf("  reply %s#%d: %v", kind, e.Call, e.Err)
	switch kind {
	case "begin":
		kind := w.pendingKind[e.Call]
		delete(w.pendingKind, e.Call)
		if e.Err == nil {
			switch {
			case kind == stepPress:
				w.presses[e.Call] = true
			case kind == stepContinue && w.rng.IntN(2) == 0:
				w.releasers[e.Call] = true
			}
			w.steps[e.Call] = true
			w.lastStep = w.now
			if w.pendingSent[e.Call] {
				w.checkI1() // the Go API's step acts at once
			} else {
				w.unsent[e.Call] = w.now // a proxied command, written later
			}
		}
		delete(w.pendingSent, e.Call)
	case "take", "acquire":
		if kind == "take" || w.cfg.Takeover {
			w.takeAllowed--
		}
	case "handoff":
		if e.Err == nil && !w.handoffs[e.Call] {
			panic("handoff answered ok, but codrive was told of no person's turn during it")
		}
		delete(w.handoffs, e.Call)
	}
}

// I1: a step starts only while codrive hosts, or while codrive cannot yet
// know that someone else took control (their event is still on its way).
func (w *sim) checkI1() {
	if w.host == w.self {
		return
	}
	pending := false
	for _, in := range w.queue {
		if _, ok := in.(inHost); ok {
			pending = true
		}
	}
	if w.byCodeOf || !pending || !w.linkUp {
		panic(fmt.Sprintf("I1: automation step started while %q hosts (codrive's own hand-over: %v, event pending: %v)", w.host, w.byCodeOf, pending))
	}
}

// I4: one state event per host change neko reports, matching it.
func (w *sim) checkStateEvent(in input, ev Event) {
	want := func(host string) {
		var st State
		switch host {
		case "":
			st = StateFree
		case w.self:
			st = StateAutomation
		default:
			st = StateHuman
			if !w.isPerson(host) {
				st = StateCodrive // an earlier codrive's session (a crash)
			}
		}
		if ev.Status.State != st || (st != StateFree && st != StateAutomation && ev.Status.Host != host) {
			panic(fmt.Sprintf("I4: state event %s host %q for a change to %q", ev.Status.State, ev.Status.Host, host))
		}
	}
	switch in := in.(type) {
	case inHost:
		want(in.Host)
	case inInit:
		want(in.Host)
	case inConnLost:
		if ev.Status.State != StateDisconnected {
			panic("I4: a drop reported as " + string(ev.Status.State))
		}
	}
}

func (w *sim) checkStateCount(in input, n int) {
	want := 0
	switch in := in.(type) {
	case inHost:
		if w.knownConn && in.Host != w.known {
			want = 1
		}
	case inInit:
		want = 1
	case inConnLost:
		if w.knownConn {
			want = 1
		}
	}
	if n != want {
		panic(fmt.Sprintf("I4: %d state events for %T%+v, want %d (codrive knew host %q)", n, in, in, want, w.known))
	}
}

// begin asks for a step: sent, a Go API step acting at once; else a
// proxied command that reaches Chromium later (sent).
func (w *sim) begin(sent bool) { w.beginKind(sent, stepCommand) }

func (w *sim) beginKind(sent bool, kind stepKindT) {
	if kind == stepCommand {
		// The arbiter's begin tries the fast gate first.
		id := w.nextCall + 1
		if w.fast.begin(id, sent, w.now) {
			w.nextCall = id
			w.logf("  fast step #%d (sent %v)", id, sent)
			w.steps[id] = true
			w.lastStep = w.now
			if sent {
				w.checkI1()
			} else {
				w.unsent[id] = w.now
			}
			return
		}
	}
	w.pendingSent[w.nextCall+1] = sent
	w.pendingKind[w.nextCall+1] = kind
	w.call("begin", func(id callID) input { return inBegin{Call: id, Sent: sent, Kind: kind} })
}

// sent: a proxied command that passed the gate reaches Chromium.
func (w *sim) sent(id callID) {
	delete(w.unsent, id)
	if w.fast.sent(id) {
		return
	}
	w.deliver(inStepSent{Call: id})
}

func (w *sim) end(id callID) {
	if _, ok := w.unsent[id]; ok {
		w.sent(id)
	}
	delete(w.presses, id)
	if w.releasers[id] {
		// The release is answered: everything pressed is let go (the
		// proxy ends the presses' steps with it).
		delete(w.releasers, id)
		for p := range w.presses {
			w.end(p)
		}
	}
	if len(w.presses) == 0 {
		w.gestureGaveUp = false
	}
	delete(w.steps, id)
	w.lastStep = w.now
	if w.fast.end(id, w.now) {
		return
	}
	w.deliver(inStepEnd{Call: id})
}

func (w *sim) call(kind string, mk func(callID) input) {
	w.nextCall++
	w.calls[w.nextCall] = kind
	if kind == "take" || (kind == "acquire" && w.cfg.Takeover) {
		w.takeAllowed++
	}
	if kind == "handoff" {
		w.handoffs[w.nextCall] = w.knownConn && w.isPerson(w.known)
	}
	w.deliver(mk(w.nextCall))
}

// --- the generator -----------------------------------------------------------

func (w *sim) run() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	for range 60 + w.rng.IntN(120) {
		w.randomAction()
		if w.shutdown != nil {
			return w.checkClosed()
		}
	}
	w.checkLiveness()
	w.call("close", func(id callID) input { return inClose{Call: id} })
	w.fair(func() bool { return w.shutdown != nil }, time.Minute, "close")
	return w.checkClosed()
}

func (w *sim) randomAction() {
	persons := []string{"p1", "p2", "adm"}
	p := persons[w.rng.IntN(len(persons))]
	switch n := w.rng.IntN(100); {
	case n < 22:
		if len(w.queue) > 0 && w.linkUp {
			w.next()
		}
	case n < 32:
		w.applySome()
	case n < 42:
		w.answerSome()
	case n < 48:
		w.personRequest(p, w.rng.IntN(2) == 0)
	case n < 53:
		if w.host == p {
			w.setHost(p, "", false)
		}
	case n < 56: // a quick turn: take and give back before codrive looks
		if w.host == "" && !(w.settings.LockedControls && !w.sessions[p].admin) {
			w.setHost(p, p, false)
			w.setHost(p, "", false)
		}
	case n < 58: // an admin moves control
		switch w.rng.IntN(3) {
		case 0:
			w.setHost("adm", []string{"p1", "p2"}[w.rng.IntN(2)], false)
		case 1:
			w.host = ""
			w.setHost("adm", "adm", false)
		default:
			if w.host != "" {
				w.setHost("adm", "", false)
			}
		}
	case n < 59: // an admin unlocks the room (a patch of locked_controls alone)
		w.baseline.LockedControls = false
		w.setSettings("adm", lockSettings{ImplicitHosting: w.settings.ImplicitHosting}, nil, false)
	case n < 66:
		w.begin(w.rng.IntN(2) == 0)
	case n < 68: // a proxied press: a click or a drag begins
		w.beginKind(false, stepPress)
	case n < 70: // a proxied move or release while something is pressed
		kind := stepCommand
		if len(w.presses) > 0 {
			kind = stepContinue
		}
		w.beginKind(false, kind)
	case n < 72:
		for id := range w.unsent {
			w.sent(id)
			break
		}
	case n < 76:
		for id := range w.steps {
			w.end(id)
			break
		}
	case n < 85:
		w.advance(time.Duration(w.rng.IntN(400)) * time.Millisecond)
	case n < 88:
		w.operator()
	case n < 90:
		for id, kind := range w.calls {
			if kind != "begin" {
				w.deliver(inCancel{Call: id, Err: errors.New("caller gave up")})
				break
			}
		}
	case n < 92:
		w.drop(false)
	case n < 94:
		w.reconnect()
	case n < 95:
		w.drop(true)
	case n < 96:
		if w.r.lockApplied && w.rng.IntN(2) == 0 {
			w.crash()
		}
	default:
		w.tick()
	}
}

func (w *sim) operator() {
	persons := []string{"p1", "p2", "adm"}
	switch w.rng.IntN(8) {
	case 0:
		w.call("acquire", func(id callID) input { return inAcquire{Call: id} })
	case 1:
		w.call("release", func(id callID) input { return inRelease{Call: id} })
	case 2:
		w.call("pause", func(id callID) input { return inPause{Call: id} })
	case 3:
		w.deliver(inResume{})
	case 4, 5:
		w.call("handoff", func(id callID) input { return inHandoff{Call: id, Reason: "captcha"} })
	case 6:
		to := persons[w.rng.IntN(3)]
		w.call("give", func(id callID) input { return inGive{Call: id, To: to} })
	default:
		w.call("take", func(id callID) input { return inTake{Call: id} })
	}
}

func (w *sim) applySome() {
	var todo []*simOp
	for _, op := range w.ops {
		if !op.applied {
			todo = append(todo, op)
		}
	}
	if len(todo) == 0 {
		return
	}
	op := todo[w.rng.IntN(len(todo))]
	if w.rng.IntN(20) == 0 && op.e.Kind != opLock && op.e.Kind != opRestore {
		// Lost on the way: neko never saw it; codrive times out.
		op.applied = true
		op.res = restResult{Op: op.e.Op, Err: neko.ErrUnreachable}
		return
	}
	w.apply(op)
}

func (w *sim) answerSome() {
	for i, op := range w.ops {
		if op.applied {
			w.ops = append(w.ops[:i], w.ops[i+1:]...)
			if op.owner == w.r {
				w.deliver(op.res)
			}
			return
		}
	}
}

func (w *sim) advance(d time.Duration) {
	// Events on a live socket take milliseconds, not seconds: whatever is
	// older than a second is delivered before time moves on.
	for len(w.queue) > 0 && w.now.Add(d).Sub(w.queuedAt[0]) > time.Second {
		w.next()
	}
	// A proxy writes a command that passed the gate within milliseconds.
	for id, at := range w.unsent {
		if w.now.Add(d).Sub(at) > sentGrace/2 {
			w.sent(id)
		}
	}
	w.now = w.now.Add(d)
	// neko's delayed disconnect: a socket dropped without a close frame
	// keeps its session (and host) for 5 s.
	for id, s := range w.sessions {
		if s.connected && !s.downAt.IsZero() && w.now.Sub(s.downAt) >= 5*time.Second {
			// The host is cleared first, then the state goes out
			// (handler/session.go SessionDisconnected).
			if w.host == id {
				w.setHost("", "", false)
			}
			s.connected, s.downAt = false, time.Time{}
			f := false
			w.tell(inSession{ID: id, Connected: &f})
		}
	}
	if !w.wakeAt.IsZero() && !w.now.Before(w.wakeAt) {
		w.tick()
	}
}

func (w *sim) tick() {
	if !w.wakeAt.IsZero() && w.now.Before(w.wakeAt) {
		w.advance(w.wakeAt.Sub(w.now)) // ticks itself
		return
	}
	w.deliver(inTick{})
}

// drop cuts codrive's socket; restart makes neko forget everything.
func (w *sim) drop(restart bool) {
	if !w.linkUp {
		return
	}
	w.linkUp, w.queue, w.queuedAt, w.lastDrop = false, nil, nil, w.now
	w.sessions[w.self].downAt = w.now
	if restart {
		w.restart = true
		w.host, w.lease = "", nil
		w.settings, w.baseline = w.initial, w.initial
		for id := range w.sessions {
			if strings.HasPrefix(id, "codrive") {
				delete(w.sessions, id)
			}
		}
		for _, op := range w.ops {
			op.applied, op.res = true, restResult{Op: op.e.Op, Err: neko.ErrUnauthorized}
		}
	}
	w.deliver(inConnLost{Reason: "neko connection lost"})
}

func (w *sim) reconnect() {
	if w.linkUp {
		return
	}
	w.linkUp = true
	if w.restart {
		w.restart = false
		w.logins++
		w.self = fmt.Sprintf("codrive%d", w.logins)
		w.sessions[w.self] = &simSession{name: "codrive", admin: w.cfg.Admin, connected: true}
		w.deliver(w.initInput(true, "reconnected to neko with a new session (neko restarted)"))
		return
	}
	s := w.sessions[w.self]
	s.downAt = time.Time{}
	if !s.connected {
		// Past neko's grace the session was disconnected, not deleted: the
		// same token connects it again.
		s.connected = true
	}
	w.deliver(w.initInput(false, "reconnected to neko"))
}

// crash kills codrive (kill -9) and starts a new one beside the room.
func (w *sim) crash() {
	w.logf("crash of %s", w.self)
	if !w.linkUp {
		return
	}
	w.sessions[w.self].downAt = w.now // its socket drops abnormally: 5 s of grace
	w.boot()
}

// fair runs everything in order (events, REST, time) until done or limit.
func (w *sim) fair(done func() bool, limit time.Duration, what string) {
	end := w.now.Add(limit)
	for !done() {
		if w.now.After(end) {
			panic(fmt.Sprintf("I3: %s did not happen within %s (state %s, gate %s, host %q)", what, limit, w.r.state(), w.r.gate(), w.host))
		}
		switch {
		case !w.linkUp:
			w.reconnect()
		case len(w.queue) > 0:
			w.next()
		case w.hasUnapplied():
			for _, op := range w.ops {
				if !op.applied {
					w.apply(op)
					break
				}
			}
		case len(w.ops) > 0:
			w.answerSome()
		default:
			d := 100 * time.Millisecond
			if !w.wakeAt.IsZero() && w.wakeAt.Sub(w.now) < d {
				d = max(w.wakeAt.Sub(w.now), 0)
			}
			w.advance(d)
		}
	}
}

func (w *sim) hasUnapplied() bool {
	for _, op := range w.ops {
		if !op.applied {
			return true
		}
	}
	return false
}

// checkLiveness (I3): once people let go and the operator resumes, an
// automation step gets the gate within a bound, whatever state the random
// run left behind.
func (w *sim) checkLiveness() {
	w.logf("liveness phase")
	for id, kind := range w.calls {
		if kind != "begin" {
			w.deliver(inCancel{Call: id, Err: errors.New("caller gave up")})
		}
	}
	// Automation's steps finish; people let go (again, if a give or a
	// yield was still on its way).
	for id := range w.steps {
		w.end(id)
	}
	for range 5 {
		for _, p := range []string{"p1", "p2", "adm"} {
			if w.host == p {
				w.setHost(p, "", false)
			}
		}
		w.fair(func() bool { return len(w.queue) == 0 && len(w.ops) == 0 && w.linkUp }, time.Minute, "quiet")
	}
	w.deliver(inResume{})
	if w.settings.LockedControls && !w.cfg.Admin {
		return // neko refuses a user control in a locked room: nothing to promise
	}
	if s := w.sessions[w.host]; s != nil && !s.connected && !w.cfg.Admin {
		return // a dead session hosts; only an admin can free it
	}
	bound := w.cfg.ReclaimAfter + w.cfg.HandoffTimeout + w.cfg.StepTimeout + 4*w.cfg.RequestInterval + reportGrace + 6*time.Second
	// Like Begin in the Arbiter: ask, and ask again after every change.
	ok, last := false, Status{}
	w.fair(func() bool {
		if s := w.r.status(); !ok && !sameStatus(s, last) {
			w.begin(true)
			ok, last = w.steps[w.nextCall], w.r.status()
		}
		return ok
	}, bound, "an automation step after everyone let go")
}

// checkClosed (I5): the room is as codrive found it, or its lock record
// says exactly how to put it back; codrive does not host.
func (w *sim) checkClosed() error {
	if w.shutdown.Err == nil && w.host == w.self {
		return errors.New("I5: closed without error, still hosting")
	}
	// The clean close: neko clears a host at once.
	if w.host == w.self {
		w.host = ""
	}
	// A lock record still in the room is how the next codrive puts it back
	// (a dead codrive's, or this one's when neko would not answer).
	eventual := w.settings
	if w.lease != nil {
		eventual = roomlock.RestoreOnto(w.settings, &w.lease.Before)
		if w.lease.Owner == w.self && w.shutdown.Err == nil {
			return fmt.Errorf("I5: closed without error, own lock record left behind: %+v", w.lease)
		}
	}
	if eventual != w.baseline {
		return fmt.Errorf("I5: settings %s after close (lease %+v, close error %v), want %s", &w.settings, w.lease, w.shutdown.Err, &w.baseline)
	}
	return nil
}
