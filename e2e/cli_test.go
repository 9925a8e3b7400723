package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/neko"
)

// Issue 12 on both servers: another codrive (its own neko user) announces
// itself and is never called human; `codrive handoff` tells the room in
// neko's chat, waits for the person's turn and exits 0 (5 when nobody
// comes: cmd/codrive tests that).
func TestCodriveSessionsAndHandoffCommand(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, "")
		a := startAttach(t, srv, c.URL, "--listen", "127.0.0.1:0", "--acquire")
		proxy := a.proxyURL()
		a.automation()

		// A second codrive, user robot: the first sees it as codrive.
		b := startAttach(t, srv, c.URL, "--user", "robot", "--policy", "hold")
		b.wait("robot connected", func(e event) bool { return e.Reason == "attached" })

		alice := newPerson(t, srv, "alice")
		cmd := exec.Command(codriveBin(t), "handoff", "--proxy", proxy, "--reason", "solve the CAPTCHA", "--timeout", "60s")
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		var chat *neko.ChatMessage
		free := false
		alice.await("the reason in neko's chat, and control free", func(ev neko.Event) bool {
			if m, ok := ev.Payload.(*neko.ChatMessage); ok && strings.Contains(m.Content.Text, "solve the CAPTCHA") {
				chat = m
			}
			free = free || neko.HostIs("")(ev)
			return chat != nil && free
		})
		if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		alice.awaitHost(alice.id())
		if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("codrive handoff after the person's turn: %v", err)
		}
		a.automation()

		// robot takes control: the first codrive calls it codrive.
		if code, out, errOut := runCodrive(t, srv, c.URL, "control", "give", "robot"); code != 0 {
			t.Fatalf("control give robot: %d %s%s", code, out, errOut)
		}
		ev := a.wait("robot hosting", func(e event) bool { return e.Status.HostName == "robot" })
		if ev.Status.State != "codrive" {
			t.Fatalf("another codrive hosting is %q", ev.Status.State)
		}
		for _, e := range a.seen {
			if e.Status.State == "human" && e.Status.HostName != "alice" {
				t.Fatalf("a codrive session was called human: %s", e)
			}
		}
	})
}
