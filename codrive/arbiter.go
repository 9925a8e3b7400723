package codrive

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/codrive/codrive/internal/pubsub"
	"github.com/codrive/codrive/internal/roomlock"
	"github.com/codrive/codrive/neko"
)

// arbiter holds codrive's neko session and decides, at every moment, whether
// automation may drive the browser. The decisions are the rule's (rule.go);
// the arbiter is its one owner: a single goroutine feeds it neko's events,
// callers' requests, REST results and wake-ups, in order, and carries out
// what it asks for. Nothing else changes its state. A Session wraps one.
type arbiter struct {
	cfg    Options
	log    *slog.Logger
	client *neko.Client
	conn   *neko.Conn
	admin  bool

	in       chan envelope
	replies  sync.Pool     // of chan error, for callNow
	quit     chan struct{} // closed when the loop has ended
	events   pubsub.Hub[Event]
	nextCall atomic.Uint64
	fast     fastGate

	// opCtx bounds every REST call; Close cancels it when its own context
	// runs out.
	opCtx    context.Context
	opCancel context.CancelFunc
	ops      sync.WaitGroup

	// Published by the loop after every input.
	mu      sync.Mutex
	status  Status
	changed chan struct{} // closed and replaced on every change
	// announced are the sessions that said they are codrive (inHello), for
	// Participants; the rule keeps its own copy.
	announced map[string]bool
	// For Stats: the rule's tallies, paused time, neko reconnects.
	tally       tally
	pausedSince time.Time // zero while not paused
	pausedTotal time.Duration
	reconnects  ReconnectCounts

	// Owned by the loop.
	rule      *rule
	calls     map[callID]chan error
	wake      *time.Timer
	reconnect *neko.ConnState // the conn/reconnected before the next system/init
	dropCause string          // what dropped the socket, for Stats.Reconnects
	closeErr  chan error
}

// envelope carries one input to the loop, with the channel its answer goes
// to, if any.
type envelope struct {
	in    input
	call  callID
	reply chan error
}

// connect logs in to neko, opens the WebSocket and starts arbitrating. It
// does not take control: Acquire does, or Begin when automation acts. cfg
// has its defaults already.
func connect(ctx context.Context, cfg Options) (*arbiter, error) {
	client, err := neko.NewClient(cfg.NekoURL, neko.Options{HTTPClient: cfg.HTTPClient, Cookies: cfg.Cookies, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	login, err := client.Login(ctx, cfg.User, cfg.Password)
	if err != nil {
		return nil, err
	}
	if cfg.Policy.rule().NeedsAdmin && !login.Profile.IsAdmin {
		_ = client.Logout(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("codrive: policy %s changes room settings and needs an admin login (user %q is not admin): %w", cfg.Policy, cfg.User, neko.ErrNotAdmin)
	}
	conn, err := client.Connect(ctx, cfg.conn)
	if err != nil {
		_ = client.Logout(context.WithoutCancel(ctx))
		return nil, err
	}
	return newArbiter(cfg, client, conn, login.Profile.IsAdmin), nil
}

func newArbiter(cfg Options, client *neko.Client, conn *neko.Conn, admin bool) *arbiter {
	a := &arbiter{
		cfg: cfg, log: cfg.Logger, client: client, conn: conn, admin: admin,
		in:       make(chan envelope, 64),
		quit:     make(chan struct{}),
		changed:  make(chan struct{}),
		calls:    map[callID]chan error{},
		closeErr: make(chan error, 1),
		rule: newRule(ruleConfig{
			Policy: cfg.Policy, Admin: admin, ReclaimAfter: cfg.ReclaimAfter, NoReclaim: cfg.NoReclaim,
			StepTimeout: cfg.StepTimeout, IdleRelease: cfg.IdleRelease, RequestInterval: cfg.requestInterval,
			HandoffTimeout: cfg.HandoffTimeout, Takeover: cfg.Takeover, User: cfg.User,
		}),
	}
	a.opCtx, a.opCancel = context.WithCancel(context.Background())
	a.wake = time.NewTimer(time.Hour)
	a.wake.Stop()
	// Subscribe before reading the room, so no event falls between the
	// two; an event already in the snapshot is then seen twice, and the
	// rule ignores a host change to the host it already has.
	evs, unsub := conn.Subscribe()
	room := conn.Room()
	a.apply(inInit{Self: room.SessionID, Host: hostOf(room.Host), Settings: roomSettingsOf(room.Settings),
		Sessions: sessionsOf(room.Sessions), Reason: "connected"})
	go func() {
		defer unsub()
		a.loop(evs)
	}()
	return a
}

// loop is the one goroutine that owns the rule.
func (a *arbiter) loop(nekoEvents <-chan neko.Event) {
	defer close(a.quit)
	for {
		select {
		case env := <-a.in:
			if env.reply != nil {
				a.calls[env.call] = env.reply
			}
			a.apply(env.in)
		case ev, ok := <-nekoEvents:
			if !ok {
				nekoEvents = nil
				continue
			}
			for _, in := range a.translate(ev) {
				a.apply(in)
			}
		case <-a.wake.C:
			a.apply(inTick{})
		case err := <-a.closeErr:
			a.finish(err)
			return
		}
	}
}

// apply runs one input through the rule and carries out its effects. The
// fast gate is shut around it: the rule first adopts the steps that passed
// it, and it opens again only if the rule says so after the input.
func (a *arbiter) apply(in input) {
	if ad, ok := a.fast.close(); ok {
		a.applyOne(ad)
	}
	a.applyOne(in)
	a.fast.setOpen(a.rule.fastOK())
}

// applyOne runs one input through the rule and carries out its effects.
// The new status and tally are published first: a caller whose call the
// step answers, or who reads an event it emits, then finds Status and Stats
// already saying so.
func (a *arbiter) applyOne(in input) {
	effs := a.rule.step(time.Now(), in)
	a.publish(a.rule.status(), a.rule.tally)
	for _, e := range effs {
		switch e := e.(type) {
		case effREST:
			a.ops.Add(1)
			go func() {
				defer a.ops.Done()
				a.post(envelope{in: a.runREST(e)})
			}()
		case effSend:
			if e.Subject == helloSubject {
				// At once: the announcement must reach neko before
				// anything this codrive does with control, so that the
				// others never see it host as a stranger.
				a.send(e)
				continue
			}
			a.ops.Add(1)
			go func() {
				defer a.ops.Done()
				a.send(e)
			}()
		case effEmit:
			ev := e.Ev
			a.log.Info("codrive "+string(ev.Kind), "state", ev.Status.State, "gate", ev.Status.Gate,
				"host", ev.Status.HostName, "actor", ev.ActorName, "reason", ev.Reason)
			a.events.Publish(ev)
		case effReply:
			if ch, ok := a.calls[e.Call]; ok {
				ch <- e.Err
				delete(a.calls, e.Call)
			}
		case effWake:
			a.wake.Stop()
			if !e.At.IsZero() {
				a.wake.Reset(max(time.Until(e.At), 0))
			}
		case effShutdown:
			a.ops.Add(1)
			go func() {
				defer a.ops.Done()
				a.shutdown(e)
			}()
		}
	}
}

// post hands an input to the loop unless it has ended.
func (a *arbiter) post(env envelope) {
	select {
	case a.in <- env:
	case <-a.quit:
	}
}

func (a *arbiter) publish(s Status, t tally) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.tally = t
	switch now := time.Now(); {
	case s.Paused && a.pausedSince.IsZero():
		a.pausedSince = now
	case !s.Paused && !a.pausedSince.IsZero():
		a.pausedTotal += now.Sub(a.pausedSince)
		a.pausedSince = time.Time{}
	}
	if sameStatus(a.status, s) {
		return
	}
	a.status = s
	close(a.changed)
	a.changed = make(chan struct{})
}

func sameStatus(x, y Status) bool {
	return x.State == y.State && x.Host == y.Host && x.HostName == y.HostName && x.Since.Equal(y.Since) &&
		x.Reason == y.Reason && x.Session == y.Session && x.Policy == y.Policy && x.Gate == y.Gate &&
		x.Paused == y.Paused && x.Handoff == y.Handoff && x.Go == y.Go && x.Steps == y.Steps &&
		x.Locked == y.Locked && slices.Equal(x.Pending, y.Pending)
}

// call sends an input that expects an answer and waits for it. When ctx
// ends first the rule is told (inCancel) and its answer returned: it may
// say more than ctx's error (a handoff says how far it got).
func (a *arbiter) call(ctx context.Context, mk func(callID) input) (callID, error) {
	id := callID(a.nextCall.Add(1))
	reply := make(chan error, 1)
	select {
	case a.in <- envelope{in: mk(id), call: id, reply: reply}:
	case <-a.quit:
		return id, ErrClosed
	case <-ctx.Done():
		return id, ctx.Err()
	}
	select {
	case err := <-reply:
		return id, err
	case <-a.quit:
		return id, ErrClosed
	case <-ctx.Done():
	}
	a.post(envelope{in: inCancel{Call: id, Err: ctx.Err()}})
	select {
	case err := <-reply:
		return id, err
	case <-a.quit:
		return id, ErrClosed
	}
}

// callNow is call for an input the rule answers in the same step (Begin):
// it needs no context, and an ended one must not stop it from asking.
// Its reply channels are reused: it runs for every proxied command.
func (a *arbiter) callNow(mk func(callID) input) (callID, error) {
	id := callID(a.nextCall.Add(1))
	reply, _ := a.replies.Get().(chan error)
	if reply == nil {
		reply = make(chan error, 1)
	}
	select {
	case a.in <- envelope{in: mk(id), call: id, reply: reply}:
	case <-a.quit:
		return id, ErrClosed
	}
	select {
	case err := <-reply:
		a.replies.Put(reply)
		return id, err
	case <-a.quit:
		return id, ErrClosed
	}
}

// --- neko events as the rule's inputs ----------------------------------------

func (a *arbiter) translate(ev neko.Event) []input {
	switch p := ev.Payload.(type) {
	case *neko.SystemInit:
		in := inInit{Self: p.SessionID, Host: hostOf(p.ControlHost), Settings: roomSettingsOf(p.Settings),
			Sessions: sessionsOf(p.Sessions), Reason: "reconnected to neko"}
		if rc := a.reconnect; rc != nil {
			a.reconnect = nil
			if rc.Relogin {
				in.Relogin = true
				in.Reason = "reconnected to neko with a new session (neko restarted)"
			}
		}
		return []input{in}
	case *neko.ControlHost:
		return []input{inHost{Actor: p.ID, Host: hostOf(*p)}}
	case *neko.SessionID:
		switch ev.Name {
		case neko.EventControlRequest:
			return []input{inRequest{From: p.ID}}
		case neko.EventSessionDeleted:
			a.mu.Lock()
			delete(a.announced, p.ID)
			a.mu.Unlock()
			return []input{inSession{ID: p.ID, Deleted: true}}
		}
	case *neko.SystemSettingsUpdate:
		return []input{inSettings{Actor: p.ID, Settings: roomSettingsOf(p.Settings)}}
	case *neko.SendBroadcast:
		if p.Subject == helloSubject {
			return a.hello(p.Sender, p.Body)
		}
	case *neko.SendUnicast:
		if p.Subject == helloSubject {
			return a.hello(p.Sender, p.Body)
		}
	case *neko.SessionData:
		c := p.State.IsConnected
		return []input{inSession{ID: p.ID, Name: p.Profile.Name, Connected: &c}}
	case *neko.SessionProfileUpdate:
		return []input{inSession{ID: p.ID, Name: p.Name}}
	case *neko.SessionStateUpdate:
		c := p.IsConnected
		return []input{inSession{ID: p.ID, Connected: &c}}
	case *neko.ConnState:
		switch ev.Name {
		case neko.EventReconnecting:
			if p.Attempt == 1 {
				a.dropCause = dropCause(p)
			}
			return []input{inConnLost{Reason: describeConnState("reconnecting to neko", p), Attempt: p.Attempt}}
		case neko.EventReconnected:
			a.reconnect = p
			a.countReconnect(p.Relogin)
		case neko.EventClosed:
			return []input{inConnEnded{Reason: describeConnState("neko connection closed", p)}}
		}
	}
	return nil
}

func (a *arbiter) hello(from string, body []byte) []input {
	a.mu.Lock()
	if a.announced == nil {
		a.announced = map[string]bool{}
	}
	a.announced[from] = true
	a.mu.Unlock()
	word := helloWord(body)
	return []input{inHello{From: from, Answer: word == helloAnswer, Self: word == helloSelf}}
}

// isCodrive: the session is another codrive (see StateCodrive), for
// Participants.
func (a *arbiter) isCodrive(s neko.SessionData, self string) bool {
	if s.ID == self {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.announced[s.ID] || s.Profile.Name == a.cfg.User
}

// helloWord reads the word of a codrive announcement ("hello" or "here").
func helloWord(body []byte) string {
	var b struct {
		Codrive string `json:"codrive"`
	}
	_ = json.Unmarshal(body, &b)
	return b.Codrive
}

func hostOf(c neko.ControlHost) string {
	if !c.HasHost {
		return ""
	}
	return c.HostID
}

func sessionsOf(m map[string]neko.SessionData) []sessionInfo {
	out := make([]sessionInfo, 0, len(m))
	for id, s := range m {
		out = append(out, sessionInfo{ID: id, Name: s.Profile.Name, Connected: s.State.IsConnected})
	}
	return out
}

func describeConnState(prefix string, cs *neko.ConnState) string {
	s := prefix
	if errors.Is(cs.Err, neko.ErrStaleAttempt) {
		s += ": " + cs.Err.Error()
	} else if cs.Reason != "" {
		s += ": " + cs.Reason
	} else if cs.Err != nil {
		s += ": " + cs.Err.Error()
	}
	if cs.Attempt > 0 {
		s += fmt.Sprintf(" (attempt %d)", cs.Attempt)
	}
	return s
}

// --- Effects -----------------------------------------------------------------

func (a *arbiter) runREST(e effREST) restResult {
	ctx, cancel := context.WithTimeout(a.opCtx, a.cfg.opTimeout)
	defer cancel()
	res := restResult{Op: e.Op}
	switch e.Kind {
	case opRequest:
		var r neko.RequestResult
		r, res.Err = a.client.RequestControl(ctx)
		res.Pending = res.Err == nil && r == neko.ControlPending
	case opRelease:
		res.Err = a.client.ReleaseControl(ctx)
		if errors.Is(res.Err, neko.ErrNotHost) {
			res.Err, res.NotHost = nil, true // what a release wants is already so
		}
	case opGive:
		res.Err = a.client.GiveControl(ctx, e.To)
	case opTake:
		if e.To != "" {
			// Only from a session without a socket. neko has no
			// compare-and-set: a person taking control in the round trip
			// between these two calls would lose it.
			st, err := a.client.ControlStatus(ctx)
			if err != nil || !st.HasHost || st.HostID != e.To {
				res.Err = errors.Join(err, fmt.Errorf("control is no longer held by %s", e.To))
				break
			}
		}
		res.Err = a.client.TakeControl(ctx)
	case opLock:
		res.Before, res.Declined, res.Err = roomlock.Lock(ctx, a.client, e.Self, a.cfg.User, time.Now())
	case opRestore:
		res.Err = roomlock.Restore(ctx, a.client, e.Want)
	}
	res.Permanent = errors.Is(res.Err, neko.ErrForbidden) || errors.Is(res.Err, neko.ErrNotAdmin) ||
		errors.Is(res.Err, neko.ErrControlsLocked) || errors.Is(res.Err, neko.ErrUnauthorized)
	return res
}

func (a *arbiter) send(e effSend) {
	subject := cmp.Or(e.Subject, "codrive")
	var err error
	if e.To == "" {
		err = a.conn.SendBroadcast(subject, e.Body)
	} else {
		err = a.conn.SendUnicast(e.To, subject, e.Body)
	}
	// neko's web client shows no send/* message to people; its chat panel
	// shows chat/message (server/internal/plugins/chat/manager.go relays it
	// to every session allowed to receive), so what people must read goes
	// there too when the plugin is on.
	if e.Chat != "" && a.conn.Room().Chat {
		err = errors.Join(err, a.conn.SendChat(e.Chat))
	}
	if err != nil && subject != helloSubject {
		a.log.Warn("codrive: could not tell viewers why control moved", "err", err)
	}
}

// shutdown closes the socket cleanly (neko clears a host at once on a normal
// close, instead of after its 5 s grace) and logs out, once the rule has
// undone what codrive changed.
func (a *arbiter) shutdown(e effShutdown) {
	errs := []error{e.Err}
	if err := a.conn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close neko socket: %w", err))
	}
	ctx, cancel := context.WithTimeout(a.opCtx, a.cfg.opTimeout)
	defer cancel()
	if err := a.client.Logout(ctx); err != nil && !errors.Is(err, neko.ErrUnauthorized) {
		errs = append(errs, fmt.Errorf("logout: %w", err))
	}
	a.closeErr <- errors.Join(errs...)
}

// finish ends the loop: the Close caller gets its answer, pending calls get
// ErrClosed, and subscribers see their channels close.
func (a *arbiter) finish(err error) {
	a.wake.Stop()
	a.opCancel()
	for id, ch := range a.calls {
		if id == a.rule.closeCall {
			ch <- err
		} else {
			ch <- ErrClosed
		}
		delete(a.calls, id)
	}
	a.events.Close()
}
