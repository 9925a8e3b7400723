package codrive

import "time"

// EventKind says what an Event is about. More kinds may come in minor
// versions: treat an unknown one as information.
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
	// EventPause: the operator paused automation (Pause).
	EventPause EventKind = "pause"
	// EventResume: the operator resumed automation (Resume).
	EventResume EventKind = "resume"
	// EventSettings: codrive locked or restored the room, or someone else
	// changed what it had locked.
	EventSettings EventKind = "settings"
	// EventConnection: the neko connection dropped, is being retried, or is
	// back.
	EventConnection EventKind = "connection"
	// EventError: something codrive tried failed; it says what it does next.
	EventError EventKind = "error"
	// EventPage: the attached tab navigated.
	EventPage EventKind = "page"
	// EventBrowser: Chromium went away or came back.
	EventBrowser EventKind = "browser"
)

// Event is one thing that happened, with the Status right after it.
// Session.Subscribe delivers them in order.
type Event struct {
	// Time is when codrive saw it happen.
	Time time.Time `json:"time"`
	// Kind says what it is about.
	Kind EventKind `json:"kind"`
	// Actor is the neko session id of whoever caused it, when someone did.
	Actor string `json:"actor,omitempty"`
	// ActorName is Actor's display name.
	ActorName string `json:"actorName,omitempty"`
	// Reason says, for people, what happened and why.
	Reason string `json:"reason"`
	// Status is the arbitration right after the event.
	Status Status `json:"status"`
	// Page is the attached tab at the time; nil without Options.CDPURL.
	Page *PageInfo `json:"page,omitempty"`
}

// PageInfo is the tab codrive is attached to.
type PageInfo struct {
	// TargetID is Chromium's id of the tab (a CDP target id).
	TargetID string `json:"targetId,omitempty"`
	// URL is the tab's address after its last navigation.
	URL string `json:"url"`
	// Title is the tab's title.
	Title string `json:"title"`
	// Attached is false while Chromium is gone and codrive re-attaches.
	Attached bool `json:"attached"`
}
