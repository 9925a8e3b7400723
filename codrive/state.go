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
	// Go is true when automation may act right now.
	Go bool `json:"go"`
	// Locked is true while codrive keeps the room's controls locked.
	Locked  bool             `json:"locked"`
	Pending []PendingRequest `json:"pending,omitempty"`
}

// Event is one thing that happened in the arbitration. Kind is one of
// "state" (who holds control changed), "request" (a person asked for
// control), "yield" (finish-step waits for steps in flight), "handoff",
// "pause", "resume", "settings", "connection", "error"; a Session adds
// "page" and "browser".
type Event struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
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
