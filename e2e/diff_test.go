package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/neko"
)

// The differences once found between nekotest and real neko v3.1.5, each
// checked on both servers so they cannot come back.

// 1. SIGTERM kills neko at once: sockets drop with 1006 and no message.
// SIGINT is graceful: system/disconnect "connection shutdown" first.
func TestDiffShutdownSignals(t *testing.T) {
	for _, how := range []nekoserver.Shutdown{nekoserver.Abrupt, nekoserver.Graceful} {
		t.Run(map[nekoserver.Shutdown]string{nekoserver.Abrupt: "SIGTERM", nekoserver.Graceful: "SIGINT"}[how], func(t *testing.T) {
			nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
				lr := rawLogin(t, srv, "alice", nekoserver.UserPassword)
				ws := dialRaw(t, srv, lr.token)
				ws.until(neko.EventSessionState)
				stopped := make(chan error, 1)
				go func() { stopped <- srv.Stop(context.Background(), how) }()
				frames, err := ws.closed()
				if !droppedWithoutCloseFrame(err) {
					t.Fatalf("socket ended with %v, want a drop without close frame (1006)", err)
				}
				var disconnects []string
				for _, f := range frames {
					if f.msg.Event == neko.EventSystemDisconnect {
						var d neko.SystemDisconnect
						_ = json.Unmarshal(f.msg.Payload, &d)
						disconnects = append(disconnects, d.Message)
					} else if f.msg.Event != "chat/init" && f.msg.Event != "filetransfer/update" {
						t.Errorf("unexpected frame before the drop: %s", f.raw)
					}
				}
				want := []string(nil)
				if how == nekoserver.Graceful {
					want = []string{"connection shutdown"}
				}
				if !reflect.DeepEqual(disconnects, want) {
					t.Fatalf("system/disconnect messages %q, want %q", disconnects, want)
				}
				if err := <-stopped; err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// 2. Settings carry "plugins": null until set; a POST merges keys into the
// map (server/internal/api/room/settings.go unmarshals over the current
// settings), a null value stays as a null entry, {} on a null map makes it
// {}, and "plugins": null clears it. codrive will keep its crash-safe lock
// lease under "codrive.lock", so this must be exact.
func TestDiffSettingsPlugins(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		admin := rawLogin(t, srv, "root", nekoserver.AdminPassword)
		ws := dialRaw(t, srv, admin.token)
		init := ws.until(neko.EventSystemInit)
		var initPayload struct {
			Settings map[string]json.RawMessage `json:"settings"`
		}
		if err := json.Unmarshal(init.msg.Payload, &initPayload); err != nil {
			t.Fatal(err)
		}
		if got := string(initPayload.Settings["plugins"]); got != "null" {
			t.Fatalf(`system/init settings.plugins = %q, want null`, got)
		}
		plugins := func(raw []byte) string {
			t.Helper()
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%v: %s", err, raw)
			}
			p, ok := m["plugins"]
			if !ok {
				t.Fatalf("no plugins key in %s", raw)
			}
			return string(p)
		}
		steps := []struct{ body, want string }{
			{`{}`, `null`},
			{`{"plugins":{}}`, `{}`},
			{`{"plugins":{"codrive.lock":{"owner":"codrive-x","until":1700000000}}}`, `{"codrive.lock":{"owner":"codrive-x","until":1700000000}}`},
			{`{"plugins":{"other.key":true}}`, `{"codrive.lock":{"owner":"codrive-x","until":1700000000},"other.key":true}`},
			{`{"plugins":{"codrive.lock":null}}`, `{"codrive.lock":null,"other.key":true}`},
			{`{"plugins":null}`, `null`},
		}
		for _, st := range steps {
			if code, b := rawCall(t, srv, admin.token, http.MethodPost, "/api/room/settings", st.body); code != http.StatusNoContent {
				t.Fatalf("POST %s: %d %s", st.body, code, b)
			}
			if got := plugins(ws.until(neko.EventSystemSettings).msg.Payload); got != st.want {
				t.Fatalf("after %s: system/settings plugins %s, want %s", st.body, got, st.want)
			}
			code, b := rawCall(t, srv, admin.token, http.MethodGet, "/api/room/settings", "")
			if code != http.StatusOK {
				t.Fatalf("GET settings: %d %s", code, b)
			}
			if got := plugins(b); got != st.want {
				t.Fatalf("after %s: GET plugins %s, want %s", st.body, got, st.want)
			}
		}
		// The typed client reads and merges the same way.
		ctx := ctxT(t)
		if err := srv.UpdateSettings(ctx, neko.SettingsPatch{Plugins: map[string]any{"codrive.lock": map[string]any{"owner": "y"}}}); err != nil {
			t.Fatal(err)
		}
		if err := srv.UpdateSettings(ctx, neko.SettingsPatch{Plugins: map[string]any{"k": nil}}); err != nil {
			t.Fatal(err)
		}
		st, err := srv.Settings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]any{"codrive.lock": map[string]any{"owner": "y"}, "k": nil}; !reflect.DeepEqual(st.Plugins, want) {
			t.Fatalf("plugins %#v, want %#v", st.Plugins, want)
		}
	})
}

// 3. Cookie mode: the cookie is HttpOnly, Secure and SameSite=None
// (server/internal/session/auth.go CookieSetToken with neko's defaults).
func TestDiffCookieAttributes(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{Cookies: true}, func(t *testing.T, srv nekoserver.Server) {
		lr := rawLogin(t, srv, "alice", nekoserver.UserPassword)
		if lr.token != "" || strings.Contains(string(lr.body), `"token"`) {
			t.Fatalf("token in the login body in cookie mode: %s", lr.body)
		}
		c := lr.cookie
		if c == nil || c.Value == "" {
			t.Fatalf("no %s cookie: %v", neko.CookieName, lr.header.Values("Set-Cookie"))
		}
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteNoneMode {
			t.Fatalf("Set-Cookie %q: want HttpOnly; Secure; SameSite=None", lr.header.Get("Set-Cookie"))
		}
	})
}

// 4. After init come the plugins' messages (filetransfer/update, chat/init),
// and chat/message is relayed to everyone. The neko client decodes the
// chat's, passes the others on as unknown events and counts nothing
// malformed; codrive keeps arbitrating.
func TestDiffPluginMessagesAreIgnored(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		// The exact order after connect, on the wire.
		lr := rawLogin(t, srv, "watcher", nekoserver.AdminPassword)
		ws := dialRaw(t, srv, lr.token)
		var order []string
		for len(order) < 5 {
			order = append(order, ws.next().msg.Event)
		}
		if want := []string{neko.EventSystemInit, neko.EventSystemAdmin, neko.EventSessionState}; !reflect.DeepEqual(order[:3], want) {
			t.Fatalf("first frames %v, want %v", order, want)
		}
		plugins := order[3:]
		if !(reflect.DeepEqual(plugins, []string{"filetransfer/update", "chat/init"}) || reflect.DeepEqual(plugins, []string{"chat/init", "filetransfer/update"})) {
			t.Fatalf("plugin messages %v, want chat/init and filetransfer/update", plugins)
		}

		c := chromium(t, "")
		a := startAttach(t, srv, c.URL, "--acquire")
		a.automation()
		alice := newPerson(t, srv, "alice")
		if err := alice.conn.Send("chat/message", map[string]any{"text": "hello codrive"}); err != nil {
			t.Fatal(err)
		}
		msg := alice.await("chat/message", func(ev neko.Event) bool { return ev.Name == "chat/message" })
		// codrive reads the chat plugin's messages (it posts a handoff's
		// reason there); the rest of the plugins' stay unknown events.
		if m, ok := msg.Payload.(*neko.ChatMessage); !ok || m.Content.Text != "hello codrive" || m.ID != alice.id() {
			t.Fatalf("chat/message delivered as %T %s, want a neko.ChatMessage", msg.Payload, msg.Raw)
		}
		if n := alice.conn.Room().Malformed; n != 0 {
			t.Fatalf("the neko client counted %d malformed frames", n)
		}
		// codrive got the same chat/message and went on: it still hosts and
		// answers a request under its policy.
		if err := alice.conn.RequestControl(); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost(alice.id())
		a.wait("yield to alice", func(e event) bool { return e.Status.State == "human" && e.Status.Host == alice.id() })
		for _, e := range a.seen {
			if e.Kind == "error" {
				t.Errorf("codrive reported an error: %s", e)
			}
		}
		if code := a.signal(syscall.SIGINT); code != 0 {
			t.Fatalf("attach exit %d", code)
		}
	})
}

// 5. Defaults differ by version (cookies on in the v3.1.5 binary, off in the
// image): codrive detects cookie mode by itself, without --cookies.
func TestDiffCookieModeStatus(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{Cookies: true}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, "")
		code, out, errOut := runCodrive(t, srv, c.URL, "status", "--json")
		if code != 0 {
			t.Fatalf("status against a cookie-mode neko: exit %d\n%s%s", code, out, errOut)
		}
		var r struct {
			State string `json:"state"`
			Neko  struct {
				Protocol string `json:"protocol"`
				Admin    bool   `json:"admin"`
			} `json:"neko"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.State != "ready" || !r.Neko.Admin || !strings.Contains(r.Neko.Protocol, "system/init") {
			t.Fatalf("status %+v\n%s", r, out)
		}
		// attach too: its WebSocket authenticates with the cookie.
		a := startAttach(t, srv, c.URL, "--acquire")
		a.automation()
		if code := a.signal(syscall.SIGINT); code != 0 {
			t.Fatalf("attach exit %d", code)
		}
		noHostLeft(t, srv)
	})
}

// 5'. The bare v3.1.5 binary, without the image's config, has implicit
// hosting and cookie login on; codrive works with that as it is.
func TestDiffBinaryDefaults(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{BinaryDefaults: true}, func(t *testing.T, srv nekoserver.Server) {
		st, err := srv.Settings(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if !st.ImplicitHosting {
			t.Fatalf("implicit_hosting off with the binary's defaults: %+v", st)
		}
		if lr := rawLogin(t, srv, "alice", nekoserver.UserPassword); lr.token != "" || lr.cookie == nil {
			t.Fatalf("login with the binary's defaults: token %v, cookie %v", lr.token != "", lr.cookie != nil)
		}
		c := chromium(t, "")
		a := startAttach(t, srv, c.URL, "--acquire", "--reclaim-after", "100ms")
		bot := a.automation()
		alice := newPerson(t, srv, "alice")
		// Implicit hosting: a move takes control, without asking.
		if err := alice.conn.Send(neko.EventControlMove, neko.ControlPos{X: 1, Y: 1}); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost(alice.id())
		if err := alice.conn.ReleaseControl(); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost(bot)
		if code := a.signal(syscall.SIGTERM); code != 0 {
			t.Fatalf("attach exit %d", code)
		}
		noHostLeft(t, srv)
	})
}
