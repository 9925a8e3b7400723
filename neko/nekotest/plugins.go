package nekotest

import (
	"encoding/json"
	"time"
)

// neko v3.1.5 builds in two plugins that talk on every socket whether or not
// they are enabled (server/internal/plugins/chat/manager.go,
// server/internal/plugins/filetransfer/manager.go): on connect each sends
// its state, and chat relays chat/message. Clients that know nothing of
// plugins must ignore these events; nekotest sends them too (unless
// Options.NoPlugins) so that they do.

// Plugin event names (server/internal/plugins/chat/types.go,
// filetransfer/types.go).
const (
	EventChatInit           = "chat/init"
	EventChatMessage        = "chat/message"
	EventFiletransferUpdate = "filetransfer/update"
)

// chatInit is chat.Init; chat.enabled defaults to true.
type chatInit struct {
	Enabled bool `json:"enabled"`
}

// filetransferUpdate is filetransfer.Message; filetransfer.enabled defaults
// to false, and its root_dir to /home/neko/Downloads (a disabled plugin
// lists no files: null).
type filetransferUpdate struct {
	Enabled bool     `json:"enabled"`
	RootDir string   `json:"root_dir"`
	Files   []string `json:"files"`
}

type chatContent struct {
	Text string `json:"text"`
}

type chatMessage struct {
	ID      string      `json:"id"`
	Created time.Time   `json:"created"`
	Content chatContent `json:"content"`
}

// pluginsConnectedLocked runs the plugins' OnConnected hooks, in the order a
// real server was seen sending them.
func (s *Server) pluginsConnectedLocked(sess *session) {
	if s.opts.NoPlugins {
		return
	}
	s.sendLocked(sess, EventFiletransferUpdate, filetransferUpdate{RootDir: "/home/neko/Downloads"})
	s.sendLocked(sess, EventChatInit, chatInit{Enabled: true})
}

// chatMessageLocked is the chat plugin's WebSocketHandler: a sender allowed
// to send reaches every session allowed to receive, itself included. The
// room's plugin settings "chat.can_send" / "chat.can_receive" (default true)
// bind users, not admins (chat/manager.go settingsForSession).
func (s *Server) chatMessageLocked(sess *session, payload json.RawMessage) error {
	var content chatContent
	if err := json.Unmarshal(payload, &content); err != nil {
		return err
	}
	if !s.chatAllowedLocked(sess, "chat.can_send") {
		return errChatNotAllowed
	}
	msg := chatMessage{ID: sess.id, Created: time.Now().UTC(), Content: content}
	for _, other := range s.sessions {
		if s.chatAllowedLocked(other, "chat.can_receive") {
			s.sendLocked(other, EventChatMessage, msg)
		}
	}
	return nil
}

func (s *Server) chatAllowedLocked(sess *session, key string) bool {
	if sess.profile.IsAdmin {
		return true
	}
	allowed, ok := s.settings.Plugins[key].(bool)
	return !ok || allowed
}
