package fleetview

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/fleettest"
)

var sessionID = regexp.MustCompile(`\b(codrive|alice|bob)-[A-Za-z0-9_-]{5}`)

// probe runs the view in a real Bubble Tea program and hands each screen
// after an update to the test, from the program's own goroutine.
type probe struct {
	*Model
	frames *frames
}

type frames struct {
	mu      sync.Mutex
	latest  string
	changed chan struct{}
}

func (p probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	_, cmd := p.Model.Update(msg)
	p.frames.mu.Lock()
	p.frames.latest = p.Model.View()
	close(p.frames.changed)
	p.frames.changed = make(chan struct{})
	p.frames.mu.Unlock()
	return p, cmd
}

// until waits for a screen with every want and without any of avoid.
func (f *frames) until(t *testing.T, want []string, avoid ...string) string {
	t.Helper()
	deadline := time.After(fleettest.Timeout)
	for {
		f.mu.Lock()
		screen, changed := f.latest, f.changed
		f.mu.Unlock()
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(screen, w)
		}
		for _, a := range avoid {
			ok = ok && !strings.Contains(screen, a)
		}
		if ok {
			return screen
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("the screen never showed %q without %q; last:\n%s", want, avoid, screen)
		}
	}
}

// Done-when of issue 14: three real rooms (nekotest, each with its own
// `codrive attach --http`, tabs of one Chromium); a person takes control
// in one and gives it back, a handoff in another appears, is answered and
// clears; the frames are pinned in testdata/TestRealRooms. The clock is
// pinned before every event, so every age reads 0s.
func TestRealRooms(t *testing.T) {
	t.Parallel()
	rooms := fleettest.Start(t, fleettest.Options{Bin: fleettest.Binary(t), Chromium: chromium(t), Names: []string{"alpha", "bravo", "charlie"}})
	var list []fleet.Room
	for _, r := range rooms {
		list = append(list, r.FleetRoom())
	}
	clock := func() time.Time { return t0 }
	f := fleet.New(list, fleet.Options{Now: clock})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.Run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	m := New(ctx, f, Options{Now: clock, Tick: -1, Renderer: asciiRenderer()})
	defer m.Close()
	fr := &frames{changed: make(chan struct{})}
	tm := teatest.NewTestModel(t, probe{m, fr}, teatest.WithInitialTermSize(120, 10))

	frame := func(name string, want []string, avoid ...string) {
		t.Helper()
		screen := fr.until(t, want, avoid...)
		// neko's session ids are random; their width is not.
		screen = sessionID.ReplaceAllString(screen, "$1-xxxxx")
		t.Run(name, func(t *testing.T) { teatest.RequireEqualOutput(t, []byte(screen)) })
	}
	frame("ready", []string{"3 rooms: ○3 idle"})
	for i := range rooms {
		if err := f.Backend(i).Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	frame("automation", []string{"3 rooms: ▶3 automation"}, "connecting", "degraded")

	alice := rooms[1].Person(t, "alice")
	if err := alice.RequestControl(); err != nil {
		t.Fatal(err)
	}
	frame("bravo-human", []string{"●1 human", "● bravo   human"})
	if err := alice.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	frame("bravo-back", []string{"3 rooms: ▶3 automation"})

	handoff := make(chan error, 1)
	go func() { handoff <- f.Backend(2).Handoff(ctx, "solve the captcha") }()
	// The handoff shows first while automation still hosts, then codrive
	// lets go and the room waits, free, for a person: the settled screen.
	frame("charlie-handoff", []string{"‼1 handoff waiting", "‼ charlie free/handoff", "solve the captcha"})
	bob := rooms[2].Person(t, "bob")
	if err := bob.RequestControl(); err != nil {
		t.Fatal(err)
	}
	frame("charlie-answered", []string{"●1 human", "✓ bob: solve the captcha"})
	if err := bob.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	if err := <-handoff; err != nil {
		t.Fatalf("handoff: %v", err)
	}
	frame("charlie-cleared", []string{"3 rooms: ▶3 automation"}, "solve the captcha")

	// Enter opens charlie's monitor, live over its operator API; p pauses
	// it there, esc comes back and the table shows the pause.
	tm.Send(tea.WindowSizeMsg{Width: 120, Height: 30})
	for _, k := range []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune("charlie")}, {Type: tea.KeyEnter}} {
		tm.Send(k)
	}
	fr.until(t, []string{"fleet › charlie", "host     automation · codrive", "─ sessions 2", "bob"})
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("p")})
	fr.until(t, []string{"pause: automation paused; control released"})
	// Resized first: a table frame drawn between esc and the resize
	// would be 30 lines high.
	tm.Send(tea.WindowSizeMsg{Width: 120, Height: 10})
	tm.Send(tea.KeyMsg{Type: tea.KeyEsc})
	frame("charlie-paused", []string{"‖ charlie", "filter: charlie"})

	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))
}
