// Package neko is a client for the neko v3 server: its REST API and its
// WebSocket protocol. The wire types in this file mirror neko's own
// (server/pkg/types/session.go, member.go, desktop.go,
// server/pkg/types/message/messages.go, server/pkg/types/event/events.go) so
// that the client and the neko-compatible test server in neko/nekotest speak
// exactly the same JSON.
package neko

import (
	"encoding/json"
	"time"
)

// WebSocket event names (server/pkg/types/event/events.go).
const (
	EventSystemInit       = "system/init"
	EventSystemAdmin      = "system/admin"
	EventSystemSettings   = "system/settings"
	EventSystemLogs       = "system/logs"
	EventSystemDisconnect = "system/disconnect"
	EventSystemHeartbeat  = "system/heartbeat"

	EventClientHeartbeat = "client/heartbeat"

	EventSessionCreated = "session/created"
	EventSessionDeleted = "session/deleted"
	EventSessionProfile = "session/profile"
	EventSessionState   = "session/state"
	EventSessionCursors = "session/cursors"

	EventControlHost        = "control/host"
	EventControlRelease     = "control/release"
	EventControlRequest     = "control/request"
	EventControlMove        = "control/move"
	EventControlScroll      = "control/scroll"
	EventControlButtonPress = "control/buttonpress"
	EventControlButtonDown  = "control/buttondown"
	EventControlButtonUp    = "control/buttonup"
	EventControlKeyPress    = "control/keypress"
	EventControlKeyDown     = "control/keydown"
	EventControlKeyUp       = "control/keyup"
	EventControlTouchBegin  = "control/touchbegin"
	EventControlTouchUpdate = "control/touchupdate"
	EventControlTouchEnd    = "control/touchend"
	EventControlCut         = "control/cut"
	EventControlCopy        = "control/copy"
	EventControlPaste       = "control/paste"
	EventControlSelectAll   = "control/select_all"

	EventScreenUpdated = "screen/updated"
	EventScreenSet     = "screen/set"

	EventSendUnicast   = "send/unicast"
	EventSendBroadcast = "send/broadcast"

	// The chat plugin's events (server/internal/plugins/chat/types.go):
	// chat/init {enabled} on connect, chat/message both ways.
	EventChatInit    = "chat/init"
	EventChatMessage = "chat/message"
)

// InputEvents are the control events that, in real neko, first run the
// control/request logic (server/internal/websocket/handler/control.go): with
// implicit hosting on, any of them makes the sender the host.
var InputEvents = []string{
	EventControlMove, EventControlScroll,
	EventControlButtonPress, EventControlButtonDown, EventControlButtonUp,
	EventControlKeyPress, EventControlKeyDown, EventControlKeyUp,
	EventControlTouchBegin, EventControlTouchUpdate, EventControlTouchEnd,
	EventControlCut, EventControlCopy, EventControlPaste, EventControlSelectAll,
}

// Message is one WebSocket frame: {"event": "...", "payload": {...}}
// (server/pkg/types/websocket.go). Payload is kept raw so that unknown events
// can be passed on untouched.
type Message struct {
	Event   string          `json:"event"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// Settings are the room settings (server/pkg/types/session.go).
type Settings struct {
	PrivateMode       bool `json:"private_mode"`
	LockedLogins      bool `json:"locked_logins"`
	LockedControls    bool `json:"locked_controls"`
	ControlProtection bool `json:"control_protection"`
	ImplicitHosting   bool `json:"implicit_hosting"`
	InactiveCursors   bool `json:"inactive_cursors"`
	MercifulReconnect bool `json:"merciful_reconnect"`
	HeartbeatInterval int  `json:"heartbeat_interval"`
	// Plugins is neko's PluginSettings, a free map keyed "plugin.setting"
	// (server/pkg/types/plugins.go); always sent, null until something sets
	// a key. A settings POST is unmarshalled over the current settings
	// (server/internal/api/room/settings.go), so a "plugins" object in it
	// merges its keys into this map, a key set to null stays as a null
	// entry, {} leaves the map as it is (an empty map, not null, if there
	// was none), and "plugins": null clears it. Values replace whole: nested
	// objects are not merged. codrive keeps its lock record here
	// (internal/roomlock.Key).
	Plugins map[string]any `json:"plugins"`
}

// Clone returns a copy that shares no map with s (Plugins is copied deeply),
// so that neither side sees the other's later changes.
func (s Settings) Clone() Settings {
	s.Plugins = clonePlugins(s.Plugins)
	return s
}

// clonePlugins deep-copies a plugins map: the values are what encoding/json
// produces (maps, slices, scalars).
func clonePlugins(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneJSONValue(v)
	}
	return out
}

func cloneJSONValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return clonePlugins(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneJSONValue(e)
		}
		return out
	}
	return v
}

// DefaultSettings are the settings of a stock neko v3 deployment: the flag
// defaults of server/internal/config/session.go, except implicit_hosting,
// which the v3.1.5 binary defaults to true but the official image's
// /etc/neko/neko.yaml turns off (shared/third_party/neko/image-config.yml;
// the flag default is false from the 2026-08-15 commit on). Plugins is nil:
// neko sends "plugins": null until something sets a key.
func DefaultSettings() Settings {
	return Settings{MercifulReconnect: true, HeartbeatInterval: 10}
}

// MemberProfile is a member's name and permissions (server/pkg/types/member.go).
type MemberProfile struct {
	Name                  string `json:"name"`
	Avatar                string `json:"avatar,omitempty"`
	IsAdmin               bool   `json:"is_admin"`
	CanLogin              bool   `json:"can_login"`
	CanConnect            bool   `json:"can_connect"`
	CanWatch              bool   `json:"can_watch"`
	CanHost               bool   `json:"can_host"`
	CanShareMedia         bool   `json:"can_share_media"`
	CanAccessClipboard    bool   `json:"can_access_clipboard"`
	SendsInactiveCursor   bool   `json:"sends_inactive_cursor"`
	CanSeeInactiveCursors bool   `json:"can_see_inactive_cursors"`
	// Plugins is the member's PluginSettings (server/pkg/types/member.go);
	// neko sends null when none are set.
	Plugins map[string]any `json:"plugins"`
}

// SessionState is a session's connection state (server/pkg/types/session.go).
type SessionState struct {
	IsConnected       bool       `json:"is_connected"`
	ConnectedSince    *time.Time `json:"connected_since,omitempty"`
	NotConnectedSince *time.Time `json:"not_connected_since,omitempty"`
	IsWatching        bool       `json:"is_watching"`
	WatchingSince     *time.Time `json:"watching_since,omitempty"`
	NotWatchingSince  *time.Time `json:"not_watching_since,omitempty"`
}

// ScreenSize is the desktop size (server/pkg/types/desktop.go).
type ScreenSize struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	Rate   int `json:"rate"`
}

// SessionData describes one session, as in GET /api/sessions and system/init.
type SessionData struct {
	ID      string        `json:"id"`
	Profile MemberProfile `json:"profile"`
	State   SessionState  `json:"state"`
}

// ControlHost is the payload of control/host and the control_host field of
// system/init. ID is the session that caused the change (the actor), HostID
// the session that hosts now.
type ControlHost struct {
	ID      string `json:"id"`
	HasHost bool   `json:"has_host"`
	HostID  string `json:"host_id,omitempty"`
}

// SystemWebRTC is the webrtc part of system/init.
type SystemWebRTC struct {
	Videos []string `json:"videos"`
}

// SystemInit is the first message on every WebSocket.
type SystemInit struct {
	SessionID         string                 `json:"session_id"`
	ControlHost       ControlHost            `json:"control_host"`
	ScreenSize        ScreenSize             `json:"screen_size"`
	Sessions          map[string]SessionData `json:"sessions"`
	Settings          Settings               `json:"settings"`
	TouchEvents       bool                   `json:"touch_events"`
	ScreencastEnabled bool                   `json:"screencast_enabled"`
	WebRTC            SystemWebRTC           `json:"webrtc"`
}

// BroadcastStatus is part of system/admin.
type BroadcastStatus struct {
	IsActive bool   `json:"is_active"`
	URL      string `json:"url,omitempty"`
}

// SystemAdmin is sent to admins after system/init.
type SystemAdmin struct {
	BroadcastStatus BroadcastStatus `json:"broadcast_status"`
}

// SystemDisconnect tells the client why the server is dropping it.
type SystemDisconnect struct {
	Message string `json:"message"`
}

// SystemSettingsUpdate is broadcast when settings change; ID is the actor.
// It is encoded flat ({"id": ..., "private_mode": ...}) like neko's embedded
// struct, hence the custom (un)marshalling.
type SystemSettingsUpdate struct {
	ID string
	Settings
}

// MarshalJSON encodes the update flat, as neko does.
func (u SystemSettingsUpdate) MarshalJSON() ([]byte, error) {
	return marshalWithID(u.ID, u.Settings)
}

// UnmarshalJSON decodes the flat form.
func (u *SystemSettingsUpdate) UnmarshalJSON(b []byte) error {
	return unmarshalWithID(b, &u.ID, &u.Settings)
}

// SessionID is the payload of session/deleted and control/request.
type SessionID struct {
	ID string `json:"id"`
}

// SessionProfileUpdate is the payload of session/profile (flat, like neko).
type SessionProfileUpdate struct {
	ID string
	MemberProfile
}

// MarshalJSON encodes the update flat, as neko does.
func (u SessionProfileUpdate) MarshalJSON() ([]byte, error) {
	return marshalWithID(u.ID, u.MemberProfile)
}

// UnmarshalJSON decodes the flat form.
func (u *SessionProfileUpdate) UnmarshalJSON(b []byte) error {
	return unmarshalWithID(b, &u.ID, &u.MemberProfile)
}

// SessionStateUpdate is the payload of session/state (flat, like neko).
type SessionStateUpdate struct {
	ID string
	SessionState
}

// MarshalJSON encodes the update flat, as neko does.
func (u SessionStateUpdate) MarshalJSON() ([]byte, error) {
	return marshalWithID(u.ID, u.SessionState)
}

// UnmarshalJSON decodes the flat form.
func (u *SessionStateUpdate) UnmarshalJSON(b []byte) error {
	return unmarshalWithID(b, &u.ID, &u.SessionState)
}

// ControlPos is the payload of control/move.
type ControlPos struct {
	X int `json:"x"`
	Y int `json:"y"`
}

// SendUnicast is an opaque message to one session; the server fills Sender.
type SendUnicast struct {
	Sender   string          `json:"sender"`
	Receiver string          `json:"receiver"`
	Subject  string          `json:"subject"`
	Body     json.RawMessage `json:"body"`
}

// ChatInit is chat/init: whether neko's chat plugin is on (chat.enabled,
// default true in v3.1.5).
type ChatInit struct {
	Enabled bool `json:"enabled"`
}

// ChatContent is what a chat/message carries; a client sends it alone.
type ChatContent struct {
	Text string `json:"text"`
}

// ChatMessage is chat/message as neko relays it: the sender's session id,
// when neko got it, and the text (server/internal/plugins/chat/types.go).
// neko's web client shows it in its chat panel under the sender's name.
type ChatMessage struct {
	ID      string      `json:"id"`
	Created time.Time   `json:"created"`
	Content ChatContent `json:"content"`
}

// SendBroadcast is an opaque message to every session; the server fills Sender.
type SendBroadcast struct {
	Sender  string          `json:"sender"`
	Subject string          `json:"subject"`
	Body    json.RawMessage `json:"body"`
}

// ControlStatus is the body of GET /api/room/control.
type ControlStatus struct {
	HasHost bool   `json:"has_host"`
	HostID  string `json:"host_id,omitempty"`
}

// LoginRequest is the body of POST /api/login.
type LoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// LoginResponse is the body of a successful POST /api/login and of
// GET /api/whoami. Token is empty when the server uses cookies.
type LoginResponse struct {
	ID      string        `json:"id"`
	Token   string        `json:"token,omitempty"`
	Profile MemberProfile `json:"profile"`
	State   SessionState  `json:"state"`
}

// Stats is the body of GET /api/stats (server/pkg/types/session.go).
type Stats struct {
	HasHost         bool       `json:"has_host"`
	HostID          string     `json:"host_id,omitempty"`
	ServerStartedAt time.Time  `json:"server_started_at"`
	TotalUsers      int        `json:"total_users"`
	LastUserLeftAt  *time.Time `json:"last_user_left_at,omitempty"`
	TotalAdmins     int        `json:"total_admins"`
	LastAdminLeftAt *time.Time `json:"last_admin_left_at,omitempty"`
}

// ErrorBody is neko's JSON error body (server/pkg/utils/http.go).
type ErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// CookieName is the cookie neko uses when session.cookie.enabled is true.
const CookieName = "NEKO_SESSION"

func marshalWithID(id string, v any) ([]byte, error) {
	inner, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(inner, &m); err != nil {
		return nil, err
	}
	idJSON, err := json.Marshal(id)
	if err != nil {
		return nil, err
	}
	m["id"] = idJSON
	return json.Marshal(m)
}

func unmarshalWithID(b []byte, id *string, v any) error {
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	*id = head.ID
	return nil
}
