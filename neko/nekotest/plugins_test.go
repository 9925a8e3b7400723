package nekotest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/codrive/codrive/neko"
)

// After session/state, like neko v3.1.5: filetransfer/update, then chat/init.
func TestPluginMessagesAfterInit(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.NoPlugins = false
	s := startServer(t, opts)
	c := loginAdmin(t, s, "a").dialInit()
	c.expect(neko.EventSessionState)
	ft := expectPayload[map[string]any](c, EventFiletransferUpdate)
	if want := map[string]any{"enabled": false, "root_dir": "/home/neko/Downloads", "files": nil}; !reflect.DeepEqual(ft, want) {
		t.Fatalf("filetransfer/update %v, want %v", ft, want)
	}
	if ci := expectPayload[map[string]any](c, EventChatInit); !reflect.DeepEqual(ci, map[string]any{"enabled": true}) {
		t.Fatalf("chat/init %v", ci)
	}
	c.silent()
}

func TestChatMessageRelay(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.NoPlugins = false
	s := startServer(t, opts)
	a := loginAdmin(t, s, "a").dialInit()
	a.waitEvent(EventChatInit)
	u := loginUser(t, s, "u").dialInit()
	u.waitEvent(EventChatInit)
	a.waitEvent(neko.EventSessionState)

	u.send(EventChatMessage, map[string]any{"text": "hi"})
	for _, c := range []*wsConn{u, a} {
		got := expectPayload[chatMessage](c, EventChatMessage)
		if got.ID != u.id || got.Content.Text != "hi" || got.Created.IsZero() {
			t.Fatalf("socket %s: chat/message %+v", c.id, got)
		}
	}
	// chat.can_send false binds users, not admins.
	s.SetSettings(neko.Settings{MercifulReconnect: true, HeartbeatInterval: 10, Plugins: map[string]any{"chat.can_send": false}})
	a.expect(neko.EventSystemSettings)
	u.expect(neko.EventSystemSettings)
	u.send(EventChatMessage, map[string]any{"text": "muted"})
	u.silent()
	a.send(EventChatMessage, map[string]any{"text": "admin"})
	if got := expectPayload[chatMessage](u, EventChatMessage); got.Content.Text != "admin" {
		t.Fatalf("admin chat: %+v", got)
	}
}

func TestNoPluginsChatIsUnhandled(t *testing.T) {
	t.Parallel()
	logs := newLogRecorder()
	opts := quiet()
	opts.Logger = logs.logger()
	s := startServer(t, opts)
	u := loginUser(t, s, "u")
	c := u.dialInit()
	c.expect(neko.EventSessionState)
	c.send(EventChatMessage, map[string]any{"text": "hi"})
	c.silent()
	logs.wait(t, "unhandled message", u.ID, 1)
}

// The plugins map follows json.Unmarshal over the live settings
// (internal/api/room/settings.go), as seen on neko v3.1.5.
func TestSettingsPluginsMerge(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a := loginAdmin(t, s, "a")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)

	getPlugins := func() json.RawMessage {
		t.Helper()
		var raw map[string]json.RawMessage
		res := a.mustCall(http.MethodGet, "/api/room/settings", nil, http.StatusOK)
		if err := json.Unmarshal(res.body, &raw); err != nil {
			t.Fatal(err)
		}
		return raw["plugins"]
	}
	post := func(body string, code int) {
		t.Helper()
		a.mustCall(http.MethodPost, "/api/room/settings", json.RawMessage(body), code)
	}
	broadcast := func() json.RawMessage {
		t.Helper()
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(ac.expect(neko.EventSystemSettings).Payload, &raw); err != nil {
			t.Fatal(err)
		}
		return raw["plugins"]
	}
	steps := []struct {
		body, want string
		code       int
	}{
		{`{}`, `null`, http.StatusNoContent},
		{`{"plugins":{}}`, `{}`, http.StatusNoContent},
		{`{"plugins":{"codrive.lock":{"owner":"x","n":1}}}`, `{"codrive.lock":{"n":1,"owner":"x"}}`, http.StatusNoContent},
		{`{"plugins":{"b":2}}`, `{"b":2,"codrive.lock":{"n":1,"owner":"x"}}`, http.StatusNoContent},
		{`{"plugins":{"codrive.lock":{"owner":"y"}}}`, `{"b":2,"codrive.lock":{"owner":"y"}}`, http.StatusNoContent},
		{`{"plugins":{"codrive.lock":null}}`, `{"b":2,"codrive.lock":null}`, http.StatusNoContent},
		// A type error after "plugins": 400, no broadcast, and yet the keys
		// before it are merged into the live map.
		{`{"plugins":{"c":3},"private_mode":"bad"}`, `{"b":2,"c":3,"codrive.lock":null}`, http.StatusBadRequest},
		{`{"plugins":null}`, `null`, http.StatusNoContent},
	}
	for _, st := range steps {
		post(st.body, st.code)
		if st.code == http.StatusNoContent {
			if got := broadcast(); string(got) != st.want {
				t.Fatalf("after %s: system/settings plugins %s, want %s", st.body, got, st.want)
			}
		}
		if got := getPlugins(); string(got) != st.want {
			t.Fatalf("after %s: GET plugins %s, want %s", st.body, got, st.want)
		}
	}
	ac.silent()
	// Snapshots are copies: changing one changes nothing in the server.
	post(`{"plugins":{"k":{"deep":true}}}`, http.StatusNoContent)
	snap := s.Settings()
	snap.Plugins["k"].(map[string]any)["deep"] = false
	if got := s.Settings().Plugins["k"].(map[string]any)["deep"]; got != true {
		t.Fatalf("a snapshot shares the server's map: %v", got)
	}
}
