package codrive

import (
	"cmp"
	"slices"
	"time"

	"github.com/codrive/codrive/neko"
)

// Participant is one session in the neko room: a person's viewer, another
// bot, or codrive itself (Self). Give takes its ID.
type Participant struct {
	// ID is the neko session id.
	ID string `json:"id"`
	// Name is the display name.
	Name string `json:"name"`
	// Admin is true for a neko admin (who may take control, lock the room).
	Admin bool `json:"admin"`
	// CanHost is false when neko's profile forbids this session host
	// control: giving it control fails.
	CanHost bool `json:"canHost"`
	// Connected is true while the session has a socket open to neko.
	Connected bool `json:"connected"`
	// Watching is true while the session receives the video stream.
	Watching bool `json:"watching"`
	// Host is true for the session that holds host control.
	Host bool `json:"host"`
	// Self marks codrive's own session.
	Self bool `json:"self,omitempty"`
	// Codrive marks another codrive session: not a person (see
	// StateCodrive for how codrive tells).
	Codrive bool `json:"codrive,omitempty"`
}

// Connection is the health of codrive's link to neko, for monitors and
// health checks. The browser side is PageInfo.Attached.
type Connection struct {
	// Connected is true while the WebSocket is up; false while codrive
	// reconnects (it does by itself, with backoff).
	Connected bool `json:"connected"`
	// Closed is true once the link ended for good (Session.Done): Close,
	// or neko refusing codrive. Session.Err says why.
	Closed bool `json:"closed"`
	// Admin is true when codrive logged in as a neko admin: Take, Takeover
	// and policy locked need it.
	Admin bool `json:"admin"`
	// LastHeard is when neko last sent anything (it sends a heartbeat every
	// 10s); zero before the first frame.
	LastHeard time.Time `json:"lastHeard"`
	// Reconnects counts the times the socket came back after a drop.
	Reconnects int `json:"reconnects"`
	// Malformed counts frames from neko that did not decode and were
	// skipped.
	Malformed int `json:"malformed"`
}

// participantsOf lists the room's sessions, sorted by name then id so that
// lists do not reorder between calls.
func participantsOf(room neko.Room, isCodrive func(neko.SessionData) bool) []Participant {
	out := make([]Participant, 0, len(room.Sessions))
	for id, s := range room.Sessions {
		s.ID = id
		out = append(out, Participant{
			ID: id, Name: s.Profile.Name, Admin: s.Profile.IsAdmin, CanHost: s.Profile.CanHost,
			Connected: s.State.IsConnected, Watching: s.State.IsWatching,
			Host: room.Host.HasHost && room.Host.HostID == id, Self: id == room.SessionID,
			Codrive: isCodrive(s),
		})
	}
	slices.SortFunc(out, func(a, b Participant) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// connection is the link's health from the socket's view of the room.
func (a *arbiter) connection() Connection {
	room := a.conn.Room()
	c := Connection{
		Connected: room.Connected, Admin: a.admin, LastHeard: room.LastServerFrame,
		Reconnects: room.Reconnects, Malformed: room.Malformed,
	}
	select {
	case <-a.conn.Done():
		c.Closed, c.Connected = true, false
	default:
	}
	return c
}
