package codrive

import (
	"fmt"
	"time"
)

// How the facts neko reports change the rule's state (rule.go): its
// snapshot at init, host changes, requests, settings, sessions and the
// connection's health. Decisions are left to settle.

// --- Facts from neko -------------------------------------------------------

func (r *rule) onInit(in inInit) {
	first := r.self == ""
	r.connected = true
	r.self = in.Self
	r.settings = in.Settings
	r.sessions = map[string]sessionInfo{}
	for _, s := range in.Sessions {
		r.sessions[s.ID] = s
	}
	r.grantedAt = time.Time{}
	if e := r.expect; e != nil {
		if _, inFlight := r.ops[e.op]; !inFlight {
			r.expect = nil // system/init already shows it
		}
	}
	if r.yield != nil && r.yield.op != 0 {
		// system/init is the whole truth: a give that landed shows in it;
		// one still on its way keeps the gate closed (see gate).
		r.yield = nil
	}
	r.setState(in.Host, "", in.Reason)
	if in.Relogin {
		// neko restarted: it forgot its settings, and codrive's lock and
		// lease with them. The next lock reads the room afresh.
		r.lockApplied, r.saved, r.lockDeclined = false, nil, false
	} else if r.lockApplied && !locked(in.Settings.lockSettings) {
		r.lockUndone()
	}
	if !first && r.host == "" {
		// Take back at once only what codrive held; a person's turn cut
		// short by neko gets the reclaim grace, as if they had just let go.
		r.freeAfterHuman = !r.heldAtDrop && r.personAtDrop
	}
	r.emit(EventState, "", in.Reason)
	if !first {
		r.emit(EventConnection, "", in.Reason)
	}
	// Tell the other codrive sessions in the room that this one is codrive
	// too; each answers (onHello), so both sides know. Then a note to
	// itself on the same socket: neko handles a socket's messages in order,
	// so when the note comes back the announcement has gone out, and only
	// then does codrive move control (which goes over REST, another
	// connection): the others never see it host as a stranger.
	r.out = append(r.out, effSend{Subject: helloSubject, Body: map[string]any{"codrive": helloAnnounce}})
	r.out = append(r.out, effSend{To: r.self, Subject: helloSubject, Body: map[string]any{"codrive": helloSelf}})
	r.helloBy = r.now.Add(helloGrace)
}

func (r *rule) onHost(actor, host string) {
	if !r.connected {
		return
	}
	if host == r.host {
		// neko broadcasts every take and give, also to the host it
		// already has (session/manager.go setHost): no change, but it may
		// be the report codrive waits for.
		if e := r.expect; e != nil && actor == r.self && host == e.host {
			r.expect = nil
		}
		return
	}
	prev := r.host
	r.setState(host, actor, r.hostReason(actor, prev, host))
	r.emit(EventState, actor, r.reason)
	if h := r.handoff; h != nil && h.took && r.state() != StateHuman {
		// The person let go (another codrive's turn is no person's).
		r.endHandoff(nil, "handoff ended: "+h.reason)
	}
}

// setState records a new host (from control/host or system/init) and what
// follows from it for every hand-over in progress.
func (r *rule) setState(host, actor, reason string) {
	before := r.state()
	r.host, r.since, r.reason = host, r.now, reason
	after := r.state()
	clear(r.pending)
	if y := r.yield; y != nil && (host == y.to || (y.op == 0 && !y.operator)) {
		// Done, or a policy's yield overtaken before its give went out. A
		// give already sent keeps the gate closed until neko reports it
		// (or refuses it): an earlier change must not reopen it.
		r.yield = nil
	}
	r.grantedAt, r.takeTried = time.Time{}, false
	if before == StateAutomation || after == StateAutomation {
		r.lockDeclined = false // a new automation turn locks again
	}
	switch after {
	case StateHuman:
		r.humanHad = true
		if r.handoff != nil {
			r.handoff.took = true
		}
	case StateFree:
		r.freeSince = r.now
		r.freeAfterHuman = before == StateHuman
	case StateAutomation:
		r.lastActive = r.now
	}
}

func (r *rule) hostReason(actor, prev, host string) string {
	if e := r.expect; e != nil && actor == r.self && host == e.host {
		r.expect = nil
		return e.reason
	}
	switch {
	case host == "" && actor == "":
		return "host disconnected"
	case host == "" && actor == prev:
		return "released by " + r.describe(actor)
	case host == "":
		return "reset by " + r.describe(actor)
	case actor == "" || actor == host:
		return r.describe(host) + " took control"
	default:
		return fmt.Sprintf("given to %s by %s", r.describe(host), r.describe(actor))
	}
}

// onRequest applies the policy to a person asking codrive for control.
func (r *rule) onRequest(from string) {
	// neko echoes a REST request from the host itself back to the host.
	if from == "" || from == r.self || r.closing || r.state() != StateAutomation {
		return
	}
	who := r.describe(from)
	if !r.pol.Yields {
		if _, ok := r.pending[from]; ok {
			// neko turns every input event of a non-host into a request
			// (handler/control.go): answer once per person and host change.
			return
		}
		r.pending[from] = PendingRequest{ID: from, Name: r.name(from), Since: r.now}
		r.tally.requests.Kept++
		r.emit(EventRequest, from, fmt.Sprintf("%s asked for control: kept by automation (policy %s)", who, r.cfg.Policy))
		r.send(from, map[string]any{"message": r.holdMessage(), "policy": string(r.cfg.Policy)})
		return
	}
	switch {
	case r.yield != nil:
		r.tally.requests.Ignored++
		r.emit(EventRequest, from, fmt.Sprintf("%s asked for control; already yielding to %s", who, r.describe(r.yield.to)))
	case !r.wantsHost():
		r.tally.requests.Ignored++
		r.emit(EventRequest, from, fmt.Sprintf("%s asked for control; automation is letting go of it already", who))
	default:
		// The gate closes now, before the host moves: no new step starts.
		r.tally.requests.Yielded++
		r.yield = &yielding{to: from, deadline: r.now.Add(r.cfg.StepTimeout)}
		r.emit(EventRequest, from, fmt.Sprintf("%s asked for control: pausing automation (policy %s)", who, r.cfg.Policy))
	}
}

func (r *rule) onSettings(in inSettings) {
	r.settings = in.Settings
	if in.Actor == r.self || !r.lockApplied || locked(in.Settings.lockSettings) {
		return
	}
	r.lockUndone()
	r.emit(EventSettings, in.Actor, fmt.Sprintf("%s changed the room settings while automation runs: controls no longer locked", r.describe(in.Actor)))
}

// lockUndone: someone else undid codrive's lock. codrive does not fight an
// admin: it locks no more this turn, and restores at once what is still its
// own (restoreOnto leaves every setting they changed as they set it).
func (r *rule) lockUndone() {
	r.lockDeclined = true
}

func (r *rule) onSession(in inSession) {
	if in.Deleted {
		delete(r.sessions, in.ID)
		delete(r.codrives, in.ID)
		return
	}
	s := r.sessions[in.ID]
	s.ID = in.ID
	if in.Connected != nil {
		s.Connected = *in.Connected
	}
	if in.Name != "" {
		s.Name = in.Name
	}
	r.sessions[in.ID] = s
}

func (r *rule) onConnLost(reason string, attempt int) {
	if r.connected {
		r.heldAtDrop = r.host == r.self
		r.personAtDrop = r.state() == StateHuman
		r.connected = false
		r.since, r.reason = r.now, reason
		r.grantedAt = time.Time{}
		if r.yield != nil && r.yield.op == 0 && !r.yield.operator {
			r.yield = nil // the person asks again; a give already sent may still land
		}
		clear(r.pending)
		r.emit(EventState, "", reason)
	}
	// Attempts 1, 2, 4, 8, ...: a long outage says so without a line a
	// second (the Conn retries about every second).
	if attempt <= 1 || attempt&(attempt-1) == 0 {
		r.emit(EventConnection, "", reason)
	}
}

func (r *rule) onConnEnded(reason string) {
	r.connected, r.ended = false, true
	r.since, r.reason = r.now, reason
	r.yield = nil
	r.emit(EventError, "", reason)
}
