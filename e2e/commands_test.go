package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/internal/roomlock"
	"github.com/codrive/codrive/neko"
)

// A person logs in and connects: system/init describes the room, the neko
// client's Room follows it, and the admin view agrees.
func TestLoginAndInit(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		alice := newPerson(t, srv, "alice")
		if !strings.HasPrefix(alice.id(), "alice-") {
			t.Fatalf("session id %q, want alice-XXXXX", alice.id())
		}
		if p := alice.client.Profile(); p.IsAdmin || !p.CanHost || p.Name != "alice" {
			t.Fatalf("user profile %+v", p)
		}
		room := alice.conn.Room()
		if !room.Connected || room.SessionID != alice.id() || room.Host.HasHost {
			t.Fatalf("room after init %+v", room)
		}
		if !room.Settings.MercifulReconnect || room.Settings.HeartbeatInterval != 10 || room.Settings.Plugins != nil || room.Settings.ImplicitHosting {
			t.Fatalf("settings in system/init %+v, want the image's defaults", room.Settings)
		}
		if s, ok := room.Sessions[alice.id()]; !ok || s.Profile.Name != "alice" {
			t.Fatalf("own session missing from system/init: %+v", room.Sessions)
		}
		if room.ScreenSize.Width == 0 || room.ScreenSize.Height == 0 {
			t.Fatalf("no screen size: %+v", room.ScreenSize)
		}
		// bob arrives: alice hears of him.
		bob := newPerson(t, srv, "bob")
		alice.await("bob connected", func(ev neko.Event) bool {
			st, ok := ev.Payload.(*neko.SessionStateUpdate)
			return ok && st.ID == bob.id() && st.IsConnected
		})
		sessions, err := srv.Sessions(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		connected := map[string]bool{}
		for _, s := range sessions {
			connected[s.Profile.Name] = s.State.IsConnected
		}
		if !connected["alice"] || !connected["bob"] {
			t.Fatalf("sessions %+v", sessions)
		}
		if n := alice.conn.Room().Malformed; n != 0 {
			t.Fatalf("%d malformed frames", n)
		}
	})
}

// Control round trips: neko's REST control API as people use it, and
// `codrive control` on top of it.
func TestControlRoundTrips(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		ctx := ctxT(t)
		alice, bob := newPerson(t, srv, "alice"), newPerson(t, srv, "bob")
		if res, err := alice.client.RequestControl(ctx); err != nil || res != neko.ControlGranted {
			t.Fatalf("request on a free room: %v %v", res, err)
		}
		bob.awaitHost(alice.id())
		if res, err := bob.client.RequestControl(ctx); err != nil || res != neko.ControlPending {
			t.Fatalf("request while alice hosts: %v %v, want pending (202)", res, err)
		}
		alice.await("bob's request", func(ev neko.Event) bool {
			r, ok := ev.Payload.(*neko.SessionID)
			return ok && ev.Name == neko.EventControlRequest && r.ID == bob.id()
		})
		if err := alice.client.GiveControl(ctx, bob.id()); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost(bob.id())
		if err := alice.client.ReleaseControl(ctx); err == nil {
			t.Fatal("alice released control she does not hold")
		}

		// The CLI, as an admin.
		ctl := func(args ...string) string {
			t.Helper()
			code, out, errOut := runCodrive(t, srv, "http://127.0.0.1:1", append([]string{"control"}, args...)...)
			if code != 0 {
				t.Fatalf("codrive control %v: exit %d\n%s%s", args, code, out, errOut)
			}
			return out
		}
		if out := ctl("request"); !strings.Contains(out, "request sent to the current host bob ("+bob.id()+")") {
			t.Fatalf("control request: %q", out)
		}
		bob.await("codrive's request", func(ev neko.Event) bool { return ev.Name == neko.EventControlRequest })
		ctl("give", "alice")
		bob.awaitHost(alice.id())
		ctl("take", bob.id())
		alice.awaitHost(bob.id())
		if out := ctl("reset"); !strings.Contains(out, "bob") {
			t.Fatalf("control reset: %q", out)
		}
		alice.awaitHost("")
		noHostLeft(t, srv)
		// A person over the WebSocket.
		if err := bob.conn.RequestControl(); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost(bob.id())
		if err := bob.conn.ReleaseControl(); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost("")
	})
}

// codrive status: one snapshot naming the host; unreachable when neko is down.
func TestStatus(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, "")
		alice := newPerson(t, srv, "alice")
		if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCodrive(t, srv, c.URL, "status", "--json")
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		var r struct {
			State string `json:"state"`
			Neko  struct {
				Admin bool `json:"admin"`
				Host  *struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"host"`
				Settings json.RawMessage `json:"settings"`
			} `json:"neko"`
			CDP struct {
				Reachable bool `json:"reachable"`
			} `json:"cdp"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.State != "ready" || !r.Neko.Admin || r.Neko.Host == nil || r.Neko.Host.ID != alice.id() || r.Neko.Host.Name != "alice" || !r.CDP.Reachable {
			t.Fatalf("status %+v\n%s", r, out)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, r.Neko.Settings); err != nil || !strings.Contains(compact.String(), `"plugins":null`) {
			t.Fatalf("settings in the report: %s", r.Neko.Settings)
		}
		noCodriveSession(t, srv)

		if err := srv.Stop(ctxT(t), nekoserver.Abrupt); err != nil {
			t.Fatal(err)
		}
		code, out, _ = runCodrive(t, srv, c.URL, "status", "--timeout", "5s")
		if code != 4 || !strings.Contains(out, "unreachable") {
			t.Fatalf("status with neko down: exit %d\n%s", code, out)
		}
	})
}

// codrive wait: started while neko is down, it returns once neko is up.
func TestWait(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, "")
		if err := srv.Stop(ctxT(t), nekoserver.Abrupt); err != nil {
			t.Fatal(err)
		}
		cmd := codriveCmd(t, srv, c.URL, "wait", "--timeout", "60s")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		lines := make(chan string, 64)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		var out []string
		next := func() string {
			t.Helper()
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("wait ended early:\n%s\n%s", strings.Join(out, "\n"), stderr.String())
				}
				out = append(out, l)
				return l
			case <-time.After(deadline):
				t.Fatalf("wait printed nothing more:\n%s", strings.Join(out, "\n"))
			}
			return ""
		}
		if l := next(); !strings.HasPrefix(l, "waiting  neko /health") {
			t.Fatalf("first line %q, want it waiting for neko", l)
		}
		if err := srv.Start(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		for l := next(); l != "ready: neko and Chromium answer"; l = next() {
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("wait: %v\n%s", err, stderr.String())
		}
		for _, want := range []string{"ok       neko /health", "ok       neko login", "ok       chromium /json/version"} {
			if !strings.Contains(strings.Join(out, "\n"), want) {
				t.Errorf("wait output lacks %q:\n%s", want, strings.Join(out, "\n"))
			}
		}
		noCodriveSession(t, srv)
	})
}

// codrive smoke --junit passes every check on both servers and leaves the
// room as it found it.
func TestSmokeJUnit(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, "")
		before, err := srv.Settings(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		junit := filepath.Join(t.TempDir(), "smoke.xml")
		code, out, errOut := runCodrive(t, srv, c.URL, "smoke", "--user-password", nekoserver.UserPassword, "--junit", junit)
		if code != 0 || !strings.Contains(out, "smoke PASSED") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		b, err := os.ReadFile(junit)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Suites []struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
				Cases    []struct {
					Name    string    `xml:"name,attr"`
					Failure *struct{} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal(b, &doc); err != nil || len(doc.Suites) != 1 {
			t.Fatalf("junit %v\n%s", err, b)
		}
		s := doc.Suites[0]
		if s.Failures != 0 || s.Tests < 10 || len(s.Cases) != s.Tests {
			t.Fatalf("junit: %d tests, %d failures\n%s", s.Tests, s.Failures, b)
		}
		t.Logf("smoke on %s: %d checks", srv.Kind(), s.Tests)
		after, err := srv.Settings(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !settingsEqual(before, after) {
			t.Fatalf("smoke changed the settings: %+v -> %+v", before, after)
		}
		noHostLeft(t, srv)
	})
}

// settingsEqual compares the room's own settings: codrive's lock record
// (plugin setting codrive.lock: the lease while locked, then a null that
// neko keeps, since a settings POST cannot delete a plugin key) is left out.
func settingsEqual(a, b neko.Settings) bool {
	ja, _ := json.Marshal(roomOwn(a))
	jb, _ := json.Marshal(roomOwn(b))
	return string(ja) == string(jb)
}

func roomOwn(s neko.Settings) neko.Settings {
	s = s.Clone()
	delete(s.Plugins, roomlock.Key)
	if len(s.Plugins) == 0 {
		s.Plugins = nil
	}
	return s
}
