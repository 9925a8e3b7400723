package neko

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
)

// frameError is a server frame the client could not use.
type frameError struct {
	event string // event name, "" when the frame itself was not JSON
	err   error
}

func (e *frameError) Error() string {
	if e.event == "" {
		return "malformed frame: " + e.err.Error()
	}
	return fmt.Sprintf("malformed %s payload: %v", e.event, e.err)
}

func (e *frameError) Unwrap() error { return e.err }

var errNoPayload = errors.New("missing payload")

// decodeFrame parses one server text frame into an Event. Known events get
// their typed payload; unknown events keep only Raw. It never panics, whatever
// the input (FuzzDecodeFrame).
func decodeFrame(data []byte, now time.Time) (Event, error) {
	var m Message
	if err := json.Unmarshal(data, &m); err != nil {
		return Event{}, &frameError{err: err}
	}
	if m.Event == "" {
		return Event{}, &frameError{err: errors.New(`no "event" name`)}
	}
	ev := Event{Name: m.Event, Time: now, Raw: m.Payload}
	p, err := decodePayload(m.Event, m.Payload)
	if err != nil {
		return ev, &frameError{event: m.Event, err: err}
	}
	ev.Payload = p
	return ev, nil
}

// decodePayload returns the typed payload of a known event, nil for unknown
// events and for system/heartbeat, which has none.
func decodePayload(name string, raw json.RawMessage) (any, error) {
	var p any
	var id func() string // events about a session must name it
	switch name {
	case EventSystemHeartbeat:
		return nil, nil
	case EventSystemInit:
		p = new(SystemInit)
	case EventSystemAdmin:
		p = new(SystemAdmin)
	case EventSystemSettings:
		p = new(SystemSettingsUpdate)
	case EventSystemDisconnect:
		p = new(SystemDisconnect)
	case EventControlHost:
		p = new(ControlHost)
	case EventControlRequest, EventSessionDeleted:
		v := new(SessionID)
		p, id = v, func() string { return v.ID }
	case EventSessionCreated:
		v := new(SessionData)
		p, id = v, func() string { return v.ID }
	case EventSessionState:
		v := new(SessionStateUpdate)
		p, id = v, func() string { return v.ID }
	case EventSessionProfile:
		v := new(SessionProfileUpdate)
		p, id = v, func() string { return v.ID }
	case EventSendUnicast:
		p = new(SendUnicast)
	case EventSendBroadcast:
		p = new(SendBroadcast)
	case EventScreenUpdated:
		p = new(ScreenSize)
	case EventChatInit:
		p = new(ChatInit)
	case EventChatMessage:
		p = new(ChatMessage)
	default:
		return nil, nil
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, errNoPayload
	}
	if err := json.Unmarshal(raw, p); err != nil {
		return nil, err
	}
	if id != nil && id() == "" {
		return nil, errors.New(`payload has no session "id"`)
	}
	return p, nil
}

// apply folds one decoded event into the room state. Unknown events and
// events that carry no state (heartbeat, unicast, ...) leave it unchanged.
func (r *Room) apply(ev Event) {
	switch p := ev.Payload.(type) {
	case *SystemInit:
		// A new socket: its plugins say again whether they are on.
		r.Chat = false
		r.SessionID = p.SessionID
		r.Host = p.ControlHost
		r.Sessions = make(map[string]SessionData, len(p.Sessions))
		maps.Copy(r.Sessions, p.Sessions)
		r.Settings = p.Settings
		r.ScreenSize = p.ScreenSize
	case *ControlHost:
		r.Host = *p
	case *SystemSettingsUpdate:
		r.Settings = p.Settings
	case *ScreenSize:
		r.ScreenSize = *p
	case *ChatInit:
		r.Chat = p.Enabled
	case *SessionData:
		r.ensureSessions()
		r.Sessions[p.ID] = *p
	case *SessionID:
		if ev.Name == EventSessionDeleted {
			delete(r.Sessions, p.ID)
		}
	case *SessionStateUpdate:
		r.ensureSessions()
		s := r.Sessions[p.ID]
		s.ID, s.State = p.ID, p.SessionState
		r.Sessions[p.ID] = s
	case *SessionProfileUpdate:
		r.ensureSessions()
		s := r.Sessions[p.ID]
		s.ID, s.Profile = p.ID, p.MemberProfile
		r.Sessions[p.ID] = s
	}
}

func (r *Room) ensureSessions() {
	if r.Sessions == nil {
		r.Sessions = make(map[string]SessionData)
	}
}

// clone is a deep enough copy for callers: the map is new; the values'
// pointer fields are never mutated after decoding, so sharing them is safe.
func (r *Room) clone() Room {
	out := *r
	out.Sessions = make(map[string]SessionData, len(r.Sessions))
	maps.Copy(out.Sessions, r.Sessions)
	return out
}
