// Package codrive arbitrates host control of one browser between automation
// (scripts speaking CDP) and people (neko viewers). The Arbiter holds a neko
// session, derives who drives from neko's own events, applies a policy when a
// person asks for control, and exposes a gate that automation passes before
// it acts.
package codrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/codrive/codrive/internal/pubsub"
	"github.com/codrive/codrive/neko"
)

// Config configures an Arbiter. Only NekoURL, User and Password are
// required.
type Config struct {
	NekoURL  string
	User     string
	Password string
	// Cookies logs in in neko's cookie mode (session.cookie.enabled).
	Cookies bool

	Policy Policy
	// ReclaimAfter is how long the room must stay without a host, after a
	// person released it, before automation takes control back. Default 2s.
	ReclaimAfter time.Duration
	// NoReclaim leaves control with people once automation yielded, until
	// Resume or Acquire.
	NoReclaim bool
	// StepTimeout bounds how long finish-step waits for the step in flight.
	// Default 30s.
	StepTimeout time.Duration
	// IdleRelease releases control after this long without automation
	// activity; 0 never releases.
	IdleRelease time.Duration
	// RequestInterval is how often Acquire repeats its request to a person
	// who holds control, and how soon a failed request is retried.
	// Default 5s.
	RequestInterval time.Duration
	// Takeover lets Acquire take control from a person (admin login only).
	Takeover bool
	// OpTimeout bounds each REST call codrive makes on its own. Default 10s.
	OpTimeout time.Duration
	// Conn tunes the neko WebSocket (reconnect backoff, liveness).
	Conn neko.ConnOptions
	// HTTPClient is used for neko's REST API; nil uses the neko default.
	HTTPClient *neko.Options
	Logger     *slog.Logger
}

func (c *Config) defaults() error {
	if c.NekoURL == "" {
		return errors.New("codrive: neko URL is required")
	}
	if c.User == "" {
		return errors.New("codrive: neko user is required")
	}
	if c.Policy == "" {
		c.Policy = PolicyYield
	}
	if _, err := ParsePolicy(string(c.Policy)); err != nil {
		return fmt.Errorf("codrive: %w", err)
	}
	if c.ReclaimAfter == 0 {
		c.ReclaimAfter = 2 * time.Second
	}
	if c.StepTimeout == 0 {
		c.StepTimeout = 30 * time.Second
	}
	if c.RequestInterval == 0 {
		c.RequestInterval = 5 * time.Second
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Conn.Logger == nil {
		c.Conn.Logger = c.Logger
	}
	return nil
}

// ErrClosed is returned by calls on an Arbiter that is closing or closed.
var ErrClosed = errors.New("codrive: arbiter closed")

// Arbiter holds codrive's neko session and decides, at every moment, whether
// automation may drive the browser.
type Arbiter struct {
	cfg    Config
	log    *slog.Logger
	client *neko.Client
	conn   *neko.Conn
	admin  bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events pubsub.Hub[Event]

	// settingsMu serialises lock/restore of room settings, which span
	// several REST calls.
	settingsMu sync.Mutex

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	status  Status        // State, Host, HostName, Since, Reason, Session
	paused  bool
	handoff string
	// yielding closes the gate while codrive hands control to a person,
	// from the moment the request arrives until the host has moved.
	yielding bool
	closing  bool
	// wantHost is the demand for control: set by Wait and Acquire, cleared
	// by Release, idle release, and Close.
	wantHost bool
	// humanHad is set when a person took control from automation (or got it
	// by a yield); with NoReclaim it stops automatic reclaiming.
	humanHad bool
	// humanTurns counts every time a person became host, so a waiter can
	// tell "a person took control since then" even if they already let go.
	humanTurns     int
	freeAfterHuman bool
	freeSince      time.Time
	requesting     bool
	inflight       int
	lastActive     time.Time
	lockApplied    bool
	saved          *savedSettings
	pending        map[string]PendingRequest
	nextReason     string
	lastErr        error
	reclaimTimer   *time.Timer
	idleTimer      *time.Timer
	retryTimer     *time.Timer
}

type savedSettings struct {
	LockedControls  bool
	ImplicitHosting bool
}

// Connect logs in to neko, opens the WebSocket and starts arbitrating. It
// does not take control: call Acquire, or Wait before each action.
func Connect(ctx context.Context, cfg Config) (*Arbiter, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var opts neko.Options
	if cfg.HTTPClient != nil {
		opts = *cfg.HTTPClient
	}
	opts.Cookies = cfg.Cookies
	if opts.Logger == nil {
		opts.Logger = cfg.Logger
	}
	client, err := neko.NewClient(cfg.NekoURL, opts)
	if err != nil {
		return nil, err
	}
	login, err := client.Login(ctx, cfg.User, cfg.Password)
	if err != nil {
		return nil, err
	}
	if cfg.Policy == PolicyLocked && !login.Profile.IsAdmin {
		_ = client.Logout(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("codrive: policy locked changes room settings and needs an admin login; user %q is not admin", cfg.User)
	}
	conn, err := client.Connect(ctx, cfg.Conn)
	if err != nil {
		_ = client.Logout(context.WithoutCancel(ctx))
		return nil, err
	}
	a := newArbiter(cfg, client, conn, login.Profile.IsAdmin)
	return a, nil
}

func newArbiter(cfg Config, client *neko.Client, conn *neko.Conn, admin bool) *Arbiter {
	ctx, cancel := context.WithCancel(context.Background())
	a := &Arbiter{
		cfg:     cfg,
		log:     cfg.Logger,
		client:  client,
		conn:    conn,
		admin:   admin,
		ctx:     ctx,
		cancel:  cancel,
		changed: make(chan struct{}),
		pending: map[string]PendingRequest{},
	}
	a.status.Policy = cfg.Policy
	// Subscribe before reading the room, so no event falls between the two.
	evs, unsub := conn.Subscribe()
	a.mu.Lock()
	a.refreshLocked("connected")
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer unsub()
		a.loop(evs)
	}()
	return a
}

// Client is the REST client of codrive's neko session.
func (a *Arbiter) Client() *neko.Client { return a.client }

// Conn is codrive's neko WebSocket.
func (a *Arbiter) Conn() *neko.Conn { return a.conn }

// Admin reports whether codrive logged in as a neko admin.
func (a *Arbiter) Admin() bool { return a.admin }

// Subscribe delivers every arbitration event from now on, in order. The
// channel closes when the Arbiter closes or cancel is called.
func (a *Arbiter) Subscribe() (<-chan Event, func()) { return a.events.Subscribe() }

// Status returns the current arbitration state.
func (a *Arbiter) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.statusLocked()
}

func (a *Arbiter) statusLocked() Status {
	s := a.status
	s.Policy = a.cfg.Policy
	s.Paused = a.paused || a.handoff != ""
	s.Handoff = a.handoff
	s.Go = a.gateOpenLocked()
	s.Locked = a.lockApplied
	s.Pending = nil
	for _, p := range a.pending {
		s.Pending = append(s.Pending, p)
	}
	sortPending(s.Pending)
	return s
}

func (a *Arbiter) gateOpenLocked() bool {
	return a.status.State == StateAutomation && !a.paused && a.handoff == "" && !a.yielding && !a.closing
}

func (a *Arbiter) notifyLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *Arbiter) emitLocked(kind, actor, reason string) {
	ev := Event{
		Time:      time.Now(),
		Kind:      kind,
		Actor:     actor,
		ActorName: a.nameLocked(actor),
		Reason:    reason,
		Status:    a.statusLocked(),
	}
	a.log.Info("codrive "+kind, "state", ev.Status.State, "host", ev.Status.HostName, "actor", ev.ActorName, "reason", reason)
	a.events.Publish(ev)
}

func (a *Arbiter) nameLocked(id string) string {
	if id == "" {
		return ""
	}
	return sessionName(a.conn.Room(), id)
}

// loop applies neko's events in order.
func (a *Arbiter) loop(evs <-chan neko.Event) {
	for ev := range evs {
		a.handle(ev)
	}
}

func (a *Arbiter) handle(ev neko.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch ev.Name {
	case neko.EventControlRequest:
		a.refreshLocked("")
		if p, ok := ev.Payload.(*neko.SessionID); ok {
			a.onRequestLocked(p.ID)
		}
		return
	case neko.EventReconnecting:
		reason := "neko connection lost"
		if cs, ok := ev.Payload.(*neko.ConnState); ok {
			reason = describeConnState("reconnecting to neko", cs)
		}
		a.refreshLocked(reason)
		a.emitLocked("connection", "", reason)
		return
	case neko.EventReconnected:
		reason := "reconnected to neko"
		if cs, ok := ev.Payload.(*neko.ConnState); ok && cs.Relogin {
			reason = "reconnected to neko with a new session (neko restarted)"
		}
		a.onReconnectedLocked()
		a.refreshLocked(reason)
		a.emitLocked("connection", "", reason)
		a.maybeAcquireLocked()
		return
	case neko.EventClosed:
		reason := "neko connection closed"
		if cs, ok := ev.Payload.(*neko.ConnState); ok {
			reason = describeConnState("neko connection closed", cs)
		}
		a.refreshLocked(reason)
		if !a.closing {
			a.emitLocked("error", "", reason)
		}
		return
	case neko.EventSystemDisconnect:
		if p, ok := ev.Payload.(*neko.SystemDisconnect); ok {
			a.emitLocked("connection", "", "neko disconnected codrive: "+p.Message)
		}
	case neko.EventSystemSettings:
		a.onSettingsLocked(ev)
	case neko.EventControlHost:
		// Counted from the event, not the snapshot: the snapshot may
		// already be past a person's quick take-and-release.
		// a.status.Session is current: every event refreshes it, and a
		// new socket's system/init comes before its control/host.
		if p, ok := ev.Payload.(*neko.ControlHost); ok && p.HasHost && p.HostID != a.status.Session {
			a.humanTurns++
			a.notifyLocked()
		}
	}
	a.refreshLocked("")
}

func describeConnState(prefix string, cs *neko.ConnState) string {
	s := prefix
	if cs.Reason != "" {
		s += ": " + cs.Reason
	} else if cs.Err != nil {
		s += ": " + cs.Err.Error()
	}
	if cs.Attempt > 0 {
		s += fmt.Sprintf(" (attempt %d)", cs.Attempt)
	}
	return s
}

// refreshLocked re-derives the state from the room snapshot and, when who
// hosts changed, records it with its actor and reason.
func (a *Arbiter) refreshLocked(reason string) {
	room := a.conn.Room()
	st, host, name := derive(room)
	a.status.Session = room.SessionID
	if st == a.status.State && host == a.status.Host {
		if name != a.status.HostName {
			a.status.HostName = name
		}
		return
	}
	old, oldHost := a.status.State, a.status.Host
	// The room snapshot may already be ahead of the event being handled
	// (neko.Conn updates it before delivering), so the actor and reason come
	// from the snapshot's own record of the last host change.
	actor := room.Host.ID
	if reason == "" {
		reason = a.reasonLocked(room, &room.Host, oldHost)
	}
	if a.nextReason != "" && st != StateAutomation {
		reason = a.nextReason
	}
	a.nextReason = ""
	a.status.State, a.status.Host, a.status.HostName = st, host, name
	a.status.Since = time.Now()
	a.status.Reason = reason
	if st != StateAutomation {
		a.yielding = false
	}
	if len(a.pending) > 0 {
		clear(a.pending)
	}
	if st == StateFree {
		a.freeSince = time.Now()
		a.freeAfterHuman = old == StateHuman
	}
	if st == StateHuman && old == StateAutomation {
		a.humanHad = true
	}
	a.notifyLocked()
	a.emitLocked("state", actor, reason)

	if st == StateAutomation || old == StateAutomation {
		a.kickLocked(a.syncLock)
	}
	if st == StateAutomation {
		a.lastActive = time.Now()
		a.armIdleLocked()
	}
	if st == StateFree {
		a.maybeAcquireLocked()
	}
}

func (a *Arbiter) reasonLocked(room neko.Room, c *neko.ControlHost, oldHost string) string {
	if c == nil {
		return "connected"
	}
	actor := describeHost(c.ID, sessionName(room, c.ID))
	switch {
	case !c.HasHost && c.ID == "":
		return "host disconnected"
	case !c.HasHost && c.ID == oldHost:
		return "released by " + actor
	case !c.HasHost:
		return "reset by " + actor
	case c.ID == "" || c.ID == c.HostID:
		return describeHost(c.HostID, sessionName(room, c.HostID)) + " took control"
	default:
		return fmt.Sprintf("given to %s by %s", describeHost(c.HostID, sessionName(room, c.HostID)), actor)
	}
}

// kickLocked runs f in a tracked goroutine with the Arbiter's lifetime.
func (a *Arbiter) kickLocked(f func(ctx context.Context)) {
	if a.ctx.Err() != nil {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.ctx)
	}()
}

// onRequestLocked applies the policy to a person's request for control.
func (a *Arbiter) onRequestLocked(id string) {
	// neko echoes a REST request from the host itself back to the host.
	if id == "" || id == a.status.Session || a.closing {
		return
	}
	if a.status.State != StateAutomation {
		return
	}
	name := a.nameLocked(id)
	switch a.cfg.Policy {
	case PolicyYield, PolicyFinishStep:
		if a.yielding {
			a.emitLocked("request", id, fmt.Sprintf("%s asked for control; already yielding", describeHost(id, name)))
			return
		}
		// Close the gate now, before the host moves: from here on no new
		// automation step starts.
		a.yielding = true
		a.nextReason = fmt.Sprintf("%s asked for control (policy %s)", describeHost(id, name), a.cfg.Policy)
		a.notifyLocked()
		a.emitLocked("request", id, fmt.Sprintf("%s asked for control: pausing automation (policy %s)", describeHost(id, name), a.cfg.Policy))
		a.kickLocked(func(ctx context.Context) { a.yieldTo(ctx, id) })
	default:
		if _, ok := a.pending[id]; ok {
			// neko turns every input event of a non-host into a request
			// (handler/control.go controlMove → controlRequest): answer
			// once per person and host change, not once per mouse move.
			return
		}
		a.pending[id] = PendingRequest{ID: id, Name: name, Since: time.Now()}
		a.notifyLocked()
		msg := a.holdMessageLocked()
		a.emitLocked("request", id, fmt.Sprintf("%s asked for control: kept by automation (policy %s)", describeHost(id, name), a.cfg.Policy))
		a.kickLocked(func(ctx context.Context) {
			if err := a.conn.SendUnicast(id, "codrive", map[string]any{"message": msg, "policy": string(a.cfg.Policy)}); err != nil {
				a.log.Warn("codrive: could not tell the requester why control is kept", "err", err)
			}
		})
	}
}

func (a *Arbiter) holdMessageLocked() string {
	msg := "codrive: automation is running and keeps control"
	if a.cfg.Policy == PolicyLocked {
		msg = "codrive: automation is running; controls are locked until it finishes"
	}
	if a.cfg.IdleRelease > 0 {
		msg += fmt.Sprintf("; it releases control after %s without activity", a.cfg.IdleRelease)
	}
	return msg
}

// yieldTo hands control to the person who asked for it.
func (a *Arbiter) yieldTo(ctx context.Context, id string) {
	if a.cfg.Policy == PolicyFinishStep {
		a.mu.Lock()
		if n := a.inflight; n > 0 {
			a.emitLocked("yield", id, fmt.Sprintf("waiting for %d automation step(s) in flight before yielding to %s", n, describeHost(id, a.nameLocked(id))))
		}
		a.mu.Unlock()
		if err := a.waitSteps(ctx, a.cfg.StepTimeout); err != nil {
			a.mu.Lock()
			a.emitLocked("error", "", fmt.Sprintf("step in flight did not finish within %s; yielding anyway", a.cfg.StepTimeout))
			a.mu.Unlock()
		}
	}
	octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
	defer cancel()
	if err := a.client.GiveControl(octx, id); err != nil {
		a.mu.Lock()
		a.yielding = false
		a.nextReason = ""
		a.lastErr = err
		a.notifyLocked()
		a.emitLocked("error", id, "could not give control: "+err.Error())
		a.mu.Unlock()
	}
}

// waitSteps waits until no automation step is in flight, at most d.
func (a *Arbiter) waitSteps(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		a.mu.Lock()
		n, ch := a.inflight, a.changed
		a.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return fmt.Errorf("%d step(s) still running", n)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// maybeAcquireLocked requests control when automation wants it and the room
// is free, after the reclaim delay when a person just released.
func (a *Arbiter) maybeAcquireLocked() {
	if !a.wantHost || a.paused || a.handoff != "" || a.closing || a.requesting || a.status.State != StateFree {
		return
	}
	if a.humanHad && a.cfg.NoReclaim {
		return
	}
	if a.freeAfterHuman {
		if wait := a.cfg.ReclaimAfter - time.Since(a.freeSince); wait > 0 {
			a.setTimerLocked(&a.reclaimTimer, wait)
			return
		}
	}
	a.requesting = true
	a.kickLocked(a.requestControl)
}

// setTimerLocked (re)arms t to run maybeAcquire after d.
func (a *Arbiter) setTimerLocked(t **time.Timer, d time.Duration) {
	if *t != nil {
		(*t).Stop()
	}
	*t = time.AfterFunc(d, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.maybeAcquireLocked()
	})
}

func (a *Arbiter) requestControl(ctx context.Context) {
	octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
	defer cancel()
	a.mu.Lock()
	ch := a.changed
	a.mu.Unlock()
	res, err := a.client.RequestControl(octx)
	if err == nil && res == neko.ControlGranted {
		// neko broadcasts control/host before it answers; wait for it so a
		// second request does not go out in between (neko would echo it).
		select {
		case <-ch:
		case <-octx.Done():
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requesting = false
	if err != nil {
		a.lastErr = err
		a.emitLocked("error", "", "could not request control: "+err.Error())
		if !a.closing {
			a.setTimerLocked(&a.retryTimer, a.cfg.RequestInterval)
		}
		return
	}
	a.lastErr = nil
	a.maybeAcquireLocked()
}

// Wait blocks until automation may act: codrive hosts and nothing paused
// it. If nobody hosts it asks for control. It never takes control from a
// person; it returns an error naming who holds control when ctx ends.
func (a *Arbiter) Wait(ctx context.Context) error {
	for {
		a.mu.Lock()
		if a.closing {
			a.mu.Unlock()
			return ErrClosed
		}
		if a.gateOpenLocked() {
			a.mu.Unlock()
			return nil
		}
		if !a.paused && a.handoff == "" {
			a.wantHost = true
			a.maybeAcquireLocked()
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return a.waitError(ctx.Err())
		}
	}
}

// Begin waits like Wait and then counts an automation step in flight until
// the returned func is called. Policy finish-step waits for such steps
// before it yields.
func (a *Arbiter) Begin(ctx context.Context) (func(), error) {
	for {
		if err := a.Wait(ctx); err != nil {
			return nil, err
		}
		a.mu.Lock()
		if a.gateOpenLocked() {
			end := a.stepStartedLocked()
			a.mu.Unlock()
			return end, nil
		}
		a.mu.Unlock()
	}
}

// StepStarted counts an automation step that has already passed the gate
// (the CDP proxy's acting commands, from forwarding to Chromium's answer)
// until the returned func is called. Policy finish-step waits for it.
func (a *Arbiter) StepStarted() func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stepStartedLocked()
}

func (a *Arbiter) stepStartedLocked() func() {
	a.inflight++
	a.lastActive = time.Now()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			a.inflight--
			a.lastActive = time.Now()
			a.armIdleLocked()
			a.notifyLocked()
			a.mu.Unlock()
		})
	}
}

// Do runs step as one automation step: after Wait, counted for finish-step.
func (a *Arbiter) Do(ctx context.Context, step func(ctx context.Context) error) error {
	end, err := a.Begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	return step(ctx)
}

// Touch records automation activity, postponing the idle release.
func (a *Arbiter) Touch() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastActive = time.Now()
	a.armIdleLocked()
}

func (a *Arbiter) armIdleLocked() {
	if a.cfg.IdleRelease <= 0 || a.closing {
		return
	}
	if a.idleTimer != nil {
		a.idleTimer.Stop()
	}
	a.idleTimer = time.AfterFunc(a.cfg.IdleRelease, a.idleFired)
}

func (a *Arbiter) idleFired() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.status.State != StateAutomation || a.inflight > 0 || a.handoff != "" || a.closing {
		return
	}
	if idle := time.Since(a.lastActive); idle < a.cfg.IdleRelease {
		a.armIdleLocked()
		return
	}
	a.wantHost = false
	a.nextReason = fmt.Sprintf("automation idle for %s: released", a.cfg.IdleRelease)
	a.kickLocked(func(ctx context.Context) { _ = a.release(ctx) })
}

func (a *Arbiter) waitError(err error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.status
	switch {
	case a.closing:
		return ErrClosed
	case a.handoff != "":
		return fmt.Errorf("waiting for control: handoff in progress (%s): %w", a.handoff, err)
	case a.paused:
		return fmt.Errorf("waiting for control: automation is paused: %w", err)
	case s.State == StateHuman:
		return fmt.Errorf("waiting for control: held by %s since %s: %w", describeHost(s.Host, s.HostName), s.Since.Format("15:04:05"), err)
	case s.State == StateDisconnected:
		return fmt.Errorf("waiting for control: not connected to neko: %w", err)
	case a.lastErr != nil:
		return fmt.Errorf("waiting for control: %v: %w", a.lastErr, err)
	default:
		return fmt.Errorf("waiting for control (%s): %w", s.State, err)
	}
}

// Acquire makes codrive the host. If nobody hosts it requests control. If a
// person hosts it does not steal: their client is sent control requests, at
// RequestInterval, until they release or ctx ends; with Takeover and an admin
// login it takes control instead.
func (a *Arbiter) Acquire(ctx context.Context) error {
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return ErrClosed
	}
	a.wantHost = true
	a.humanHad = false
	// An explicit acquire needs no reclaim grace.
	a.freeAfterHuman = false
	a.mu.Unlock()
	var lastAsk time.Time
	for {
		a.mu.Lock()
		st := a.status.State
		ch := a.changed
		a.mu.Unlock()
		switch st {
		case StateAutomation:
			return nil
		case StateFree:
			a.mu.Lock()
			a.maybeAcquireLocked()
			a.mu.Unlock()
		case StateHuman:
			if a.cfg.Takeover && a.admin {
				octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
				a.mu.Lock()
				a.nextReason = ""
				a.mu.Unlock()
				err := a.client.TakeControl(octx)
				cancel()
				if err != nil {
					return fmt.Errorf("take control: %w", err)
				}
			} else if time.Since(lastAsk) >= a.cfg.RequestInterval {
				lastAsk = time.Now()
				octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
				_, err := a.client.RequestControl(octx)
				cancel()
				if err != nil && ctx.Err() == nil {
					return fmt.Errorf("request control: %w", err)
				}
			}
		}
		wait := a.cfg.RequestInterval
		if !lastAsk.IsZero() {
			wait = time.Until(lastAsk.Add(a.cfg.RequestInterval))
		}
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return a.waitError(ctx.Err())
		case <-a.ctx.Done():
			t.Stop()
			return ErrClosed
		}
		t.Stop()
	}
}

// Release gives control back to the room (if codrive hosts) and drops the
// demand for it: automation will not take it again until Wait or Acquire.
func (a *Arbiter) Release(ctx context.Context) error {
	a.mu.Lock()
	a.wantHost = false
	a.mu.Unlock()
	return a.release(ctx)
}

// release restores locked settings and releases control if codrive hosts.
func (a *Arbiter) release(ctx context.Context) error {
	var errs []error
	if err := a.restoreLock(ctx); err != nil {
		errs = append(errs, err)
	}
	if a.conn.IsHost() {
		octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
		err := a.client.ReleaseControl(octx)
		cancel()
		if err != nil && !errors.Is(err, neko.ErrNotHost) {
			errs = append(errs, fmt.Errorf("release control: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Pause stops automation for the operator: the gate closes and, if codrive
// hosts, control is released so a person can take it.
func (a *Arbiter) Pause(ctx context.Context) error {
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return ErrClosed
	}
	a.paused = true
	a.nextReason = "automation paused by the operator"
	a.notifyLocked()
	a.emitLocked("pause", "", "automation paused by the operator")
	a.mu.Unlock()
	return a.release(ctx)
}

// Resume undoes Pause: automation takes control again when it needs it.
func (a *Arbiter) Resume() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.paused = false
	a.humanHad = false
	a.freeAfterHuman = false
	a.notifyLocked()
	a.emitLocked("resume", "", "automation resumed by the operator")
	a.maybeAcquireLocked()
}

// Handoff asks a person for help: codrive unlocks the room if it locked it,
// releases control, tells every viewer why (send/broadcast, subject
// "codrive"), and returns when a person has taken control and released it
// again, or when ctx ends. Automation then takes control back.
func (a *Arbiter) Handoff(ctx context.Context, reason string) error {
	if reason == "" {
		reason = "automation needs a person"
	}
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return ErrClosed
	}
	if a.handoff != "" {
		cur := a.handoff
		a.mu.Unlock()
		return fmt.Errorf("codrive: a handoff is already in progress (%s)", cur)
	}
	a.handoff = reason
	a.nextReason = "handoff: " + reason
	turns := a.humanTurns
	if a.status.State == StateHuman {
		// A person already hosts: their turn is the one we wait out.
		turns--
	}
	a.notifyLocked()
	a.emitLocked("handoff", "", "handoff started: "+reason)
	a.mu.Unlock()

	defer func() {
		a.mu.Lock()
		a.handoff = ""
		// The person released on purpose: take control back at once.
		a.freeAfterHuman = false
		a.humanHad = false
		a.notifyLocked()
		a.emitLocked("handoff", "", "handoff ended: "+reason)
		a.maybeAcquireLocked()
		a.mu.Unlock()
	}()

	if err := a.conn.SendBroadcast("codrive", map[string]any{
		"reason":  reason,
		"message": "codrive: automation needs a person: " + reason + ". Take control, then release it when done.",
	}); err != nil {
		a.log.Warn("codrive: could not broadcast the handoff", "err", err)
	}
	if err := a.release(ctx); err != nil {
		return fmt.Errorf("handoff: %w", err)
	}
	// Count turns rather than sample the state: a person may take control
	// and release it again before this goroutine looks.
	if err := a.waitLocked(ctx, func() bool { return a.humanTurns > turns }); err != nil {
		return fmt.Errorf("handoff (%s): no person took control: %w", reason, err)
	}
	if err := a.waitLocked(ctx, func() bool { return a.status.State == StateFree || a.status.State == StateAutomation }); err != nil {
		return fmt.Errorf("handoff (%s): the person still holds control: %w", reason, err)
	}
	return nil
}

// waitLocked waits until ok, which runs with a.mu held, is true.
func (a *Arbiter) waitLocked(ctx context.Context, ok func() bool) error {
	for {
		a.mu.Lock()
		done, ch, closing := ok(), a.changed, a.closing
		a.mu.Unlock()
		if closing {
			return ErrClosed
		}
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitState blocks until the state satisfies ok or ctx ends.
func (a *Arbiter) WaitState(ctx context.Context, ok func(Status) bool) (Status, error) {
	for {
		a.mu.Lock()
		s, ch := a.statusLocked(), a.changed
		a.mu.Unlock()
		if ok(s) {
			return s, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
}

// Close releases control if codrive holds it, restores every room setting
// it changed, closes the socket with a normal close (so neko clears the host
// at once rather than after its 5 s grace) and logs out. ctx bounds it.
func (a *Arbiter) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return nil
	}
	a.closing = true
	a.wantHost = false
	for _, t := range []*time.Timer{a.reclaimTimer, a.idleTimer, a.retryTimer} {
		if t != nil {
			t.Stop()
		}
	}
	a.notifyLocked()
	a.mu.Unlock()

	var errs []error
	if err := a.release(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := a.conn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close neko socket: %w", err))
	}
	if err := a.client.Logout(ctx); err != nil && !errors.Is(err, neko.ErrUnauthorized) {
		errs = append(errs, fmt.Errorf("logout: %w", err))
	}
	// Cancel under mu: kickLocked checks ctx and calls wg.Add under mu, so
	// no goroutine can be added once Wait below has started.
	a.mu.Lock()
	a.cancel()
	a.mu.Unlock()
	a.wg.Wait()
	a.events.Close()
	return errors.Join(errs...)
}

// Give hands control to a person (session id) on the operator's behalf.
// Automation then waits as after a yield, and takes control back when they
// release (unless NoReclaim).
func (a *Arbiter) Give(ctx context.Context, sessionID string) error {
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return ErrClosed
	}
	if sessionID == a.status.Session {
		a.mu.Unlock()
		return errors.New("codrive: cannot give control to codrive's own session; use Acquire")
	}
	a.humanHad = true
	a.nextReason = fmt.Sprintf("given to %s by the operator", describeHost(sessionID, a.nameLocked(sessionID)))
	a.mu.Unlock()
	if err := a.restoreLock(ctx); err != nil {
		return err
	}
	octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
	defer cancel()
	if err := a.client.GiveControl(octx, sessionID); err != nil {
		return fmt.Errorf("give control: %w", err)
	}
	return nil
}

// Take makes codrive the host at once, from whoever holds control. neko
// allows it to admins only.
func (a *Arbiter) Take(ctx context.Context) error {
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return ErrClosed
	}
	if !a.admin {
		a.mu.Unlock()
		return fmt.Errorf("codrive: take needs an admin login: %w", neko.ErrNotAdmin)
	}
	a.wantHost = true
	a.humanHad = false
	a.mu.Unlock()
	octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
	defer cancel()
	if err := a.client.TakeControl(octx); err != nil {
		return fmt.Errorf("take control: %w", err)
	}
	return nil
}

// Done is closed when codrive's neko connection has ended for good: Close,
// or neko refusing it (a password that no longer works after a restart,
// another socket taking over the session). Err says why.
func (a *Arbiter) Done() <-chan struct{} { return a.conn.Done() }

// Err is why the neko connection ended, nil while it lives.
func (a *Arbiter) Err() error {
	select {
	case <-a.conn.Done():
		return a.conn.Err()
	default:
		return nil
	}
}
