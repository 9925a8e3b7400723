package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/neko"
)

// proxyURL waits for attach to announce its proxy on stderr.
func (p *attachProc) proxyURL(t *testing.T) string {
	t.Helper()
	// attach prints the announcement before its first event line.
	p.until(t, "the first line", func(codrive.Event) bool { return true })
	m := p.stderr.waitFor(regexp.MustCompile(`CDP proxy on (http://127\.0\.0\.1:\d+)`), testTimeout)
	if m == nil {
		t.Fatalf("no proxy announced: %s", p.stderr.String())
	}
	return m[1]
}

// Item 7: two codrive processes with the default user called each other
// "human"; a one-shot `codrive control request` too. Another codrive is
// state "codrive": by its neko user, or because it announced itself.
func TestCodriveKnowsItsOwnSessions(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	p := startAttach(t, srv, c.URL)
	p.until(t, "attached", func(ev codrive.Event) bool { return ev.Reason == "attached" })

	// A one-shot session of the same user: granted control (nobody
	// hosted), then it gives it back.
	code, out, errOut := runCLI(t, "--neko", srv.URL, "--password", "admin", "control", "request")
	if code != 0 || !strings.Contains(out, "nobody hosted") {
		t.Fatalf("control request: %d %s%s", code, out, errOut)
	}
	var seen []string
	ev := p.until(t, "the one-shot hosting", func(ev codrive.Event) bool {
		seen = append(seen, string(ev.Status.State))
		return ev.Kind == codrive.EventState && ev.Status.Host != "" && ev.Status.Host != ev.Status.Session
	})
	if ev.Status.State != codrive.StateCodrive || ev.Status.HostName != "codrive" {
		t.Fatalf("one-shot session hosting: %+v", ev.Status)
	}

	// Another codrive with a user of its own announces itself.
	q := startAttach(t, srv, c.URL, "--user", "robot", "--acquire")
	q.until(t, "robot hosting", func(ev codrive.Event) bool { return ev.Status.State == codrive.StateAutomation })
	ev = p.until(t, "robot hosting, seen by the first", func(ev codrive.Event) bool {
		seen = append(seen, string(ev.Status.State))
		return ev.Status.HostName == "robot"
	})
	if ev.Status.State != codrive.StateCodrive {
		t.Fatalf("another codrive (user robot) hosting is %s: %+v", ev.Status.State, ev.Status)
	}
	for _, s := range seen {
		if s == string(codrive.StateHuman) {
			t.Fatalf("a codrive session was called human: %v", seen)
		}
	}
}

// person is a viewer with a socket whose events the test reads.
func person(t *testing.T, srvURL, name string) (*neko.Client, <-chan neko.Event) {
	t.Helper()
	cl, err := neko.NewClient(srvURL, neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Login(ctxT(t), name, "neko"); err != nil {
		t.Fatal(err)
	}
	conn, err := cl.Connect(ctxT(t), neko.ConnOptions{NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	evs, cancel := conn.Subscribe()
	t.Cleanup(func() { cancel(); _ = conn.Close() })
	return cl, evs
}

func awaitNeko(t *testing.T, evs <-chan neko.Event, what string, ok func(neko.Event) bool) neko.Event {
	t.Helper()
	ev, err := neko.Await(ctxT(t), evs, ok)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return ev
}

// Item 9: POST /codrive/handoff with an empty room blocked for ever, nobody
// in neko was told, and there was no command for it. `codrive handoff`
// returns 0 once the person released, 5 when its time ran out; the people
// in the room read the reason in neko's chat.
func TestHandoffCommand(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	p := startAttach(t, srv, c.URL, "--listen", "127.0.0.1:0", "--acquire")
	proxy := p.proxyURL(t)
	p.until(t, "automation hosting", func(ev codrive.Event) bool { return ev.Status.State == codrive.StateAutomation })
	alice, evs := person(t, srv.URL, "alice")

	cmd := exec.Command(binary(t), "handoff", "--proxy", proxy, "--reason", "solve the CAPTCHA", "--timeout", "20s", "--json")
	cmd.Env = cleanEnv()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	// The chat and the release reach alice on different paths: either
	// order.
	var chat *neko.ChatMessage
	free := false
	awaitNeko(t, evs, "the reason in neko's chat, and control free", func(ev neko.Event) bool {
		if m, ok := ev.Payload.(*neko.ChatMessage); ok {
			chat = m
		}
		free = free || neko.HostIs("")(ev)
		return chat != nil && free
	})
	if !strings.Contains(chat.Content.Text, "solve the CAPTCHA") || !strings.HasPrefix(chat.ID, "codrive-") {
		t.Fatalf("chat message %+v", chat)
	}
	if res, err := alice.RequestControl(ctxT(t)); err != nil || res != neko.ControlGranted {
		t.Fatalf("alice could not take control: %v %v", res, err)
	}
	awaitNeko(t, evs, "alice hosting", neko.HostIs(alice.SessionID()))
	select {
	case err := <-done:
		t.Fatalf("handoff returned before the person released: %v\n%s%s", err, out.String(), errb.String())
	default:
	}
	if err := alice.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var res handoffResult
		if err != nil || json.Unmarshal(out.Bytes(), &res) != nil || !res.Released || res.TimedOut || res.Reason != "solve the CAPTCHA" {
			t.Fatalf("handoff: %v %+v\n%s%s", err, res, out.String(), errb.String())
		}
	case <-time.After(testTimeout):
		t.Fatal("handoff did not return after the person released")
	}

	// Nobody comes: exit 5, within its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	tcmd := exec.CommandContext(ctx, binary(t), "handoff", "--proxy", proxy, "--reason", "anyone?", "--timeout", "1s")
	tcmd.Env = cleanEnv()
	b, err := tcmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitcode.Timeout || !strings.Contains(string(b), "handoff timed out after 1s") {
		t.Fatalf("handoff nobody takes: %v\n%s", err, b)
	}
	if strings.Contains(string(b), "codrive: codrive:") {
		t.Fatalf("stutter: %s", b)
	}
	p.until(t, "automation back", func(ev codrive.Event) bool { return ev.Status.State == codrive.StateAutomation })
}
