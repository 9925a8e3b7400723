package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/oneshot"
	"github.com/codrive/codrive/internal/proctest"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const testTimeout = 20 * time.Second

var (
	chromeOnce sync.Once
	chrome     *cdptest.Chromium
	chromeErr  error
)

// bin is the codrive binary the tests run as a process.
var bin proctest.Binary

func TestMain(m *testing.M) {
	// The test binary doubles as the script `codrive run` starts.
	if h := os.Getenv("CODRIVE_TEST_CHILD"); h != "" {
		os.Exit(child(h))
	}
	code := m.Run()
	bin.Remove()
	if chrome != nil {
		chrome.Close()
	}
	os.Exit(code)
}

// sharedChromium is one real Chromium for the whole package: the status
// tests only read from it.
func sharedChromium(t *testing.T) *cdptest.Chromium {
	t.Helper()
	cdptest.Require(t)
	chromeOnce.Do(func() { chrome, chromeErr = cdptest.Start(context.Background(), cdptest.Options{}) })
	if chromeErr != nil {
		t.Fatal(chromeErr)
	}
	return chrome
}

// binary builds codrive once, for the tests that must signal a real process.
func binary(t *testing.T) string {
	t.Helper()
	return bin.Path(t)
}

func newNeko(t *testing.T, settings *neko.Settings) *nekotest.Server {
	t.Helper()
	srv := nekotest.NewServer(nekotest.Options{Settings: settings, HeartbeatPeriod: time.Second, DelayedDisconnect: 500 * time.Millisecond})
	t.Cleanup(srv.Close)
	return srv
}

// cliMu serialises in-process runs: urfave/cli v2 writes its package-level
// HelpFlag on every App.Run, so two apps cannot run at once in one process.
// The real binary only ever runs one.
var cliMu sync.Mutex

// runCLI runs codrive in-process and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cliMu.Lock()
	defer cliMu.Unlock()
	var out, errb bytes.Buffer
	code := run(append([]string{"codrive"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// viewer logs a person in (REST only; give it a socket where the test needs
// neko to see it connected).
func viewer(t *testing.T, srv *nekotest.Server, name, password string, socket bool) *neko.Client {
	t.Helper()
	c, err := neko.NewClient(srv.URL, neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctxT(t), name, password); err != nil {
		t.Fatal(err)
	}
	if socket {
		conn, err := c.Connect(ctxT(t), neko.ConnOptions{NoReconnect: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
	}
	return c
}

// normalizeReport blanks what differs between runs (ports, random ids,
// browser build) so the golden file pins the shape and the stable values.
func normalizeReport(t *testing.T, raw []byte) []byte {
	t.Helper()
	var r oneshot.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("status --json is not a report: %v\n%s", err, raw)
	}
	ids := map[string]string{}
	for i := range r.Neko.Sessions {
		s := &r.Neko.Sessions[i]
		ids[s.ID] = s.Name + "-ID"
		s.ID = ids[s.ID]
	}
	sort.Slice(r.Neko.Sessions, func(i, j int) bool { return r.Neko.Sessions[i].Name < r.Neko.Sessions[j].Name })
	if r.Neko.Host != nil {
		r.Neko.Host.ID = ids[r.Neko.Host.ID]
	}
	r.Neko.URL = "NEKO_URL"
	r.CDP.URL = "CDP_URL"
	if r.CDP.Browser != "" {
		r.CDP.Browser = "BROWSER"
	}
	var pages []oneshot.TargetReport
	for _, tg := range r.CDP.Targets {
		// The report's page only: tests running beside this one open
		// tabs of their own in the shared Chromium.
		if tg.Type == "page" && (r.CDP.Page == nil || tg.ID == r.CDP.Page.ID) {
			// The title of about:blank is "" or "about:blank" depending
			// on how far the tab got; it is not part of the shape.
			tg.ID, tg.Title = "TARGET", ""
			pages = append(pages, tg)
		}
	}
	r.CDP.Targets = pages
	if r.CDP.Page != nil {
		r.CDP.Page.ID, r.CDP.Page.Title = "TARGET", ""
	}
	r.Reason = strings.NewReplacer(chromeURLs(r)...).Replace(r.Reason)
	for id, norm := range ids {
		r.Reason = strings.ReplaceAll(r.Reason, id, norm)
	}
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func chromeURLs(oneshot.Report) []string {
	if chrome == nil {
		return []string{"", ""}
	}
	return []string{chrome.URL, "CDP_URL"}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (run go test ./cmd/codrive -update to create): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file (go test ./cmd/codrive -update to accept)\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestStatusReadyJSON(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	alice := viewer(t, srv, "alice", "neko", true)
	if _, err := alice.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	tab := c.NewTabT(t, "about:blank") // its own: tests beside it open tabs, and the first page is the newest
	code, out, errOut := runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", c.URL, "status", "--json", "--target", tab)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	golden(t, "status-ready.json", normalizeReport(t, []byte(out)))
	// The status check's own session is gone afterwards.
	for _, s := range srv.Sessions() {
		if s.Profile.Name == "codrive" {
			t.Fatalf("status left its session behind: %+v", s)
		}
	}
}

func TestStatusText(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	alice := viewer(t, srv, "alice", "neko", true)
	if _, err := alice.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	tab := c.NewTabT(t, "about:blank")
	code, out, _ := runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", c.URL, "status", "--target", tab)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		"state: ready",
		"host: alice (" + alice.SessionID() + ")",
		"HOST, connected",
		"protocol: neko v3",
		"browser: Chrome/",
		"page: about:blank",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
}

func TestStatusFailures(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	cases := []struct {
		name     string
		args     []string
		code     int
		state    string
		contains string
	}{
		{"wrong password", []string{"--neko", srv.URL, "--password", "hunter2-secret", "--cdp", c.URL}, exitcode.Auth, oneshot.ReportError, `wrong password for user "codrive"`},
		{"neko unreachable", []string{"--neko", "http://127.0.0.1:1", "--password", "admin", "--cdp", c.URL}, exitcode.Unreachable, oneshot.ReportUnreachable, "neko unreachable at http://127.0.0.1:1"},
		// Issue 12 item 6: exit 1 before, 4 like wait and attach.
		{"chromium without debugging port", []string{"--neko", srv.URL, "--password", "admin", "--cdp", "http://127.0.0.1:1"}, exitcode.Unreachable, oneshot.ReportDegraded, "--remote-debugging-port"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append(tc.args, "status", "--json")...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			var r oneshot.Report
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			if r.State != tc.state || !strings.Contains(r.Reason, tc.contains) {
				t.Fatalf("state %q reason %q", r.State, r.Reason)
			}
			if strings.Contains(out+errOut, "hunter2-secret") {
				t.Fatal("the password was printed")
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	cases := [][]string{
		{"--log-format", "xml", "status"},
		{"--log-level", "loud", "status"},
		{"status", "--bogus"},
		{"attach", "--policy", "sometimes"},
		{"attach", "extra-arg"},
		{"control", "give"},
		{"control", "reset", "now"},
		{"--password", "x", "--password-file", "y", "status"},
		{"--password-file", "/nonexistent/file", "status"},
		{"attach", "--reclaim-after", "soon"},
		{"--neko", "ftp://x", "control", "reset"},
		{"--cdp", "garbage url", "status"},
	}
	for _, args := range cases {
		code, out, errOut := runCLI(t, args...)
		if code != exitcode.Usage {
			t.Errorf("%v: exit %d, want 2\n%s%s", args, code, out, errOut)
			continue
		}
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "codrive: ") {
			t.Errorf("%v: want one error line, got %q", args, errOut)
		}
		if strings.Contains(errOut, "goroutine") || strings.Contains(errOut, "panic") {
			t.Errorf("%v: stack trace in output", args)
		}
	}
}

func TestNoArgsNamesTheCommand(t *testing.T) {
	for _, cmd := range []string{"attach", "status", "wait", "smoke", "tui", "demo"} {
		code, _, errOut := runCLI(t, cmd, "extra")
		if want := cmd + ` takes no arguments, got "extra"`; code != exitcode.Usage || !strings.Contains(errOut, want) {
			t.Errorf("%s extra: %d %q, want %q", cmd, code, errOut, want)
		}
	}
}

func TestHelpListsExitCodes(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	if code != 0 || !strings.Contains(out, "EXIT CODES") || !strings.Contains(out, "4  unreachable") {
		t.Fatalf("exit %d help:\n%s", code, out)
	}
}

func TestControlCommands(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	alice := viewer(t, srv, "alice", "neko", true)
	bob := viewer(t, srv, "bob", "neko", true)
	global := []string{"--neko", srv.URL, "--password", "admin"}
	ctl := func(args ...string) (int, string, string) {
		return runCLI(t, append(append(global, "control"), args...)...)
	}

	// Nobody hosts: a one-shot request must not leave its session hosting.
	code, out, errOut := ctl("request")
	if code != 0 || !strings.Contains(out, "nobody hosted") {
		t.Fatalf("request on a free room: %d %q %q", code, out, errOut)
	}
	if _, has := srv.Host(); has {
		t.Fatal("a one-shot request left a host")
	}

	if _, err := alice.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	code, out, _ = ctl("request")
	if want := "request sent to the current host alice (" + alice.SessionID() + ")"; code != 0 || strings.TrimSpace(out) != want {
		t.Fatalf("request while alice hosts: %d %q, want %q", code, out, want)
	}

	code, out, _ = ctl("give", "bob")
	if code != 0 || !strings.Contains(out, "control given to bob") {
		t.Fatalf("give bob: %d %q", code, out)
	}
	if id, _ := srv.Host(); id != bob.SessionID() {
		t.Fatalf("host %q, want bob", id)
	}

	code, out, _ = ctl("take", alice.SessionID())
	if code != 0 || !strings.Contains(out, "gave it to alice") {
		t.Fatalf("take → alice: %d %q", code, out)
	}
	if id, _ := srv.Host(); id != alice.SessionID() {
		t.Fatalf("host %q, want alice", id)
	}

	// release refuses to free a person's control.
	code, _, errOut = ctl("release")
	if code != exitcode.Failure || !strings.Contains(errOut, "not releasing a person's control") {
		t.Fatalf("release of alice: %d %q", code, errOut)
	}

	code, out, _ = ctl("reset")
	if code != 0 || !strings.Contains(out, "alice") {
		t.Fatalf("reset: %d %q", code, out)
	}
	if _, has := srv.Host(); has {
		t.Fatal("reset left a host")
	}

	// A dead bot: a "codrive" session hosting with no socket. release frees it.
	bot := viewer(t, srv, "codrive", "neko", false)
	if _, err := bot.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	code, out, _ = ctl("release")
	if code != 0 || !strings.Contains(out, "released control held by codrive") {
		t.Fatalf("release of a stuck bot: %d %q", code, out)
	}
	if _, has := srv.Host(); has {
		t.Fatal("release left the stuck bot hosting")
	}

	// Unknown and ambiguous sessions, and user permissions.
	viewer(t, srv, "bob", "neko", true)
	code, _, errOut = ctl("give", "bob")
	if code != exitcode.Failure || !strings.Contains(errOut, "ambiguous") {
		t.Fatalf("give to an ambiguous name: %d %q", code, errOut)
	}
	code, _, errOut = ctl("give", "carol")
	if code != exitcode.Failure || !strings.Contains(errOut, `no session "carol"`) {
		t.Fatalf("give to nobody: %d %q", code, errOut)
	}
	// Issue 12 item 6: a raw "403 session is not admin", exit 1, before.
	for _, op := range [][]string{{"reset"}, {"take"}} {
		code, _, errOut = runCLI(t, append([]string{"--neko", srv.URL, "--password", "neko", "control"}, op...)...)
		if code != exitcode.Auth || !strings.Contains(errOut, "control "+op[0]+" needs a neko admin login") ||
			!strings.Contains(errOut, "admin password") || strings.Contains(errOut, "403") {
			t.Fatalf("%s as user: %d %q", op[0], code, errOut)
		}
	}
}

// attach runs as a real process: signalled with SIGTERM it must release
// control, restore the settings its policy changed and exit 0.
func TestAttachSIGTERMReleasesAndRestores(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	srv := newNeko(t, &initial)
	bin := binary(t)

	cmd := exec.Command(bin, "--neko", srv.URL, "--cdp", c.URL, "--log-level", "debug", "attach", "--acquire", "--policy", "locked", "--json")
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD=admin")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	lines := make(chan codrive.Event, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev codrive.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("attach --json printed a non-JSON line %q: %v", sc.Text(), err)
				continue
			}
			lines <- ev
		}
	}()
	var first *codrive.Event
	deadline := time.After(testTimeout)
	for locked := false; !locked; {
		select {
		case ev, ok := <-lines:
			if !ok {
				t.Fatalf("attach exited early: %s", stderr.String())
			}
			if first == nil {
				first = &ev
			}
			locked = ev.Status.Locked && ev.Status.State == codrive.StateAutomation
		case <-deadline:
			t.Fatalf("attach never locked the room; stderr:\n%s", stderr.String())
		}
	}
	if s := srv.Settings(); !s.LockedControls || s.ImplicitHosting {
		t.Fatalf("room not locked: %+v", s)
	}
	if first.Page == nil || !first.Page.Attached || first.Page.URL != "about:blank" {
		t.Fatalf("first line has no page: %+v", first)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("attach exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	st := srv.State()
	if st.HasHost {
		t.Fatalf("host %q left after SIGTERM", st.HostID)
	}
	if st.Settings.LockedControls || !st.Settings.ImplicitHosting {
		t.Fatalf("settings not restored after SIGTERM: %+v", st.Settings)
	}
	for _, s := range st.Sessions {
		if s.Profile.Name == "codrive" {
			t.Fatalf("codrive session left behind: %+v", s)
		}
	}
	if strings.Contains(stderr.String(), "admin\"") || strings.Contains(stderr.String(), "password=") {
		t.Fatalf("the password may have been logged:\n%s", stderr.String())
	}
}

// attach's text output: one line per change, naming who holds control and
// why, with the page.
func TestAttachLinesFollowAPerson(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	bin := binary(t)
	tab := c.NewTabT(t, "about:blank") // its own: other tests open tabs, and the first page is the newest
	p := startLines(t, exec.Command(bin, "--neko", srv.URL, "--cdp", c.URL, "--password", "admin", "attach", "--acquire", "--target", tab, "--reclaim-after", "100ms"))
	p.expect("attached", "| page about:blank")
	// The page is named when it changes, not on every line.
	if line := p.expect("automation", "took control"); strings.Contains(line, "| page") {
		t.Errorf("the unchanged page is repeated: %q", line)
	}
	alice := viewer(t, srv, "alice", "neko", true)
	if _, err := alice.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	p.expect("human", "host=alice ("+alice.SessionID()+")", "asked for control (policy yield)")
	if err := alice.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	p.expect("automation", "took control")
	p.stop(syscall.SIGINT)
	if _, has := srv.Host(); has {
		t.Fatal("host left after SIGINT")
	}
}

// attach waits for Chromium (a sidecar starts in any order), printing
// progress, until --wait-timeout; then it exits 4 with the last reason.
func TestAttachChromiumMissing(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	code, out, errOut := runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", "http://127.0.0.1:1", "attach", "--wait-timeout", "500ms")
	if code != exitcode.Unreachable || !strings.Contains(errOut, "--remote-debugging-port") || !strings.Contains(errOut, "did not answer within 500ms") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "codrive: waiting for chromium at http://127.0.0.1:1") {
		t.Fatalf("no progress line while waiting:\n%s", errOut)
	}
	if len(srv.Sessions()) != 0 {
		t.Fatal("a failed attach left a neko session")
	}
}

// neko comes back with another admin password: codrive cannot log in again,
// so attach must say so and exit (3), not sit disconnected forever.
func TestAttachExitsWhenNekoRefusesItForGood(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	type result struct {
		code        int
		out, errOut string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errOut := runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", c.URL, "attach")
		done <- result{code, out, errOut}
	}()
	if _, err := srv.WaitFor(ctxT(t), func(st nekotest.State) bool {
		for _, s := range st.Sessions {
			if s.Profile.Name == "codrive" && s.State.IsConnected {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Stop()
	srv2, err := nekotest.Start(nekotest.Options{Addr: addr, AdminPassword: "rotated"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	select {
	case r := <-done:
		if r.code != exitcode.Auth || !strings.Contains(r.errOut, "neko connection ended") {
			t.Fatalf("exit %d\n%s%s", r.code, r.out, r.errOut)
		}
	case <-time.After(testTimeout):
		t.Fatal("attach kept running after neko refused it for good")
	}
}

// Failure 7: `control give codrive` handed control to the command's own
// short-lived session, which then logged out; and a name shared by a
// connected and a disconnected session was called ambiguous.
func TestControlGivePicksTheSessionThatStays(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	bot := viewer(t, srv, "codrive", "admin", true) // an attach's session
	viewer(t, srv, "alice", "neko", false)          // logged in, no socket
	alice := viewer(t, srv, "alice", "neko", true)
	global := []string{"--neko", srv.URL, "--password", "admin"}

	code, out, errOut := runCLI(t, append(global, "control", "give", "codrive")...)
	if code != 0 || !strings.Contains(out, bot.SessionID()) {
		t.Fatalf("give codrive: %d %q %q", code, out, errOut)
	}
	if id, _ := srv.Host(); id != bot.SessionID() {
		t.Fatalf("host %q, want the attach's session %s", id, bot.SessionID())
	}
	code, out, errOut = runCLI(t, append(global, "control", "give", "alice")...)
	if code != 0 || !strings.Contains(out, alice.SessionID()) {
		t.Fatalf("give alice (one of two connected): %d %q %q", code, out, errOut)
	}
}

// lineProc is a codrive binary whose stdout a test reads line by line.
type lineProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *proctest.Lines
	errOut syncBuffer
}

// startLines starts cmd (killed at cleanup) and reads its stdout.
func startLines(t *testing.T, cmd *exec.Cmd) *lineProc {
	t.Helper()
	p := &lineProc{t: t, cmd: cmd}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &p.errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	p.out = proctest.Read(stdout)
	return p
}

// expect returns the next line that holds every part.
func (p *lineProc) expect(parts ...string) string {
	p.t.Helper()
	return p.out.Next(p.t, testTimeout, parts...)
}

// stop sends sig and waits for a clean exit.
func (p *lineProc) stop(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("exit after %s: %v\n%s", sig, err, p.errOut.String())
	}
}
