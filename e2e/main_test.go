package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/internal/proctest"
	"github.com/codrive/codrive/neko"
)

// deadline bounds each wait of a scenario. Generous: the machines are shared,
// and real neko's delayed disconnect alone is 5 s.
const deadline = 60 * time.Second

// bin is the codrive binary the tests run as a process.
var bin proctest.Binary

func TestMain(m *testing.M) {
	// The test binary doubles as the script `codrive run` starts.
	if mode := os.Getenv("E2E_CHILD"); mode != "" {
		os.Exit(child(mode))
	}
	code := m.Run()
	bin.Remove()
	os.Exit(code)
}

// codriveBin builds cmd/codrive once (with -race, like the tests).
func codriveBin(t *testing.T) string {
	t.Helper()
	return bin.Path(t)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// chromium starts a headless Chromium for one scenario.
func chromium(t *testing.T, url string) *cdptest.Chromium {
	t.Helper()
	return cdptest.StartT(t, cdptest.Options{URL: url})
}

// codriveCmd is the codrive binary with the global flags for srv and an
// admin password in the environment (never on the command line).
func codriveCmd(t *testing.T, srv nekoserver.Server, cdpURL string, args ...string) *exec.Cmd {
	t.Helper()
	all := append([]string{"--neko", srv.URL(), "--cdp", cdpURL}, args...)
	cmd := exec.Command(codriveBin(t), all...)
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD="+nekoserver.AdminPassword)
	return cmd
}

// runCodrive runs a one-shot codrive command and returns its exit code and
// output.
func runCodrive(t *testing.T, srv nekoserver.Server, cdpURL string, args ...string) (int, string, string) {
	t.Helper()
	cmd := codriveCmd(t, srv, cdpURL, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return exitCode(t, err), out.String(), errb.String()
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	t.Fatal(err)
	return -1
}

// event is the part of `codrive attach --json` lines the scenarios read.
type event struct {
	Kind   string `json:"kind"`
	Actor  string `json:"actor"`
	Reason string `json:"reason"`
	Status struct {
		State    string `json:"state"`
		Host     string `json:"host"`
		HostName string `json:"hostName"`
		Session  string `json:"session"`
		Policy   string `json:"policy"`
		Locked   bool   `json:"locked"`
		Go       bool   `json:"go"`
	} `json:"status"`
}

func (e event) String() string {
	return fmt.Sprintf("%s %s host=%s session=%s locked=%v: %s", e.Kind, e.Status.State, e.Status.Host, e.Status.Session, e.Status.Locked, e.Reason)
}

// attachProc is a running `codrive attach --json`.
type attachProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	events chan event
	stderr *syncBuffer
	// proxy is the CDP proxy URL, with --listen.
	proxy  chan string
	exited chan struct{}
	err    error
	seen   []event
}

// startAttach runs codrive attach --json with args and reads its lines.
func startAttach(t *testing.T, srv nekoserver.Server, cdpURL string, args ...string) *attachProc {
	t.Helper()
	cmd := codriveCmd(t, srv, cdpURL, append([]string{"--log-level", "info", "attach", "--json"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a := &attachProc{t: t, cmd: cmd, events: make(chan event, 1024), stderr: &syncBuffer{}, proxy: make(chan string, 1), exited: make(chan struct{})}
	a.stderr.onLine = func(line string) {
		if u, ok := strings.CutPrefix(line, "codrive: CDP proxy on "); ok {
			u, _, _ = strings.Cut(u, " ")
			select {
			case a.proxy <- u:
			default:
			}
		}
	}
	cmd.Stderr = a.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(a.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var ev event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("attach --json printed a non-JSON line %q: %v", sc.Text(), err)
				continue
			}
			a.events <- ev
		}
	}()
	go func() {
		a.err = cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-a.exited
		if t.Failed() {
			t.Logf("codrive attach stderr:\n%s\nevents:\n%s", a.stderr.String(), a.history())
		}
	})
	return a
}

func (a *attachProc) history() string {
	var b strings.Builder
	for _, e := range a.seen {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}

// wait reads lines until ok accepts one, and returns it.
func (a *attachProc) wait(what string, ok func(event) bool) event {
	a.t.Helper()
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	for {
		select {
		case ev, open := <-a.events:
			if !open {
				a.t.Fatalf("attach ended before %s; stderr:\n%s", what, a.stderr.String())
			}
			a.seen = append(a.seen, ev)
			if ev.Kind == "error" && !strings.Contains(ev.Reason, "could not request control") {
				a.t.Logf("attach reported an error: %s", ev)
			}
			if ok(ev) {
				return ev
			}
		case <-timer.C:
			a.t.Fatalf("no attach line with %s within %v", what, deadline)
		}
	}
}

// automation waits until codrive hosts, and returns its session id.
func (a *attachProc) automation() string {
	a.t.Helper()
	return a.wait("state automation", func(e event) bool { return e.Status.State == "automation" }).Status.Session
}

// proxyURL waits for the CDP proxy line of attach --listen.
func (a *attachProc) proxyURL() string {
	a.t.Helper()
	select {
	case u := <-a.proxy:
		return u
	case <-a.exited:
		a.t.Fatalf("attach exited before serving its proxy: %v\n%s", a.err, a.stderr.String())
	case <-time.After(deadline):
		a.t.Fatalf("attach never printed its proxy URL:\n%s", a.stderr.String())
	}
	return ""
}

// signal sends sig and waits for the exit; it returns the exit code.
func (a *attachProc) signal(sig syscall.Signal) int {
	a.t.Helper()
	if err := a.cmd.Process.Signal(sig); err != nil {
		a.t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(deadline):
		a.t.Fatalf("attach still running %v after %v", deadline, sig)
	}
	for ev := range a.events {
		a.seen = append(a.seen, ev)
	}
	return exitCode(a.t, a.err)
}

// syncBuffer collects a process's stderr and calls onLine for each line.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	part   string
	onLine func(string)
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	s.part += string(p)
	for {
		line, rest, ok := strings.Cut(s.part, "\n")
		if !ok {
			break
		}
		s.part = rest
		if s.onLine != nil {
			s.onLine(line)
		}
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// person is an emulated viewer: a neko user with a WebSocket.
type person struct {
	t      *testing.T
	client *neko.Client
	conn   *neko.Conn
	events <-chan neko.Event
}

func newPerson(t *testing.T, srv nekoserver.Server, name string) *person {
	t.Helper()
	c, err := neko.NewClient(srv.URL(), neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctxT(t), name, nekoserver.UserPassword); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Connect(ctxT(t), neko.ConnOptions{NoReconnect: true})
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

// await reads the person's events until ok accepts one.
func (p *person) await(what string, ok func(neko.Event) bool) neko.Event {
	p.t.Helper()
	ev, err := neko.Await(ctxT(p.t), p.events, ok)
	if err != nil {
		p.t.Fatalf("%s: waiting for %s: %v", p.id(), what, err)
	}
	return ev
}

// awaitHost waits for the control/host event making id host ("" for none).
func (p *person) awaitHost(id string) {
	p.t.Helper()
	p.await("host "+id, neko.HostIs(id))
}

// noHostLeft checks over REST that nobody hosts.
func noHostLeft(t *testing.T, srv nekoserver.Server) {
	t.Helper()
	st, err := srv.Control(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.HasHost {
		t.Fatalf("host %q left", st.HostID)
	}
}

// noCodriveSession checks that codrive's session is gone.
func noCodriveSession(t *testing.T, srv nekoserver.Server) {
	t.Helper()
	sessions, err := srv.Sessions(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		if s.Profile.Name == "codrive" {
			t.Fatalf("codrive session left behind: %+v", s)
		}
	}
}
