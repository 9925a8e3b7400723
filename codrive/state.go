package codrive

import (
	"fmt"
	"time"
)

// State says who drives the browser. It is derived from neko's events, never
// guessed: neko is the only authority on who is host.
type State string

const (
	// StateFree means nobody holds host control.
	StateFree State = "free"
	// StateAutomation means codrive's own neko session is host.
	StateAutomation State = "automation"
	// StateHuman means another session (a person) is host.
	StateHuman State = "human"
	// StateCodrive means another codrive session is host, not a person:
	// another codrive process, or a short-lived `codrive control` or
	// `codrive status` session. codrive counts a session as its own kind
	// when it logged in as the same neko user (Options.User) or announced
	// itself as codrive on the room's messages (every codrive does when it
	// connects). Automation waits as while a person hosts, but the turn is
	// no person's: a handoff does not end with it, and NoReclaim and the
	// reclaim grace do not apply.
	StateCodrive State = "codrive"
	// StateDisconnected means codrive has no live neko socket right now.
	StateDisconnected State = "disconnected"
)

// Gate says whether automation may act right now, and if not, why. codrive
// decides it in one place; Begin, Do, Wait and the CDP proxy obey it, and
// Status reports it.
type Gate string

const (
	// GateOpen: codrive hosts and automation may act.
	GateOpen Gate = "open"
	// GateWaiting: automation waits for control (nobody or a person hosts,
	// or neko is out of reach); it asks for control when it needs it.
	GateWaiting Gate = "waiting"
	// GateYielding: codrive still hosts but is handing control to a person
	// (policies yield and finish-step, or an operator's give).
	GateYielding Gate = "yielding"
	// GatePaused: the operator paused automation.
	GatePaused Gate = "paused"
	// GateHandoff: automation asked a person for help and waits for them.
	GateHandoff Gate = "handoff"
	// GateClosed: the session is closing or closed, or neko refused it.
	GateClosed Gate = "closed"
)

// PendingRequest is a person's request for control that codrive has not
// granted (policy hold or locked).
type PendingRequest struct {
	// ID is the person's neko session id (what Give takes).
	ID string `json:"id"`
	// Name is their display name.
	Name string `json:"name"`
	// Since is when they first asked.
	Since time.Time `json:"since"`
}

// Status is a snapshot of the arbitration: who drives, why, and whether
// automation may act. Session.Status returns the current one, and every
// Event carries the one right after it.
type Status struct {
	// State says who holds host control.
	State State `json:"state"`
	// Host is the host's neko session id, "" when nobody hosts.
	Host string `json:"host,omitempty"`
	// HostName is the host's display name.
	HostName string `json:"hostName,omitempty"`
	// Since is when State or Host last changed.
	Since time.Time `json:"since"`
	// Reason says, for people, why the last change happened.
	Reason string `json:"reason,omitempty"`
	// Session is codrive's own neko session id (it changes after neko
	// restarts and codrive logs in again).
	Session string `json:"session,omitempty"`
	// Policy is the session's policy (Options.Policy).
	Policy Policy `json:"policy"`
	// Paused is true while the operator paused automation or a handoff is
	// in progress: automation waits even if codrive could host.
	Paused bool `json:"paused"`
	// Handoff holds the reason of a handoff in progress.
	Handoff string `json:"handoff,omitempty"`
	// Gate says whether automation may act now, and if not, why.
	Gate Gate `json:"gate"`
	// Go is true when automation may act right now (Gate is GateOpen).
	Go bool `json:"go"`
	// Steps counts automation steps in flight (Begin without its done).
	Steps int `json:"steps,omitempty"`
	// Locked is true while codrive keeps the room's controls locked.
	Locked bool `json:"locked"`
	// Pending lists the requests for control codrive has not granted,
	// oldest first.
	Pending []PendingRequest `json:"pending,omitempty"`
}

// describeHost names a host for messages: `alice (alice-Ab3dE)`.
func describeHost(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return fmt.Sprintf("%s (%s)", name, id)
}
