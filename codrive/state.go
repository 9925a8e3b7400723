package codrive

import (
	"fmt"
	"strings"
	"time"

	"github.com/codrive/codrive/neko"
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
	// StateDisconnected means codrive has no live neko socket right now.
	StateDisconnected State = "disconnected"
)

// Policy decides what happens when a person asks for control while
// automation holds it.
type Policy string

const (
	// PolicyYield pauses automation at once and gives control to the person.
	PolicyYield Policy = "yield"
	// PolicyFinishStep lets the step in flight finish, then yields.
	PolicyFinishStep Policy = "finish-step"
	// PolicyHold keeps control and tells the person why.
	PolicyHold Policy = "hold"
	// PolicyLocked locks the room's controls while automation runs.
	PolicyLocked Policy = "locked"
)

// Policies lists the valid policies, for flag help and validation.
var Policies = []Policy{PolicyYield, PolicyFinishStep, PolicyHold, PolicyLocked}

// ParsePolicy validates a policy name.
func ParsePolicy(s string) (Policy, error) {
	for _, p := range Policies {
		if string(p) == s {
			return p, nil
		}
	}
	names := make([]string, len(Policies))
	for i, p := range Policies {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown policy %q (want one of %s)", s, strings.Join(names, ", "))
}

// Gate says whether automation may act right now, and if not, why. The
// arbiter decides it; the CDP proxy, the terminal UI and attach only read it.
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
	// GateClosed: the arbiter is closing or closed, or neko refused it.
	GateClosed Gate = "closed"
)

// EventKind says what an Event is about.
type EventKind string

const (
	// EventState: who holds control changed (one per host change neko
	// reports, in order), or the connection to neko came or went.
	EventState EventKind = "state"
	// EventRequest: a person asked for control while automation hosts.
	EventRequest EventKind = "request"
	// EventYield: policy finish-step waits for steps in flight.
	EventYield EventKind = "yield"
	// EventHandoff: a handoff started or ended.
	EventHandoff EventKind = "handoff"
	// EventPause and EventResume: the operator paused or resumed automation.
	EventPause  EventKind = "pause"
	EventResume EventKind = "resume"
	// EventSettings: codrive locked or restored the room, or someone else
	// changed what it had locked.
	EventSettings EventKind = "settings"
	// EventConnection: the neko connection dropped, is being retried, or is
	// back.
	EventConnection EventKind = "connection"
	// EventError: something codrive tried failed; it says what it does next.
	EventError EventKind = "error"
	// EventPage: the attached tab navigated (Session only).
	EventPage EventKind = "page"
	// EventBrowser: Chromium went away or came back (Session only).
	EventBrowser EventKind = "browser"
)

// PendingRequest is a person's request for control that codrive has not
// granted (policy hold or locked).
type PendingRequest struct {
	ID    string    `json:"id"`
	Name  string    `json:"name"`
	Since time.Time `json:"since"`
}

// Status is a snapshot of the arbitration.
type Status struct {
	State    State     `json:"state"`
	Host     string    `json:"host,omitempty"`
	HostName string    `json:"hostName,omitempty"`
	Since    time.Time `json:"since"`
	Reason   string    `json:"reason,omitempty"`
	// Session is codrive's own neko session id (it changes after neko
	// restarts and codrive logs in again).
	Session string `json:"session,omitempty"`
	Policy  Policy `json:"policy"`
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
	Locked  bool             `json:"locked"`
	Pending []PendingRequest `json:"pending,omitempty"`
}

// Event is one thing that happened in the arbitration, with the Status
// right after it.
type Event struct {
	Time      time.Time `json:"time"`
	Kind      EventKind `json:"kind"`
	Actor     string    `json:"actor,omitempty"`
	ActorName string    `json:"actorName,omitempty"`
	Reason    string    `json:"reason"`
	Status    Status    `json:"status"`
	// Page is the attached tab, when a Session knows it.
	Page *PageInfo `json:"page,omitempty"`
}

// PageInfo is the tab codrive is attached to.
type PageInfo struct {
	TargetID string `json:"targetId,omitempty"`
	URL      string `json:"url"`
	Title    string `json:"title"`
	// Attached is false while Chromium is gone and codrive re-attaches.
	Attached bool `json:"attached"`
}

// derive computes the state from neko's room snapshot.
func derive(room neko.Room) (State, string, string) {
	if !room.Connected {
		return StateDisconnected, "", ""
	}
	if !room.Host.HasHost || room.Host.HostID == "" {
		return StateFree, "", ""
	}
	name := sessionName(room, room.Host.HostID)
	if room.Host.HostID == room.SessionID {
		return StateAutomation, room.Host.HostID, name
	}
	return StateHuman, room.Host.HostID, name
}

func sessionName(room neko.Room, id string) string {
	if s, ok := room.Sessions[id]; ok && s.Profile.Name != "" {
		return s.Profile.Name
	}
	return id
}

// describeHost names a host for messages: `alice (alice-Ab3dE)`.
func describeHost(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return fmt.Sprintf("%s (%s)", name, id)
}
