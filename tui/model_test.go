package tui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/eventfmt"
	"github.com/codrive/codrive/internal/sanitize"
	"github.com/codrive/codrive/neko"
)

func newModel(t *testing.T, b *fakeBackend, edit ...func(*Options)) *Model {
	t.Helper()
	opts := testOptions()
	for _, e := range edit {
		e(&opts)
	}
	m := New(context.Background(), b, opts)
	t.Cleanup(m.Close)
	return m
}

func keyMsg(s string) tea.KeyMsg {
	switch s {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "backspace":
		return tea.KeyMsg{Type: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "pgup":
		return tea.KeyMsg{Type: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	case "home":
		return tea.KeyMsg{Type: tea.KeyHome}
	case "end":
		return tea.KeyMsg{Type: tea.KeyEnd}
	case " ":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

// press sends a key and returns the command it produced.
func press(m *Model, k string) tea.Cmd {
	_, cmd := m.Update(keyMsg(k))
	return cmd
}

// finish runs an action's command and feeds its result back, as Bubble Tea
// would.
func finish(t *testing.T, m *Model, cmd tea.Cmd) {
	t.Helper()
	if cmd == nil {
		t.Fatal("no command")
	}
	msg := cmd()
	if _, ok := msg.(actionDoneMsg); !ok {
		t.Fatalf("command returned %T, want actionDoneMsg", msg)
	}
	m.Update(msg)
}

func lastLog(m *Model) string {
	if len(m.log) == 0 {
		return ""
	}
	return m.log[len(m.log)-1].text
}

func logText(m *Model) string {
	var b strings.Builder
	for _, e := range m.log {
		b.WriteString(e.text + "\n")
	}
	return b.String()
}

func TestKeysRunActions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key, call, logged string
		state             codrive.State
	}{
		{"r", "acquire", "request: automation holds control", codrive.StateFree},
		{"l", "release", "release: control released", codrive.StateAutomation},
		{"l", "release", "release: codrive did not hold control", codrive.StateHuman},
		{"t", "take", "take: taken", codrive.StateHuman},
		{"p", "pause", "pause: automation paused", codrive.StateAutomation},
	}
	for _, tc := range cases {
		t.Run(tc.key+"/"+string(tc.state), func(t *testing.T) {
			t.Parallel()
			b := scene()
			b.status.State = tc.state
			m := newModel(t, b)
			cmd := press(m, tc.key)
			if !m.busy[actionName(tc.call)] {
				t.Fatalf("%s not marked busy while in flight", tc.call)
			}
			if !strings.Contains(m.footer(200), "⋯ "+actionName(tc.call)) {
				t.Errorf("footer does not show the action in flight: %q", m.footer(200))
			}
			finish(t, m, cmd)
			if got := b.Calls(); !slices.Equal(got, []string{tc.call}) {
				t.Fatalf("calls %v, want [%s]", got, tc.call)
			}
			if !strings.Contains(lastLog(m), tc.logged) {
				t.Fatalf("log ends with %q, want %q", lastLog(m), tc.logged)
			}
			if m.busy[actionName(tc.call)] {
				t.Fatal("still busy after the result")
			}
		})
	}
}

func actionName(call string) string {
	return map[string]string{"acquire": actRequest, "release": actRelease, "take": actTake, "pause": actPause}[call]
}

func TestRequestWhileHostingDoesNothing(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b)
	if cmd := press(m, "r"); cmd != nil {
		t.Fatal("r while automation hosts started a request")
	}
	if !strings.Contains(lastLog(m), "already holds control") {
		t.Fatalf("log %q", lastLog(m))
	}
}

func TestActionErrorsGoToTheLog(t *testing.T) {
	t.Parallel()
	b := scene()
	b.release = func(context.Context) error {
		return fmt.Errorf("release control: %w", neko.ErrUnreachable)
	}
	m := newModel(t, b)
	finish(t, m, press(m, "l"))
	if got := lastLog(m); !strings.Contains(got, "✗ release failed: release control:") {
		t.Fatalf("log %q", got)
	}
	if m.log[len(m.log)-1].kind != kindError {
		t.Fatal("a failure is not styled as an error")
	}
}

func TestActionTimeoutIsNamed(t *testing.T) {
	t.Parallel()
	b := scene()
	b.status.State = codrive.StateHuman
	b.acquire = func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("waiting for control: held by alice: %w", ctx.Err())
	}
	m := newModel(t, b, func(o *Options) { o.ActionTimeout = time.Millisecond })
	finish(t, m, press(m, "r"))
	if got := lastLog(m); !strings.Contains(got, "request failed: gave up after 1ms: waiting for control: held by alice") {
		t.Fatalf("log %q", got)
	}
}

func TestSecondPressWhileBusyIsRefused(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b)
	first := press(m, "l")
	if second := press(m, "l"); second != nil {
		t.Fatal("a second release started while the first is in flight")
	}
	if !strings.Contains(lastLog(m), "release: already in progress") {
		t.Fatalf("log %q", lastLog(m))
	}
	finish(t, m, first)
	if n := len(b.Calls()); n != 1 {
		t.Fatalf("%d calls", n)
	}
}

func TestTakeNeedsAdmin(t *testing.T) {
	t.Parallel()
	b := scene()
	b.conn.Admin = false
	m := newModel(t, b)
	if cmd := press(m, "t"); cmd != nil {
		t.Fatal("take started without an admin login")
	}
	if !strings.Contains(lastLog(m), "take failed: needs an admin login") {
		t.Fatalf("log %q", lastLog(m))
	}
	if len(b.Calls()) != 0 {
		t.Fatal(b.Calls())
	}
}

func TestPauseToggles(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b)
	finish(t, m, press(m, "p"))
	b.set(func(f *fakeBackend) { f.status.Paused, f.status.Go, f.status.Gate = true, false, codrive.GatePaused })
	m.Update(tickMsg{})
	if !strings.Contains(m.footer(200), "p resume") {
		t.Fatalf("footer %q does not offer resume", m.footer(200))
	}
	finish(t, m, press(m, "p"))
	// Paused by a handoff is not the operator's pause: p pauses.
	b.set(func(f *fakeBackend) { f.status.Handoff, f.status.Gate = "captcha", codrive.GateHandoff })
	m.Update(tickMsg{})
	finish(t, m, press(m, "p"))
	if got := b.Calls(); !slices.Equal(got, []string{"pause", "resume", "pause"}) {
		t.Fatalf("calls %v", got)
	}
}

func TestEventsBecomeLogLines(t *testing.T) {
	t.Parallel()
	b := scene()
	events := make(chan codrive.Event, 1)
	m := newModel(t, b, func(o *Options) { o.Events = events })
	ev := event("request", "alice (alice-x1Y2z) asked for control: kept by automation (policy hold)", b.Status(), &b.page)
	events <- ev
	msg := m.listenEvents()()
	_, next := m.Update(msg)
	if got, want := lastLog(m), eventfmt.Line(ev); got != want {
		t.Fatalf("log line %q, want %q", got, want)
	}
	if next == nil {
		t.Fatal("stopped listening after one event")
	}
	close(events)
	if _, ok := next().(eventsClosedMsg); !ok {
		t.Fatal("a closed event stream is not reported")
	}
	_, cmd := m.Update(eventsClosedMsg{})
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("the monitor does not quit when the session ends")
	}
}

func TestLogLinesFromTheSink(t *testing.T) {
	t.Parallel()
	b := scene()
	sink := NewLogSink(2)
	m := newModel(t, b, func(o *Options) { o.Logs = sink.Lines() })
	fmt.Fprint(sink, "level=WARN msg=\"neko slow\"\nlevel=INFO msg=partial")
	_, next := m.Update(m.listenLogs()())
	if got := lastLog(m); got != `10:00:00 log level=WARN msg="neko slow"` {
		t.Fatalf("log %q", got)
	}
	if next == nil {
		t.Fatal("stopped listening for logs")
	}
	fmt.Fprint(sink, " line\nthird\nfourth\n")
	if sink.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1 (buffer 2)", sink.Dropped())
	}
	if got := <-sink.Lines(); got != "level=INFO msg=partial line" {
		t.Fatalf("joined partial line %q", got)
	}
	var out bytes.Buffer
	sink.SetOutput(&out)
	fmt.Fprint(sink, "after\n")
	if out.String() != "after\n" {
		t.Fatalf("SetOutput: %q", out.String())
	}
}

func TestLogIsBoundedAndScrolls(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b, func(o *Options) { o.MaxLog = 5 })
	for i := range 12 {
		m.note(fmt.Sprintf("line %d", i))
	}
	if len(m.log) != 5 || !strings.HasSuffix(lastLog(m), "line 11") {
		t.Fatalf("log %d entries, last %q", len(m.log), lastLog(m))
	}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	press(m, "pgup")
	if m.scroll == 0 || !strings.Contains(m.View(), "scrolled back") {
		t.Fatalf("pgup did not scroll (scroll %d)", m.scroll)
	}
	if strings.Contains(m.View(), "line 11") {
		t.Fatal("the newest line is still shown after scrolling back")
	}
	before := m.scroll
	m.note("line 12")
	if m.scroll != before+1 {
		t.Fatalf("a new line moved a scrolled-back view (scroll %d → %d)", before, m.scroll)
	}
	press(m, "end")
	if m.scroll != 0 || !strings.Contains(m.View(), "line 12") {
		t.Fatal("end does not return to the newest line")
	}
}

func TestGivePicker(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b)
	if cmd := press(m, "g"); cmd != nil || m.mode != modePicker {
		t.Fatalf("g: mode %v", m.mode)
	}
	var names []string
	for _, it := range m.picker {
		names = append(names, it.name)
	}
	if !slices.Equal(names, []string{"alice", "bob", "zed"}) {
		t.Fatalf("picker offers %v (codrive itself must not be offered)", names)
	}
	press(m, "up") // clamps at the top
	press(m, "down")
	press(m, "down")
	press(m, "down") // clamps at the bottom
	press(m, "up")
	if m.pickIdx != 1 {
		t.Fatalf("index %d, want 1 (bob)", m.pickIdx)
	}
	view := m.View()
	if !strings.Contains(view, "› bob (bob-Qq7Rr)") || !strings.Contains(view, "zed (zed-00000) (offline, cannot host)") {
		t.Fatalf("picker view:\n%s", view)
	}
	cmd := press(m, "enter")
	if m.mode != modeNormal {
		t.Fatal("enter did not close the picker")
	}
	finish(t, m, cmd)
	if got := b.Calls(); !slices.Equal(got, []string{"give bob-Qq7Rr"}) {
		t.Fatalf("calls %v", got)
	}
	if !strings.Contains(lastLog(m), "give: control given to bob (bob-Qq7Rr)") {
		t.Fatalf("log %q", lastLog(m))
	}

	press(m, "g")
	if cmd := press(m, "esc"); cmd != nil || m.mode != modeNormal {
		t.Fatal("esc did not close the picker quietly")
	}
	if len(b.Calls()) != 1 {
		t.Fatal("esc gave control")
	}
}

func TestGiveWithNobodyElse(t *testing.T) {
	t.Parallel()
	b := scene()
	b.people = []codrive.Participant{b.people[2]} // codrive alone
	m := newModel(t, b)
	press(m, "g")
	if m.mode != modeNormal || !strings.Contains(lastLog(m), "no other session") {
		t.Fatalf("mode %v log %q", m.mode, lastLog(m))
	}
}

func TestHandoffInput(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b)
	press(m, "h")
	if m.mode != modeInput {
		t.Fatal("h did not open the reason input")
	}
	for _, k := range []string{"s", "o", "l", "v", "e", "x", "backspace", " ", "c", "a", "p", "t", "c", "h", "a"} {
		press(m, k)
	}
	press(m, "q") // typed, not quit
	if m.quitting || string(m.reason) != "solve captchaq" {
		t.Fatalf("reason %q quitting %v", string(m.reason), m.quitting)
	}
	press(m, "backspace")
	if !strings.Contains(m.View(), "reason: solve captcha") {
		t.Fatalf("input view:\n%s", m.View())
	}
	cmd := press(m, "enter")
	if m.mode != modeNormal || !m.busy[actHandoff] {
		t.Fatal("enter did not start the handoff")
	}
	finish(t, m, cmd)
	if got := b.Calls(); !slices.Equal(got, []string{"handoff solve captcha"}) {
		t.Fatalf("calls %v", got)
	}
	if !strings.Contains(lastLog(m), "handoff: done") {
		t.Fatalf("log %q", lastLog(m))
	}

	press(m, "h")
	press(m, "x")
	if cmd := press(m, "esc"); cmd != nil || m.mode != modeNormal || len(b.Calls()) != 1 {
		t.Fatal("esc started a handoff")
	}
}

func TestHandoffCancelledWithH(t *testing.T) {
	t.Parallel()
	b := scene()
	started := make(chan struct{})
	b.handoff = func(ctx context.Context, reason string) error {
		close(started)
		<-ctx.Done()
		return fmt.Errorf("handoff (%s): no person took control: %w", reason, ctx.Err())
	}
	m := newModel(t, b)
	press(m, "h")
	cmd := press(m, "enter")
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("handoff did not start")
	}
	if !strings.Contains(m.footer(200), "h stop handoff") {
		t.Fatalf("footer %q", m.footer(200))
	}
	press(m, "h")
	select {
	case msg := <-done:
		m.Update(msg)
	case <-time.After(5 * time.Second):
		t.Fatal("h did not cancel the handoff")
	}
	if got := lastLog(m); !strings.Contains(got, "handoff: ended (cancelled by the operator)") {
		t.Fatalf("log %q", got)
	}
	if slices.ContainsFunc(m.log, func(e entry) bool { return e.kind == kindError }) {
		t.Fatal("a cancelled handoff was logged as a failure")
	}
	// Empty reason: the arbiter's default applies.
	b.set(func(f *fakeBackend) { f.handoff = nil })
	press(m, "h")
	finish(t, m, press(m, "enter"))
	if got := b.Calls(); len(got) != 2 || got[1] != "handoff " {
		t.Fatalf("calls %q", got)
	}
}

func TestHelpOverlay(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b)
	press(m, "?")
	if m.mode != modeHelp || !strings.Contains(m.View(), "hand off to a person") {
		t.Fatal("? did not open the help")
	}
	if cmd := press(m, "r"); cmd != nil {
		t.Fatal("a key in the help started an action")
	}
	press(m, "?")
	if m.mode != modeNormal {
		t.Fatal("? did not close the help")
	}
}

func TestQuitKeys(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"q", "ctrl+c"} {
		b := scene()
		m := newModel(t, b)
		if k == "ctrl+c" {
			press(m, "h") // even while typing a reason
		}
		cmd := press(m, k)
		if cmd == nil {
			t.Fatalf("%s: no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Fatalf("%s does not quit", k)
		}
		if m.ctx.Err() == nil {
			t.Fatalf("%s left actions running", k)
		}
	}
}

// Close must wait for an action in flight, which sees its context end.
func TestCloseEndsActionsInFlight(t *testing.T) {
	t.Parallel()
	b := scene()
	b.status.State = codrive.StateHuman
	started := make(chan struct{})
	b.acquire = func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	}
	m := New(context.Background(), b, testOptions())
	cmd := press(m, "r")
	ended := make(chan tea.Msg, 1)
	go func() { ended <- cmd() }()
	<-started
	closed := make(chan struct{})
	go func() {
		m.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	select {
	case msg := <-ended:
		if d, ok := msg.(actionDoneMsg); !ok || !errors.Is(d.err, context.Canceled) {
			t.Fatalf("action ended with %#v", msg)
		}
	default:
		t.Fatal("Close returned before the action ended")
	}
	// After Close, commands do not run at all.
	ran := false
	if msg := m.spawn("x", time.Second, "", func(context.Context) error { ran = true; return nil })(); msg != nil || ran {
		t.Fatalf("a command ran after Close: %#v", msg)
	}
}

// Every size, every mode: the frame fits the terminal exactly.
func TestViewFitsEverySize(t *testing.T) {
	t.Parallel()
	b := scene()
	for i := range 30 {
		b.people = append(b.people, codrive.Participant{ID: fmt.Sprintf("viewer-%02d", i), Name: fmt.Sprintf("viewer%02d", i)})
	}
	m := newModel(t, b)
	for i := range 40 {
		m.note(strings.Repeat(fmt.Sprintf("long line %d ", i), 12))
	}
	modes := []struct {
		name  string
		enter []string
	}{{"normal", nil}, {"help", []string{"?"}}, {"picker", []string{"g"}}, {"input", []string{"h", "x"}}}
	sizes := [][2]int{{80, 24}, {120, 40}, {60, 30}, {40, 12}, {100, 20}, {200, 60}, {20, 6}, {10, 3}, {15, 5}}
	for _, md := range modes {
		for _, sz := range sizes {
			m.mode = modeNormal
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			for _, k := range md.enter {
				press(m, k)
			}
			w, h := sz[0], sz[1]
			lines := strings.Split(m.View(), "\n")
			if len(lines) != h {
				t.Errorf("%s %dx%d: %d lines, want %d", md.name, sz[0], sz[1], len(lines), h)
			}
			for i, l := range lines {
				if got := ansi.StringWidth(l); got > w {
					t.Errorf("%s %dx%d: line %d is %d wide: %q", md.name, sz[0], sz[1], i, got, l)
				}
			}
		}
	}
}

func TestLayoutAdaptsToWidth(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b)
	row := func(w, h int) string {
		m.Update(tea.WindowSizeMsg{Width: w, Height: h})
		return strings.Split(m.View(), "\n")[0]
	}
	if r := row(120, 40); !strings.Contains(r, "connection") || !strings.Contains(r, "control") || !strings.Contains(r, "page") {
		t.Errorf("wide: first row %q, want three panes", r)
	}
	if r := row(80, 24); !strings.Contains(r, "connection") || !strings.Contains(r, "control") || strings.Contains(r, "page") {
		t.Errorf("medium: first row %q, want connection and control", r)
	}
	if r := row(60, 40); !strings.Contains(r, "connection") || strings.Contains(r, "control") {
		t.Errorf("narrow: first row %q, want the panes stacked", r)
	}
	// Narrow and short: the least useful panes go, control stays, and the
	// log keeps some room.
	m.Update(tea.WindowSizeMsg{Width: 60, Height: 16})
	v := m.View()
	if !strings.Contains(v, "─ control ") || strings.Contains(v, "─ page ") || !strings.Contains(v, "─ events ") {
		t.Errorf("narrow and short:\n%s", v)
	}
}

// Neither the password nor a token can reach the screen: the monitor is
// never given them, and URLs and outside text are scrubbed.
func TestNoSecretsOrEscapesOnScreen(t *testing.T) {
	t.Parallel()
	b := scene()
	b.page.Title = "evil\x1b]0;pwned\x07\x1b[2Jtitle\u009b31m"
	b.status.Reason = "bad\nreason"
	m := newModel(t, b, func(o *Options) { o.NekoURL = "https://codrive:hunter2@neko.test/base?token=tok3n#frag" })
	m.note("\x1b[31mred\x1b[0m")
	m.Update(tea.WindowSizeMsg{Width: 200, Height: 40})
	v := m.View()
	for _, bad := range []string{"hunter2", "tok3n", "frag", "\x1b", "\x07", "\u009b"} {
		if strings.Contains(v, bad) {
			t.Errorf("view contains %q:\n%s", bad, v)
		}
	}
	if !strings.Contains(v, "https://neko.test/base") {
		t.Errorf("the neko URL is not shown:\n%s", v)
	}
	if sanitize.URL("::not a url") != "(unparsable URL hidden)" {
		t.Error("an unparsable URL is shown as is")
	}
}

func TestControlPaneStates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		edit func(*codrive.Status)
		want []string
	}{
		{func(s *codrive.Status) {}, []string{"host     automation · codrive", "auto     running", "pending  1: alice 12s", "since    09:58:45, 1m15s ago"}},
		{func(s *codrive.Status) { s.Go, s.Gate = false, codrive.GateYielding }, []string{"auto     yielding"}},
		{func(s *codrive.Status) { s.Paused, s.Go, s.Gate = true, false, codrive.GatePaused }, []string{"auto     paused"}},
		{func(s *codrive.Status) {
			s.Paused, s.Go, s.Handoff, s.Gate = true, false, "captcha", codrive.GateHandoff
		}, []string{"auto     handoff: captcha"}},
		{func(s *codrive.Status) {
			s.State, s.Host, s.HostName, s.Go, s.Pending, s.Gate = codrive.StateHuman, "alice-x1Y2z", "alice", false, nil, codrive.GateWaiting
		}, []string{"host     human · alice (alice-x1Y2z)", "auto     waiting for control", "pending  none"}},
		{func(s *codrive.Status) { s.State, s.Go, s.Gate = codrive.StateFree, false, codrive.GateWaiting }, []string{"host     nobody (free)"}},
		{func(s *codrive.Status) { s.Policy, s.Locked = codrive.PolicyLocked, true }, []string{"policy   locked · room locked"}},
	}
	for i, tc := range cases {
		b := scene()
		tc.edit(&b.status)
		m := newModel(t, b)
		v := m.View()
		for _, w := range tc.want {
			if !strings.Contains(v, w) {
				t.Errorf("case %d: view lacks %q:\n%s", i, w, v)
			}
		}
	}
}

func TestConnectionPane(t *testing.T) {
	t.Parallel()
	b := scene()
	b.conn.Connected = false
	b.conn.Reconnects = 3
	b.page.Attached = false
	m := newModel(t, b)
	v := m.View()
	withProxy := newModel(t, b, func(o *Options) { o.ProxyURL = "http://127.0.0.1:9223/?token=tok3n" })
	if v := withProxy.View(); !strings.Contains(v, "proxy    http://127.0.0.1:9223/ ") || strings.Contains(v, "tok3n") {
		t.Errorf("proxy line:\n%s", v)
	}
	closedB := scene()
	closedB.conn.Connected, closedB.conn.Closed = false, true
	if v := newModel(t, closedB).View(); !strings.Contains(v, "socket   closed (no reconnect") {
		t.Errorf("socket not closed:\n%s", v)
	}
	for _, w := range []string{"socket   reconnecting", "heard    3s ago", "reconn   3 · malformed 0", "session  codrive-Ab3dE (admin)", "tab      not attached (re-attaching)"} {
		if !strings.Contains(v, w) {
			t.Errorf("view lacks %q:\n%s", w, v)
		}
	}
}

func TestRunEndsOnQuitKeyAndOnContext(t *testing.T) {
	t.Parallel()
	b := scene()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), b, testOptions(), tea.WithInput(strings.NewReader("q")), tea.WithOutput(&out))
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end Run")
	}
	if !strings.Contains(out.String(), "connection") {
		t.Fatalf("nothing rendered: %q", out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan codrive.Event)
	opts := testOptions()
	opts.Events = events
	opts.Refresh = time.Millisecond
	go func() { done <- Run(ctx, b, opts, tea.WithInput(nil), tea.WithOutput(&bytes.Buffer{})) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("cancelling ctx did not end Run")
	}
}

// BenchmarkView renders a full screen with a full log: Bubble Tea calls
// View after every message.
func BenchmarkView(b *testing.B) {
	fb := scene()
	m := New(context.Background(), fb, testOptions())
	defer m.Close()
	for i := range 500 {
		m.note(strings.Repeat(fmt.Sprintf("entry %d ", i), 10))
	}
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// Issue 12 item 12: every event line repeated the page URL, so that three
// events filled a 30-line screen. The log names the page when it changes.
func TestLogNamesThePageWhenItChanges(t *testing.T) {
	t.Parallel()
	b := scene()
	m := newModel(t, b)
	for i := range 5 {
		m.Update(eventMsg(event("state", fmt.Sprintf("turn %d", i), b.Status(), &b.page)))
	}
	other := b.page
	other.URL = "https://example.test/paid"
	m.Update(eventMsg(event("page", "navigated", b.Status(), &other)))
	log := logText(m)
	if n := strings.Count(log, "https://example.test/checkout"); n != 1 {
		t.Errorf("the unchanged page is in %d log lines, want 1:\n%s", n, log)
	}
	if !strings.Contains(lastLog(m), "navigated | page https://example.test/paid") {
		t.Errorf("the new page is not named: %q", lastLog(m))
	}
}

// Issue 12 item 12: offline sessions came first (by name) and pushed the
// host and codrive's own session under "… N more".
func TestSessionsPaneShowsWhoMattersFirst(t *testing.T) {
	t.Parallel()
	b := scene()
	for _, n := range []string{"aaron", "abby", "adam", "agnes", "al", "alan"} {
		b.people = append(b.people, codrive.Participant{ID: n + "-0", Name: n})
	}
	b.people = append(b.people, codrive.Participant{ID: "codrive-2", Name: "codrive", Connected: true, Codrive: true})
	m := newModel(t, b)
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	pane := m.sessionsPane(40, 7, false) // room for 3 rows and "… more"
	var rows []string
	for _, l := range pane[2 : len(pane)-1] {
		rows = append(rows, strings.Join(strings.Fields(strings.Trim(l, "│ ")), " "))
	}
	want := []string{"▶ codrive* admin conn -", "codrive* - conn -", "alice - conn watch", "… 8 more"}
	if !slices.Equal(rows, want) {
		t.Fatalf("sessions rows %q, want %q", rows, want)
	}
}

// Issue 12 item 12: at 60x20 the help was cut off. It scrolls, and says so.
func TestHelpScrollsOnASmallScreen(t *testing.T) {
	t.Parallel()
	m := newModel(t, scene())
	m.Update(tea.WindowSizeMsg{Width: 60, Height: 20})
	press(m, "?")
	v := m.View()
	last := "connected."
	if strings.Contains(v, last) || !strings.Contains(v, "↑/↓ scroll") {
		t.Fatalf("the whole help fits 60x20?\n%s", v)
	}
	press(m, "pgdown")
	press(m, "pgdown")
	if v = m.View(); !strings.Contains(v, last) || strings.Contains(v, "codrive shares one browser") {
		t.Fatalf("pgdown does not reach the end of the help:\n%s", v)
	}
	press(m, "home")
	if v = m.View(); !strings.Contains(v, "codrive shares one browser") {
		t.Fatalf("home does not go back to the top:\n%s", v)
	}
	for _, line := range strings.Split(v, "\n") {
		if ansi.StringWidth(line) > 60 {
			t.Fatalf("a line is wider than the screen: %q", line)
		}
	}
	// On a big screen it all fits: no scrolling, no arrows.
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 50})
	if v = m.View(); !strings.Contains(v, last) || strings.Contains(v, "↑/↓ scroll") {
		t.Fatalf("100x50 help:\n%s", v)
	}
}
