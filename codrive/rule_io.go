package codrive

import (
	"time"

	"github.com/codrive/codrive/internal/roomlock"
)

// The vocabulary of the rule (rule.go): what goes in and what comes out.
// Inputs are facts (neko said, the operator asked, a REST call returned, the
// clock moved); effects are requests to the world (call neko, tell a person,
// emit an event, answer a caller, wake me at). The rule never does I/O and
// never reads a clock: the arbiter (arbiter.go) stamps every input with the
// time and carries out the effects.

// input is one fact for the rule.
type input interface{ isInput() }

// callID names a caller waiting for an answer (Acquire, Handoff, Begin, ...).
type callID uint64

// opID names one REST operation the rule asked for.
type opID uint64

// sessionInfo is what the rule knows of one neko session.
type sessionInfo struct {
	ID        string
	Name      string
	Connected bool
}

// lockSettings are the two room settings policy locked changes.
type lockSettings = roomlock.Settings

// lockLease is codrive's lock record in the room.
type lockLease = roomlock.Lease

// roomSettings is the part of neko's room settings the rule reads.
type roomSettings struct {
	lockSettings
	// Lease is codrive's lock record in the room (plugin setting
	// codrive.lock), nil when there is none. See internal/roomlock.
	Lease *lockLease
}

// From neko, in the order neko sent them.
type (
	// inInit is system/init: a socket is up (first connect or reconnect).
	inInit struct {
		Self     string
		Host     string // "" when nobody hosts
		Settings roomSettings
		Sessions []sessionInfo
		// Relogin: codrive had to log in again (neko forgot its session,
		// i.e. it restarted).
		Relogin bool
		Reason  string
	}
	// inHost is control/host: Actor caused the change, Host is the new host
	// ("" when none).
	inHost struct{ Actor, Host string }
	// inRequest is control/request: From asks codrive (the host) for control.
	inRequest struct{ From string }
	// inSettings is system/settings, changed by Actor.
	inSettings struct {
		Actor    string
		Settings roomSettings
	}
	// inSession is a session appearing, changing, or (Deleted) going away.
	// Empty Name and nil Connected leave what the rule knows.
	inSession struct {
		ID        string
		Name      string
		Connected *bool
		Deleted   bool
	}
	// inHello: From announced itself as codrive (Answer: it answered this
	// one's own announcement).
	inHello struct {
		From   string
		Answer bool
		// Self: codrive's note to itself came back (see onInit).
		Self bool
	}
	// inConnLost: the socket dropped and the Conn is reconnecting (one per
	// attempt).
	inConnLost struct {
		Reason  string
		Attempt int // of reconnecting, from 1
	}
	// inConnEnded: the Conn ended for good (neko refused codrive).
	inConnEnded struct{ Reason string }
)

// From automation and the operator. Every one with a Call gets exactly one
// effReply for it.
type (
	// inBegin asks to start an automation step. The reply is ok only while
	// the gate is open; the step is then in flight until inStepEnd{Call}.
	// Sent: the step acts as it goes (the Go API's Begin and Do); else it
	// is one command, sent to Chromium when inStepSent{Call} comes.
	inBegin struct {
		Call callID
		Sent bool
		Kind stepKindT
	}
	inStepSent struct{ Call callID }
	inStepEnd  struct{ Call callID }
	// inAdopt: these steps passed the arbiter's fast gate (fastgate.go)
	// while the rule said they could, and are still in flight; their
	// inStepSent and inStepEnd come from now on. LastActive is when a fast
	// step last began or ended (zero: none did).
	inAdopt struct {
		Steps      []adoptedStep
		LastActive time.Time
	}
	inAcquire struct{ Call callID }
	inRelease struct{ Call callID }
	inPause   struct{ Call callID }
	inResume  struct{}
	inHandoff struct {
		Call   callID
		Reason string
	}
	inGive struct {
		Call callID
		To   string
	}
	inTake  struct{ Call callID }
	inClose struct{ Call callID }
	// inCancel: the caller of Call gave up (its context ended with Err).
	inCancel struct {
		Call callID
		Err  error
	}
)

// adoptedStep is a step in flight that passed the fast gate; Sent: its
// command has reached Chromium.
type adoptedStep struct {
	Call callID
	Sent bool
}

// stepKindT is what a step does to the person's input devices (see
// cdpproxy.StepKind).
type stepKindT int

const (
	stepCommand  stepKindT = iota // an ordinary step
	stepPress                     // presses: the step lasts until what it pressed is released
	stepContinue                  // continues or ends a gesture in progress
)

// stepInfo is a step in flight.
type stepInfo struct {
	// unsent is when a proxied command passed the gate, until it is on its
	// way to Chromium (zero once sent).
	unsent time.Time
	// gesture: a press, in flight until automation lets go of it.
	gesture bool
}

// restResult is a REST operation's outcome.
type restResult struct {
	Op  opID
	Err error
	// Permanent: retrying cannot help (forbidden, not admin, locked).
	Permanent bool
	// Pending: control/request reached a host (202) instead of granting.
	Pending bool
	// NotHost: a release found codrive not hosting (422), so nothing moved.
	NotHost bool
	// Applied, for a lock operation, is what the room was before it.
	Before *lockSettings
	// Declined, for a lock operation: another live codrive holds the room's
	// lock, so this one did not lock it.
	Declined string
}

// helloGrace bounds the wait for codrive's note to itself (see onInit).
const helloGrace = 2 * time.Second

// The announcement codrive sessions exchange (send/broadcast, then
// send/unicast answers) so that each knows the others are not people.
const (
	helloSubject  = "codrive/hello"
	helloAnnounce = "hello"
	// helloSelf is the note codrive sends itself after its announcement.
	helloSelf   = "self"
	helloAnswer = "here"
)

// inTick: only time passed (a wake-up the rule asked for).
type inTick struct{}

func (inInit) isInput()      {}
func (inHost) isInput()      {}
func (inRequest) isInput()   {}
func (inSettings) isInput()  {}
func (inSession) isInput()   {}
func (inHello) isInput()     {}
func (inConnLost) isInput()  {}
func (inConnEnded) isInput() {}
func (inBegin) isInput()     {}
func (inStepSent) isInput()  {}
func (inStepEnd) isInput()   {}
func (inAdopt) isInput()     {}
func (inAcquire) isInput()   {}
func (inRelease) isInput()   {}
func (inPause) isInput()     {}
func (inResume) isInput()    {}
func (inHandoff) isInput()   {}
func (inGive) isInput()      {}
func (inTake) isInput()      {}
func (inClose) isInput()     {}
func (inCancel) isInput()    {}
func (restResult) isInput()  {}
func (inTick) isInput()      {}

// effect is one thing the rule asks the arbiter to do.
type effect interface{ isEffect() }

// restKind is a REST operation on neko.
type restKind int

const (
	opRequest restKind = iota + 1 // POST control/request
	opRelease                     // POST control/release
	opGive                        // POST control/give/{To}
	opTake                        // POST control/take (admin)
	opLock                        // read settings, then lock them and write the lease
	opRestore                     // write Restore back and clear the lease
)

func (k restKind) String() string {
	switch k {
	case opRequest:
		return "request control"
	case opRelease:
		return "release control"
	case opGive:
		return "give control"
	case opTake:
		return "take control"
	case opLock:
		return "lock the room"
	case opRestore:
		return "restore room settings"
	}
	return "?"
}

type (
	// effREST runs one REST call; its restResult comes back as an input.
	effREST struct {
		Op   opID
		Kind restKind
		To   string        // opGive: to whom; opTake: only while this session hosts
		Self string        // opLock: the lease owner
		Want *lockSettings // opRestore: the values to write back
	}
	// effSend sends a neko message (send/unicast or send/broadcast) with
	// Subject (default "codrive") to one session, or to everyone when To is
	// "". With Chat, the same words also go to neko's chat (when its chat
	// plugin is on), where people read them. Fire and forget: neko never
	// answers.
	effSend struct {
		To      string
		Subject string
		Body    map[string]any
		Chat    string
	}
	// effEmit publishes an event.
	effEmit struct{ Ev Event }
	// effReply answers Call. Err is nil for success; for inBegin, errNotNow
	// means "wait for a change and ask again".
	effReply struct {
		Call callID
		Err  error
	}
	// effWake asks for an inTick at At (zero: no wake-up needed). Each one
	// replaces the previous.
	effWake struct{ At time.Time }
	// effShutdown: everything codrive changed is undone; close the socket,
	// log out and answer Call (Close) with Err.
	effShutdown struct {
		Call callID
		Err  error
	}
)

func (effREST) isEffect()     {}
func (effSend) isEffect()     {}
func (effEmit) isEffect()     {}
func (effReply) isEffect()    {}
func (effWake) isEffect()     {}
func (effShutdown) isEffect() {}
