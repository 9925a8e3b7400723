package timeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Event is one line of `codrive attach --json`: something that happened in
// the arbitration, with the status right after it. It mirrors codrive.Event
// field for field (same JSON, same order), so a recording's events file is
// exactly what attach prints; this package keeps its own copy because the
// codrive package will import this one (its Go API records).
type Event struct {
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Actor     string    `json:"actor,omitempty"`
	ActorName string    `json:"actorName,omitempty"`
	Reason    string    `json:"reason"`
	Status    Status    `json:"status"`
	Page      *PageInfo `json:"page,omitempty"`
}

// Status is the arbitration snapshot an Event carries (codrive.Status).
type Status struct {
	State    string           `json:"state"` // free, automation, human, disconnected
	Host     string           `json:"host,omitempty"`
	HostName string           `json:"hostName,omitempty"`
	Since    time.Time        `json:"since"`
	Reason   string           `json:"reason,omitempty"`
	Session  string           `json:"session,omitempty"`
	Policy   string           `json:"policy"`
	Paused   bool             `json:"paused"`
	Handoff  string           `json:"handoff,omitempty"`
	Gate     string           `json:"gate"` // open, waiting, yielding, paused, handoff, closed
	Go       bool             `json:"go"`
	Steps    int              `json:"steps,omitempty"`
	Locked   bool             `json:"locked"`
	Pending  []PendingRequest `json:"pending,omitempty"`
}

// PendingRequest is a person's request for control not granted yet.
type PendingRequest struct {
	ID    string    `json:"id"`
	Name  string    `json:"name"`
	Since time.Time `json:"since"`
}

// PageInfo is the tab codrive is attached to.
type PageInfo struct {
	TargetID string `json:"targetId,omitempty"`
	URL      string `json:"url"`
	Title    string `json:"title"`
	Attached bool   `json:"attached"`
}

// The states, gates and kinds this package reads. Others are kept and
// shown as they are.
const (
	stateFree         = "free"
	stateAutomation   = "automation"
	stateHuman        = "human"
	stateDisconnected = "disconnected"

	gateOpen    = "open"
	gateYield   = "yielding"
	gatePaused  = "paused"
	gateHandoff = "handoff"
	gateClosed  = "closed"

	kindPage    = "page"
	kindHandoff = "handoff"
	kindRequest = "request"
)

// ParseEvent reads one line of `codrive attach --json`.
func ParseEvent(line []byte) (Event, error) {
	var ev Event
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return ev, errors.New("empty line")
	}
	if line[0] != '{' {
		return ev, fmt.Errorf("not a JSON object: %.40q", line)
	}
	if err := json.Unmarshal(line, &ev); err != nil {
		return ev, fmt.Errorf("not an event: %w", err)
	}
	if ev.Time.IsZero() {
		return ev, errors.New("event without a time")
	}
	if ev.Kind == "" {
		return ev, errors.New("event without a kind")
	}
	return ev, nil
}

// who names the host of a status for people: its display name, else its
// session id.
func (s Status) who() string {
	if s.HostName != "" {
		return s.HostName
	}
	return s.Host
}
