package codrive

import "time"

// How the rule tells other codrive sessions from people (StateCodrive):
// the same neko user, or an announcement on codrive/hello.

// onHello: another session says it is codrive. An announcement is
// answered, so that the newcomer learns of this one too; an answer is not.
func (r *rule) onHello(in inHello) {
	if in.From == r.self && in.Self {
		r.helloBy = time.Time{} // the announcement has gone out
		return
	}
	if in.From == "" || in.From == r.self {
		return
	}
	known := r.codrives[in.From]
	r.codrives[in.From] = true
	if !in.Answer && r.connected {
		r.out = append(r.out, effSend{To: in.From, Subject: helloSubject, Body: map[string]any{"codrive": helloAnswer}})
	}
	if !known && r.host == in.From {
		// Who hosts did not change, only what codrive calls them.
		r.emit(EventState, in.From, r.describe(in.From)+" is another codrive session, not a person")
	}
}

// isCodrive: the session is another codrive, not a person. The heuristic
// (documented on StateCodrive): it logged in as codrive's own neko user, or
// it announced itself (inHello).
func (r *rule) isCodrive(id string) bool {
	if id == "" || id == r.self {
		return false
	}
	if r.codrives[id] {
		return true
	}
	s, ok := r.sessions[id]
	return ok && r.cfg.User != "" && s.Name == r.cfg.User
}

// announcing: codrive's announcement may not have gone out yet; control
// waits for it, at most helloGrace.
func (r *rule) announcing() bool {
	if r.helloBy.IsZero() {
		return false
	}
	if r.now.Before(r.helloBy) {
		r.wakeBy(r.helloBy)
		return true
	}
	r.helloBy = time.Time{}
	return false
}

// someoneElse: a session other than codrive's own hosts.
func someoneElse(st State) bool { return st == StateHuman || st == StateCodrive }
