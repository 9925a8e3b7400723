package fleetview

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/fleet"
)

// t0 is the pinned clock of the frames.
var t0 = time.Date(2026, 8, 15, 10, 0, 0, 0, time.UTC)

func asciiRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

// scene is a fleet of rooms in every need, as updates; the fleet is never
// run (its rooms do not exist): the view takes the updates directly.
func scene(n int) ([]fleet.Room, []fleet.Update) {
	base := []struct {
		name string
		st   codrive.Status
		h    fleet.Health
		err  string
	}{
		{"checkout", codrive.Status{State: codrive.StateFree, Gate: codrive.GateHandoff, Handoff: "solve the captcha on the payment page", Paused: true, Since: t0.Add(-3 * time.Minute)}, fleet.HealthReady, ""},
		{"search", codrive.Status{State: codrive.StateAutomation, Gate: codrive.GateOpen, HostName: "codrive", Since: t0.Add(-20 * time.Minute),
			Pending: []codrive.PendingRequest{{ID: "s1", Name: "dana", Since: t0.Add(-95 * time.Second)}, {ID: "s2", Name: "eve", Since: t0.Add(-10 * time.Second)}}}, fleet.HealthReady, ""},
		{"billing", codrive.Status{}, fleet.HealthUnreachable, "cannot connect: connection refused"},
		{"reports", codrive.Status{State: codrive.StateDisconnected, Gate: codrive.GateWaiting, Since: t0.Add(-40 * time.Second)}, fleet.HealthDegraded, "neko: not connected (reconnecting)"},
		{"onboarding", codrive.Status{State: codrive.StateFree, Gate: codrive.GatePaused, Paused: true, Since: t0.Add(-5 * time.Minute)}, fleet.HealthReady, ""},
		{"support", codrive.Status{State: codrive.StateHuman, Gate: codrive.GateWaiting, Host: "alice-x1", HostName: "alice", Since: t0.Add(-2*time.Minute - 7*time.Second)}, fleet.HealthReady, ""},
		{"inventory", codrive.Status{State: codrive.StateFree, Gate: codrive.GateWaiting, Since: t0.Add(-time.Hour)}, fleet.HealthReady, ""},
		{"crawler", codrive.Status{State: codrive.StateAutomation, Gate: codrive.GateOpen, HostName: "codrive", Since: t0.Add(-3*time.Hour - 4*time.Minute)}, fleet.HealthReady, ""},
	}
	var rooms []fleet.Room
	var ups []fleet.Update
	for i := range n {
		b := base[i%len(base)]
		name := b.name
		if n > len(base) {
			name = fmt.Sprintf("%s-%02d", b.name, i/len(base))
		}
		rooms = append(rooms, fleet.Room{Name: name, URL: "http://127.0.0.1:1"})
		s := fleet.Snapshot{Health: b.h, Err: b.err, Known: b.h != fleet.HealthUnreachable, Stream: b.h != fleet.HealthUnreachable, Fetched: true}
		s.State.Status, s.State.Ready = b.st, b.h == fleet.HealthReady
		if b.h == fleet.HealthUnreachable {
			s.Down = t0.Add(-time.Minute)
		}
		at := t0.Add(-2 * time.Minute)
		kind := codrive.EventState
		if b.st.Handoff != "" {
			// Seen starting: an earlier status without it, then the event.
			before := s
			before.State.Status = codrive.Status{State: codrive.StateAutomation, Gate: codrive.GateOpen}
			ups = append(ups, fleet.Update{Room: i, At: at.Add(-time.Second), Kind: fleet.UpdateEvent, Snapshot: before})
			kind = codrive.EventHandoff
		}
		ups = append(ups, fleet.Update{Room: i, Name: name, At: at, Kind: fleet.UpdateEvent, Event: codrive.Event{Kind: kind, Status: b.st}, Snapshot: s})
	}
	return rooms, ups
}

// newScene is a view over scene(n), sized w x h.
func newScene(t testing.TB, n, w, h int) *Model {
	t.Helper()
	rooms, ups := scene(n)
	m := New(context.Background(), fleet.New(rooms, fleet.Options{}), Options{Now: func() time.Time { return t0 }, Tick: -1, Renderer: asciiRenderer()})
	t.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	m.Update(updatesMsg(ups))
	return m
}

func press(m *Model, keys ...string) {
	for _, k := range keys {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		case "pgdown":
			msg = tea.KeyMsg{Type: tea.KeyPgDown}
		case "end":
			msg = tea.KeyMsg{Type: tea.KeyEnd}
		case "backspace":
			msg = tea.KeyMsg{Type: tea.KeyBackspace}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		m.Update(msg)
	}
}

// TestFrames pins whole screens of the table (go test ./tui/fleetview
// -run TestFrames -update rewrites them): the clock is pinned and colours
// are off, so what is left is the layout and the text marks that stand in
// for colour under NO_COLOR.
func TestFrames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		rooms int
		w, h  int
		keys  []string
	}{
		{"120x14", 8, 120, 14, nil},
		{"80x24", 8, 80, 24, []string{"down", "down"}},
		{"60x20", 8, 60, 20, nil},
		{"160x12-wide", 8, 160, 12, nil},
		{"120x40-100-rooms", 100, 120, 40, []string{"pgdown", "pgdown"}},
		{"120x14-filter", 8, 120, 14, []string{"a", "l", "i", "c"}},
		{"100x14-filter-100-rooms", 100, 100, 14, []string{"s", "u", "p", "p", "o", "r", "t", "-", "0", "x", "backspace"}},
		{"20x5-tiny", 8, 20, 5, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := newScene(t, tc.rooms, tc.w, tc.h)
			press(m, tc.keys...)
			view := m.View()
			lines := strings.Split(view, "\n")
			if len(lines) != tc.h {
				t.Errorf("%d lines, want %d", len(lines), tc.h)
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > tc.w {
					t.Errorf("line %d is %d cells wide, more than %d: %q", i, w, tc.w, l)
				}
			}
			teatest.RequireEqualOutput(t, []byte(view))
		})
	}
}

// With colours the marks are the same: colour only adds to them.
func TestColoursAddToMarks(t *testing.T) {
	t.Parallel()
	rooms, ups := scene(8)
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.ANSI256)
	m := New(context.Background(), fleet.New(rooms, fleet.Options{}), Options{Now: func() time.Time { return t0 }, Tick: -1, Renderer: r})
	defer m.Close()
	m.Update(tea.WindowSizeMsg{Width: 120, Height: 14})
	m.Update(updatesMsg(ups))
	coloured := m.View()
	if !strings.Contains(coloured, "\x1b[") {
		t.Fatal("no colour with a colour profile")
	}
	plain := newScene(t, 8, 120, 14).View()
	if got := stripANSI(coloured); got != plain {
		t.Fatalf("the coloured frame's text differs from the colourless one:\n%s\n---\n%s", got, plain)
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// The cursor stays on its room while the order changes under it, and
// typing filters by name, host, state or need.
func TestCursorAndFilter(t *testing.T) {
	t.Parallel()
	m := newScene(t, 8, 120, 14)
	if m.rows[0].Name != "checkout" || m.selected != m.rows[0].Room {
		t.Fatalf("first row %s selected %d", m.rows[0].Name, m.selected)
	}
	press(m, "down", "down", "down", "down", "down") // support (human)
	if got := m.rows[m.cursor()].Name; got != "support" {
		t.Fatalf("cursor on %s", got)
	}
	// support's person asks... no: checkout's handoff is answered: it moves
	// below support; the cursor stays on support.
	i := roomIndex(m, "checkout")
	s := fleet.Snapshot{Health: fleet.HealthReady, Known: true, Stream: true, Fetched: true}
	s.State.Ready = true
	s.State.Status = codrive.Status{State: codrive.StateAutomation, Gate: codrive.GateOpen, HostName: "codrive"}
	m.Update(updatesMsg{{Room: i, At: t0, Kind: fleet.UpdateEvent, Snapshot: s}})
	if got := m.rows[m.cursor()].Name; got != "support" {
		t.Fatalf("cursor moved to %s with the order", got)
	}
	for _, c := range []struct{ typed, want string }{
		{"alice", "support"},
		{"unreach", "billing"},
		{"paused", "onboarding"},
		{"zzz", ""},
	} {
		press(m, "esc")
		press(m, strings.Split(c.typed, "")...)
		var got []string
		for _, r := range m.rows {
			got = append(got, r.Name)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("filter %q: %q, want %q", c.typed, got, c.want)
		}
	}
	press(m, "esc")
	if len(m.rows) != 8 {
		t.Fatalf("esc left %d rows", len(m.rows))
	}
}

func roomIndex(m *Model, name string) int {
	for i, r := range m.rooms {
		if r.Name == name {
			return i
		}
	}
	return -1
}

// Enter opens the room's monitor under a header, its keys go to it, q and
// esc come back (unless a dialog of the monitor is open), ctrl+c quits.
func TestDetailKeys(t *testing.T) {
	t.Parallel()
	m := newScene(t, 8, 120, 30)
	press(m, "down", "down", "down", "down", "down", "enter") // support
	if m.open != roomIndex(m, "support") {
		t.Fatalf("open %d", m.open)
	}
	view := m.View()
	if !strings.HasPrefix(view, "fleet › support  http://127.0.0.1:1  ● human") || !strings.Contains(view, "esc back to the fleet") {
		t.Fatalf("detail header:\n%s", view)
	}
	// The monitor reads the fleet's own knowledge of the room, which this
	// fleet never gathers (TestRealRooms shows a live one).
	if !strings.Contains(view, "─ connection ─") || !strings.Contains(view, "q quit") {
		t.Fatalf("the monitor is not shown:\n%s", view)
	}
	if n := len(strings.Split(view, "\n")); n != 30 {
		t.Fatalf("the detail is %d lines, want 30", n)
	}
	press(m, "?")
	if !m.details[m.open].m.Modal() {
		t.Fatal("? did not open the monitor's help")
	}
	press(m, "esc")
	if m.open < 0 {
		t.Fatal("esc in the help went back to the table")
	}
	press(m, "q")
	if m.open >= 0 {
		t.Fatal("q did not go back to the table")
	}
	if got := m.rows[m.cursor()].Name; got != "support" {
		t.Fatalf("back on %s", got)
	}
	press(m, "enter", "esc")
	if m.open >= 0 || len(m.details) != 1 {
		t.Fatalf("reopening: open %d, %d monitors", m.open, len(m.details))
	}
	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyCtrlC})
	if cmd == nil {
		t.Fatal("ctrl+c returned no command")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("ctrl+c does not quit")
	}
}
