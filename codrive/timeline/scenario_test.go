package timeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/codrive/cdpproxy"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// deadline bounds every wait of the scenario.
const deadline = 60 * time.Second

// eventGate is the Controller of the scenario's own proxy: its gate is
// open exactly when the last event of the real `codrive attach` said
// automation may act (status.go). It lets a proxy of the test's, whose
// OnHeld feeds the Recorder, hold commands by the real arbitration without
// the codrive Go API.
type eventGate struct {
	mu     sync.Mutex
	st     cdpproxy.Status
	open   bool
	opened chan struct{} // closed while open
	subs   map[chan cdpproxy.Status]struct{}
	waits  chan struct{} // one entry per Begin that had to block
}

func newEventGate() *eventGate {
	return &eventGate{opened: make(chan struct{}), subs: map[chan cdpproxy.Status]struct{}{}, waits: make(chan struct{}, 100)}
}

func (g *eventGate) update(ev Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := ev.Status
	g.st = cdpproxy.Status{State: st.State, Host: st.Host, HostName: st.HostName, Since: st.Since, Reason: st.Reason, Gate: st.Gate}
	switch {
	case st.Go && !g.open:
		close(g.opened)
	case !st.Go && g.open:
		g.opened = make(chan struct{})
	}
	g.open = st.Go
	for ch := range g.subs {
		select {
		case ch <- g.st:
		default:
		}
	}
}

type noStep struct{}

func (noStep) Sent() {}
func (noStep) Done() {}

func (g *eventGate) Begin(ctx context.Context, _ cdpproxy.StepKind) (cdpproxy.Step, error) {
	g.mu.Lock()
	open, opened := g.open, g.opened
	g.mu.Unlock()
	if open {
		return noStep{}, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	select {
	case g.waits <- struct{}{}:
	default:
	}
	select {
	case <-opened:
		return noStep{}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *eventGate) Status() cdpproxy.Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st
}

func (g *eventGate) Subscribe() (<-chan cdpproxy.Status, func()) {
	ch := make(chan cdpproxy.Status, 16)
	g.mu.Lock()
	g.subs[ch] = struct{}{}
	g.mu.Unlock()
	return ch, func() {
		g.mu.Lock()
		delete(g.subs, ch)
		g.mu.Unlock()
	}
}

func (g *eventGate) Handoff(context.Context, string) error {
	return io.ErrUnexpectedEOF // the scenario hands off through codrive's own proxy
}

func (g *eventGate) waitBlocked(t *testing.T) {
	t.Helper()
	select {
	case <-g.waits:
	case <-time.After(deadline):
		t.Fatal("no script command reached the closed gate")
	}
}

// attachProc is the real `codrive attach --json --listen`, its stdout fed
// line by line to the Recorder, as `codrive attach --record` will.
type attachProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	events chan Event
	lines  [][]byte // every stdout line, as printed
	mu     sync.Mutex
	stderr bytes.Buffer
	proxy  chan string
	read   chan struct{} // closed when stdout is drained
	exited chan struct{}
	err    error
}

func startAttach(t *testing.T, nekoURL, cdpURL, tab string, rec *Recorder, gate *eventGate) *attachProc {
	t.Helper()
	cmd := exec.Command(codriveBin(t), "--neko", nekoURL, "--cdp", cdpURL, "--log-level", "info",
		"attach", "--json", "--acquire", "--listen", "127.0.0.1:0", "--target", tab,
		"--policy", "yield", "--reclaim-after", "100ms", "--idle-release", "0")
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD=admin")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	a := &attachProc{t: t, cmd: cmd, events: make(chan Event, 4096), proxy: make(chan string, 1), read: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderrDone := make(chan struct{})
	go func() {
		defer close(stderrDone)
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			line := sc.Text()
			a.mu.Lock()
			a.stderr.WriteString(line + "\n")
			a.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "codrive: CDP proxy on "); ok {
				u, _, _ = strings.Cut(u, " ")
				select {
				case a.proxy <- u:
				default:
				}
			}
		}
	}()
	go func() {
		defer close(a.read)
		defer close(a.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := bytes.Clone(sc.Bytes())
			if err := rec.EventJSON(line); err != nil {
				t.Errorf("attach --json printed %q: %v", line, err)
				continue
			}
			ev, _ := ParseEvent(line)
			gate.update(ev)
			a.mu.Lock()
			a.lines = append(a.lines, line)
			a.mu.Unlock()
			a.events <- ev
		}
	}()
	go func() {
		<-stderrDone
		<-a.read
		a.err = cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-a.exited
		if t.Failed() {
			a.mu.Lock()
			t.Logf("codrive attach stderr:\n%s", a.stderr.String())
			a.mu.Unlock()
		}
	})
	return a
}

// wait reads events until ok accepts one.
func (a *attachProc) wait(what string, ok func(Event) bool) Event {
	a.t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case ev, open := <-a.events:
			if !open {
				a.t.Fatalf("attach ended before %s", what)
			}
			if ok(ev) {
				return ev
			}
		case <-timer.C:
			a.t.Fatalf("no attach event with %s within %v", what, deadline)
		}
	}
}

func (a *attachProc) proxyURL() string {
	a.t.Helper()
	select {
	case u := <-a.proxy:
		return u
	case <-a.exited:
		a.t.Fatalf("attach exited before serving its proxy: %v", a.err)
	case <-time.After(deadline):
		a.t.Fatal("attach never printed its proxy URL")
	}
	return ""
}

// stop ends attach as an operator does (SIGTERM) and waits until every
// line it printed was recorded.
func (a *attachProc) stop() {
	a.t.Helper()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		a.t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(deadline):
		a.t.Fatal("attach still running after SIGTERM")
	}
	if a.err != nil {
		a.t.Fatalf("attach exited with %v", a.err)
	}
}

// person is a viewer in neko: control over the WebSocket, like a browser.
type person struct {
	t      *testing.T
	client *neko.Client
	conn   *neko.Conn
	events <-chan neko.Event
}

func newPerson(t *testing.T, nekoURL, name string) *person {
	t.Helper()
	c, err := neko.NewClient(nekoURL, neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctxT(t, deadline), name, "neko"); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Connect(ctxT(t, deadline), neko.ConnOptions{NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	events, cancel := conn.Subscribe()
	t.Cleanup(func() {
		cancel()
		_ = conn.Close()
	})
	return &person{t: t, client: c, conn: conn, events: events}
}

func (p *person) id() string { return p.client.SessionID() }

func (p *person) await(what string, ok func(neko.Event) bool) {
	p.t.Helper()
	if _, err := neko.Await(ctxT(p.t, deadline), p.events, ok); err != nil {
		p.t.Fatalf("%s waiting for %s: %v", p.id(), what, err)
	}
}

// pace is the scene's tempo: how long automation lingers between steps and
// how long the person takes over her part. It is what a person watching
// sees, not synchronisation: every step waits on real events.
type pace struct{ step, turn time.Duration }

func dwell(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

// shopRun is a recorded run and what the test saw of it on its own.
type shopRun struct {
	dir   string
	lines [][]byte
	held  []cdpproxy.HeldCommand
}

// recordShopRun records a scripted order on the shop: automation fills it
// through a gating proxy, alice asks for control midway and adds a note
// (two script actions wait for her), then the script hands off the bank's
// confirmation to her, and finishes. Everything is real: the codrive
// binary against nekotest, Chromium, the proxy, screenshots over CDP.
func recordShopRun(t *testing.T, p pace) shopRun {
	c := chromium(t)
	site := shopSite(t)
	tab := c.NewTabT(t, "about:blank")
	srv := nekotest.NewServer(nekotest.Options{HeartbeatPeriod: time.Second, DelayedDisconnect: 500 * time.Millisecond})
	t.Cleanup(srv.Close)

	shots, err := AttachTab(ctxT(t, deadline), c.URL, TabOptions{Target: tab})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shots.Close() })
	dir := filepath.Join(t.TempDir(), "recording")
	rec, err := Start(dir, Options{Title: "codrive timeline", Capture: shots.Capture})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = rec.Close(context.Background())
		}
	})
	var heldMu sync.Mutex
	var held []cdpproxy.HeldCommand
	gate := newEventGate()
	proxy, err := cdpproxy.Listen(cdpproxy.Options{Upstream: c.URL, Controller: gate, OnHeld: func(h cdpproxy.HeldCommand) {
		rec.Held(h)
		heldMu.Lock()
		held = append(held, h)
		heldMu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })

	a := startAttach(t, srv.URL, c.URL, tab, rec, gate)
	codriveProxy := a.proxyURL()
	a.wait("automation", func(e Event) bool { return e.Status.State == stateAutomation })
	script := dialCDP(t, "ws://"+strings.TrimPrefix(proxy.URL(), "http://")+"/devtools/page/"+tab)
	script.call("Page.enable", nil)
	// The person's hands: neko's desktop input reaches the page without
	// any proxy; here that is a DevTools connection straight to the tab.
	hands := dialCDP(t, "ws://"+strings.TrimPrefix(c.URL, "http://")+"/devtools/page/"+tab)

	// Automation opens the shop and starts the order.
	script.navigate(site.URL + "/")
	dwell(p.step)
	script.navigate(site.URL + "/order")
	dwell(p.step)
	script.eval(`document.querySelector('#name').value = 'Ada Lovelace'`)
	dwell(p.step)
	script.eval(`document.querySelector('#email').value = 'ada@example.com'`)
	dwell(p.step)

	// alice asks for control midway; codrive yields (policy yield).
	alice := newPerson(t, srv.URL, "alice")
	if err := alice.conn.RequestControl(); err != nil {
		t.Fatal(err)
	}
	alice.await("her turn", neko.HostIs(alice.id()))
	a.wait("alice hosting", func(e Event) bool { return e.Status.State == stateHuman && e.Status.Host == alice.id() })
	// The script goes on; its actions wait for her turn to end.
	qty := script.start("Runtime.evaluate", map[string]any{"expression": `document.querySelector('#qty').value = '2'`})
	gate.waitBlocked(t)
	focus := script.start("Runtime.evaluate", map[string]any{"expression": `document.querySelector('#continue').focus()`})
	dwell(p.turn / 3) // she looks at the page first
	hands.eval(`document.querySelector('#note').value = 'Leave it at the door, please'`)
	dwell(p.turn / 2)
	hands.eval(`document.querySelector('#gift').checked = true`)
	dwell(p.turn / 2)
	if err := alice.conn.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	a.wait("automation after alice", func(e Event) bool { return e.Status.State == stateAutomation && e.Status.Go })
	for _, ch := range []<-chan cdpAnswer{qty, focus} {
		if _, err := script.await(ch, "held action"); err != nil {
			t.Fatal(err)
		}
	}
	dwell(p.step)
	script.navigate(site.URL + "/pay")
	dwell(p.step)

	// The bank wants a person: the script hands off over codrive's proxy.
	type reply struct {
		code int
		body string
		err  error
	}
	done := make(chan reply, 1)
	go func() {
		resp, err := http.Post(codriveProxy+"/codrive/handoff", "application/json", strings.NewReader(`{"reason":"confirm the payment with the bank","timeout":"60s"}`))
		if err != nil {
			done <- reply{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		done <- reply{resp.StatusCode, string(b), err}
	}()
	a.wait("the handoff", func(e Event) bool { return e.Status.Gate == gateHandoff && e.Status.State == stateFree })
	alice.await("the room free", func(ev neko.Event) bool { return neko.HostIs("")(ev) })
	dwell(p.turn / 3) // she reads codrive's message first
	if err := alice.conn.RequestControl(); err != nil {
		t.Fatal(err)
	}
	alice.await("her second turn", neko.HostIs(alice.id()))
	hands.eval(`document.querySelector('#code').value = '482913'`)
	dwell(p.turn / 2)
	hands.eval(`document.querySelector('#approve').click()`)
	dwell(p.turn / 2)
	if err := alice.conn.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	var r reply
	select {
	case r = <-done:
	case <-time.After(deadline):
		t.Fatal("the handoff did not return after alice released")
	}
	if r.err != nil || r.code != http.StatusOK {
		t.Fatalf("handoff: %d %s %v", r.code, r.body, r.err)
	}
	a.wait("automation after the handoff", func(e Event) bool { return e.Status.State == stateAutomation && e.Status.Go })
	dwell(p.step)
	script.navigate(site.URL + "/done")
	dwell(2 * p.step)

	a.stop()
	if err := rec.Close(ctxT(t, deadline)); err != nil {
		t.Fatal(err)
	}
	closed = true
	heldMu.Lock()
	defer heldMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	return shopRun{dir: dir, lines: a.lines, held: held}
}

// readJSONLines reads a JSON-lines file.
func readJSONLines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, l := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		if len(l) > 0 {
			out = append(out, l)
		}
	}
	return out
}

func compactJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
