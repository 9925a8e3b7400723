package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/internal/roomlock"
	"github.com/codrive/codrive/neko"
)

// Every policy, with a person asking for control while codrive hosts.
func TestPolicies(t *testing.T) {
	for _, policy := range []string{"yield", "finish-step", "hold", "locked"} {
		t.Run(policy, func(t *testing.T) {
			nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
				c := chromium(t, "")
				a := startAttach(t, srv, c.URL, "--acquire", "--policy", policy, "--reclaim-after", "100ms")
				bot := a.automation()
				alice := newPerson(t, srv, "alice")
				if policy == "locked" {
					a.wait("locked", func(e event) bool { return e.Status.Locked })
					if st := alice.conn.Room().Settings; !st.LockedControls || st.ImplicitHosting {
						alice.await("locked settings", func(ev neko.Event) bool {
							s, ok := ev.Payload.(*neko.SystemSettingsUpdate)
							return ok && s.LockedControls && !s.ImplicitHosting
						})
					}
				}
				if policy == "locked" {
					// Over the WebSocket neko drops a user's request while
					// controls are locked; over REST it still reaches the host.
					if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
						t.Fatal(err)
					}
				} else if err := alice.conn.RequestControl(); err != nil {
					t.Fatal(err)
				}
				switch policy {
				case "yield", "finish-step":
					alice.awaitHost(alice.id())
					a.wait("human state", func(e event) bool { return e.Status.State == "human" && e.Status.Host == alice.id() })
					if err := alice.conn.ReleaseControl(); err != nil {
						t.Fatal(err)
					}
					alice.awaitHost(bot)
				case "hold", "locked":
					msg := alice.await("codrive's answer", func(ev neko.Event) bool {
						u, ok := ev.Payload.(*neko.SendUnicast)
						return ok && u.Sender == bot && u.Subject == "codrive"
					})
					if body := string(msg.Payload.(*neko.SendUnicast).Body); !strings.Contains(body, "automation is running") {
						t.Fatalf("answer %s", body)
					}
					a.wait("request kept", func(e event) bool { return e.Kind == "request" && e.Actor == alice.id() })
					if st, err := srv.Control(ctxT(t)); err != nil || st.HostID != bot {
						t.Fatalf("host %+v %v, want codrive %s to keep it", st, err, bot)
					}
				}
				if code := a.signal(syscall.SIGTERM); code != 0 {
					t.Fatalf("attach exit %d", code)
				}
				st, err := srv.Settings(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if !settingsEqual(st, neko.DefaultSettings()) {
					t.Fatalf("settings after %s: %+v", policy, st)
				}
			})
		})
	}
}

// Policy locked restores exactly what it found, whatever else the room had.
func TestLockedRestoresExactSettings(t *testing.T) {
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	initial.InactiveCursors = true
	initial.HeartbeatInterval = 7
	initial.Plugins = map[string]any{"chat.can_send": true, "x.list": []any{1.0, "two"}}
	nekoserver.Each(t, nekoserver.Options{Settings: &initial}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, "")
		a := startAttach(t, srv, c.URL, "--acquire", "--policy", "locked")
		a.automation()
		a.wait("locked", func(e event) bool { return e.Status.Locked })
		locked, err := srv.Settings(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if !locked.LockedControls || locked.ImplicitHosting || !reflect.DeepEqual(roomOwn(locked).Plugins, initial.Plugins) ||
			locked.Plugins[roomlock.Key] == nil || locked.HeartbeatInterval != 7 {
			t.Fatalf("while locked: %+v", locked)
		}
		if code := a.signal(syscall.SIGINT); code != 0 {
			t.Fatalf("attach exit %d", code)
		}
		after, err := srv.Settings(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		if !settingsEqual(after, initial) || after.Plugins[roomlock.Key] != nil {
			t.Fatalf("restored %+v, want exactly %+v", after, initial)
		}
		noHostLeft(t, srv)
	})
}

// With implicit hosting, a person's first mouse move takes control from
// codrive without asking; codrive follows and takes it back afterwards.
func TestImplicitHostingSteal(t *testing.T) {
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	nekoserver.Each(t, nekoserver.Options{Settings: &initial}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, "")
		a := startAttach(t, srv, c.URL, "--acquire", "--reclaim-after", "100ms")
		bot := a.automation()
		alice := newPerson(t, srv, "alice")
		if err := alice.conn.Send(neko.EventControlMove, neko.ControlPos{X: 10, Y: 10}); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost(alice.id())
		a.wait("human after the steal", func(e event) bool { return e.Status.State == "human" && e.Status.Host == alice.id() })
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

// neko restarts under an attached codrive: it logs in again (a new session)
// and takes control back. The time is logged, not asserted.
func TestNekoRestartMidAttach(t *testing.T) {
	for _, how := range []nekoserver.Shutdown{nekoserver.Abrupt, nekoserver.Graceful} {
		t.Run(map[nekoserver.Shutdown]string{nekoserver.Abrupt: "SIGTERM", nekoserver.Graceful: "SIGINT"}[how], func(t *testing.T) {
			nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
				c := chromium(t, "")
				a := startAttach(t, srv, c.URL, "--acquire")
				old := a.automation()
				start := time.Now()
				if err := srv.Restart(ctxT(t), how); err != nil {
					t.Fatal(err)
				}
				up := time.Since(start)
				ev := a.wait("automation on a new session", func(e event) bool {
					return e.Status.State == "automation" && e.Status.Session != "" && e.Status.Session != old
				})
				t.Logf("%s, %v restart: neko back after %v, codrive hosting again %v after the restart began", srv.Kind(), how, up.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
				if st, err := srv.Control(ctxT(t)); err != nil || st.HostID != ev.Status.Session {
					t.Fatalf("host %+v %v, want codrive's new session %s", st, err, ev.Status.Session)
				}
				if code := a.signal(syscall.SIGTERM); code != 0 {
					t.Fatalf("attach exit %d", code)
				}
				noHostLeft(t, srv)
			})
		})
	}
}

// Signals to codrive attach: SIGINT and SIGTERM release control and restore
// the settings it changed; after SIGKILL neko clears the host itself, after
// its delayed disconnect.
func TestAttachSignals(t *testing.T) {
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(strings.ToUpper(sigName(sig)), func(t *testing.T) {
			nekoserver.Each(t, nekoserver.Options{Settings: &initial}, func(t *testing.T, srv nekoserver.Server) {
				c := chromium(t, "")
				alice := newPerson(t, srv, "alice")
				a := startAttach(t, srv, c.URL, "--acquire", "--policy", "locked")
				bot := a.automation()
				alice.awaitHost(bot)
				a.wait("locked", func(e event) bool { return e.Status.Locked })
				killed := time.Now()
				code := a.signal(sig)
				if sig == syscall.SIGKILL {
					if code != 128+9 {
						t.Fatalf("exit %d after SIGKILL", code)
					}
					alice.awaitHost("")
					t.Logf("%s: host cleared %v after SIGKILL (neko's delayed disconnect)", srv.Kind(), time.Since(killed).Round(time.Millisecond))
					return
				}
				if code != 0 {
					t.Fatalf("exit %d after %v", code, sig)
				}
				noHostLeft(t, srv)
				noCodriveSession(t, srv)
				st, err := srv.Settings(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if !settingsEqual(st, initial) {
					t.Fatalf("settings after %v: %+v, want %+v", sig, st, initial)
				}
			})
		})
	}
}

func sigName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "sigint"
	case syscall.SIGTERM:
		return "sigterm"
	case syscall.SIGKILL:
		return "sigkill"
	}
	return sig.String()
}

// A script hands off to a person over the proxy's POST /codrive/handoff: the
// person is told, takes control, releases, and the call returns with codrive
// hosting again.
func TestHandoff(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, "")
		a := startAttach(t, srv, c.URL, "--acquire", "--listen", "127.0.0.1:0")
		proxy := a.proxyURL()
		bot := a.automation()
		alice := newPerson(t, srv, "alice")

		type reply struct {
			code int
			body string
			err  error
		}
		done := make(chan reply, 1)
		go func() {
			resp, err := http.Post(proxy+"/codrive/handoff", "application/json", bytes.NewReader([]byte(`{"reason":"solve the CAPTCHA","timeout":"60s"}`)))
			if err != nil {
				done <- reply{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			done <- reply{resp.StatusCode, string(b), err}
		}()
		// The message (over codrive's socket) and the release (over REST)
		// reach neko by different paths: either may come first.
		told, freed := false, false
		alice.await("the handoff message and the release", func(ev neko.Event) bool {
			if b, ok := ev.Payload.(*neko.SendBroadcast); ok && b.Sender == bot && b.Subject == "codrive" {
				told = strings.Contains(string(b.Body), "solve the CAPTCHA")
			}
			freed = freed || neko.HostIs("")(ev)
			return told && freed
		})
		if err := alice.conn.RequestControl(); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost(alice.id())
		select {
		case r := <-done:
			t.Fatalf("handoff returned while the person hosts: %+v", r)
		default:
		}
		if err := alice.conn.ReleaseControl(); err != nil {
			t.Fatal(err)
		}
		var r reply
		select {
		case r = <-done:
		case <-time.After(deadline):
			t.Fatal("handoff did not return after the person released")
		}
		if r.err != nil || r.code != http.StatusOK {
			t.Fatalf("handoff: %d %s %v", r.code, r.body, r.err)
		}
		var st struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal([]byte(r.body), &st); err != nil {
			t.Fatalf("handoff reply %q: %v", r.body, err)
		}
		alice.awaitHost(bot)
		if code := a.signal(syscall.SIGTERM); code != 0 {
			t.Fatalf("attach exit %d", code)
		}
		noHostLeft(t, srv)
	})
}
