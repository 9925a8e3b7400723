package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/eventfmt"
	"github.com/codrive/codrive/internal/sanitize"
)

type mode int

const (
	modeNormal mode = iota
	modeHelp
	modePicker
	modeInput
)

// Action names, as shown in the log and the footer.
const (
	actRequest = "request"
	actRelease = "release"
	actTake    = "take"
	actGive    = "give"
	actPause   = "pause"
	actResume  = "resume"
	actHandoff = "handoff"
)

// entryKind styles a log entry.
type entryKind int

const (
	kindEvent entryKind = iota
	kindNote
	kindError
	kindLog
)

type entry struct {
	kind entryKind
	text string
}

// Messages. Commands never touch the Model; they return one of these.
type (
	eventMsg        codrive.Event
	eventsClosedMsg struct{}
	logMsg          string
	tickMsg         struct{}
	actionDoneMsg   struct {
		name string
		ok   string // what to log on success
		err  error
	}
)

// pickItem is one session offered by the give picker.
type pickItem struct {
	id, name string
	host     bool
	canHost  bool
	online   bool
	codrive  bool // another codrive session, not a person
}

// Model is the monitor's state. Update and View run on Bubble Tea's
// goroutine only; the commands it returns call the Backend on their own
// goroutines and report back with messages.
type Model struct {
	b    Backend
	opts Options
	now  func() time.Time
	st   styles
	keys keyMap

	// ctx is the monitor's lifetime: actions in flight see it cancelled on
	// quit, so Close does not wait for a long Acquire or Handoff.
	ctx    context.Context
	cancel context.CancelFunc
	// life guards closed; wg counts running commands. A command registers
	// itself when it starts (Bubble Tea may drop commands that never ran at
	// quit), and none can register once Close began.
	life   sync.RWMutex
	closed bool
	wg     sync.WaitGroup

	width, height int
	mode          mode

	status codrive.Status
	page   codrive.PageInfo
	conn   codrive.Connection
	people []codrive.Participant

	log    []entry
	scroll int // entries hidden below the bottom of the log pane
	// lines renders the event log: the page is named when it changes, not
	// on every line.
	lines eventfmt.Printer
	// helpScroll is the first help line shown: at 60x20 the help is
	// longer than the screen.
	helpScroll int

	picker  []pickItem
	pickIdx int
	// reason is the handoff reason being typed.
	reason []rune

	busy          map[string]bool
	handoffCancel context.CancelFunc
	// handoffStopped: the operator cancelled the handoff in flight, so its
	// context error is expected, not a failure.
	handoffStopped bool
	quitting       bool
}

// New makes a Model over b. ctx bounds everything the monitor starts; Close
// ends it.
func New(ctx context.Context, b Backend, opts Options) *Model {
	opts.defaults()
	mctx, cancel := context.WithCancel(ctx)
	m := &Model{
		b:      b,
		opts:   opts,
		now:    opts.Now,
		st:     newStyles(opts.Renderer),
		keys:   defaultKeys(),
		ctx:    mctx,
		cancel: cancel,
		busy:   map[string]bool{},
	}
	m.refresh()
	return m
}

// Close cancels the actions in flight and waits for every command the
// Model started to return. It is safe to call more than once.
func (m *Model) Close() {
	m.life.Lock()
	m.closed = true
	m.life.Unlock()
	m.cancel()
	m.wg.Wait()
}

// track registers a running command; false means the Model is closed and
// the command must not run.
func (m *Model) track() bool {
	m.life.RLock()
	defer m.life.RUnlock()
	if m.closed {
		return false
	}
	m.wg.Add(1)
	return true
}

// Init starts listening for events, logs and the refresh tick, and the
// initial request for control when asked to.
func (m *Model) Init() tea.Cmd {
	m.note("monitor started; press ? for help")
	cmds := []tea.Cmd{m.listenEvents(), m.listenLogs(), m.tick()}
	if m.opts.AcquireOnStart {
		cmds = append(cmds, m.request())
	}
	return tea.Batch(cmds...)
}

func (m *Model) listenEvents() tea.Cmd {
	ch := m.opts.Events
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		if !m.track() {
			return nil
		}
		defer m.wg.Done()
		select {
		case ev, ok := <-ch:
			if !ok {
				return eventsClosedMsg{}
			}
			return eventMsg(ev)
		case <-m.ctx.Done():
			return nil
		}
	}
}

func (m *Model) listenLogs() tea.Cmd {
	ch := m.opts.Logs
	if ch == nil {
		return nil
	}
	return func() tea.Msg {
		if !m.track() {
			return nil
		}
		defer m.wg.Done()
		select {
		case line := <-ch:
			return logMsg(line)
		case <-m.ctx.Done():
			return nil
		}
	}
}

func (m *Model) tick() tea.Cmd {
	d := m.opts.Refresh
	if d < 0 {
		return nil
	}
	return func() tea.Msg {
		if !m.track() {
			return nil
		}
		defer m.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return tickMsg{}
		case <-m.ctx.Done():
			return nil
		}
	}
}

// refresh re-reads the Backend.
func (m *Model) refresh() {
	m.status = m.b.Status()
	m.page = m.b.PageInfo()
	m.conn = m.b.Connection()
	m.people = m.b.Participants()
}

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tea.KeyMsg:
		return m, m.onKey(msg)
	case eventMsg:
		m.add(kindEvent, m.lines.Line(codrive.Event(msg)))
		m.refresh()
		return m, m.listenEvents()
	case eventsClosedMsg:
		m.note("the session ended; quitting")
		return m, m.quit()
	case logMsg:
		m.add(kindLog, m.stamp()+" log "+string(msg))
		return m, m.listenLogs()
	case tickMsg:
		m.refresh()
		return m, m.tick()
	case actionDoneMsg:
		m.busy[msg.name] = false
		stopped := false
		if msg.name == actHandoff {
			if m.handoffCancel != nil {
				m.handoffCancel()
				m.handoffCancel = nil
			}
			stopped, m.handoffStopped = m.handoffStopped, false
		}
		switch {
		case stopped && errors.Is(msg.err, context.Canceled):
			m.note("handoff: ended (cancelled by the operator)")
		case msg.err != nil:
			m.fail(msg.name, msg.err)
		case msg.ok != "":
			m.note(msg.name + ": " + msg.ok)
		}
		m.refresh()
		return m, nil
	}
	return m, nil
}

func (m *Model) quit() tea.Cmd {
	m.quitting = true
	m.cancel()
	return tea.Quit
}

// keyMap is every binding the monitor knows.
type keyMap struct {
	Quit, ForceQuit, Help, Close                         key.Binding
	Request, Release, Take, Give, Pause, Handoff         key.Binding
	Up, Down, PageUp, PageDown, Home, End, Enter, Cancel key.Binding
}

func defaultKeys() keyMap {
	k := key.NewBinding
	keys := key.WithKeys
	return keyMap{
		Quit:      k(keys("q")),
		ForceQuit: k(keys("ctrl+c")),
		Help:      k(keys("?")),
		Close:     k(keys("?", "esc", "enter")),
		Request:   k(keys("r")),
		Release:   k(keys("l")),
		Take:      k(keys("t")),
		Give:      k(keys("g")),
		Pause:     k(keys("p")),
		Handoff:   k(keys("h")),
		Up:        k(keys("up", "k")),
		Down:      k(keys("down", "j")),
		PageUp:    k(keys("pgup", "ctrl+u")),
		PageDown:  k(keys("pgdown", "ctrl+d")),
		Home:      k(keys("home")),
		End:       k(keys("end")),
		Enter:     k(keys("enter")),
		Cancel:    k(keys("esc")),
	}
}

func (m *Model) onKey(k tea.KeyMsg) tea.Cmd {
	if key.Matches(k, m.keys.ForceQuit) {
		return m.quit()
	}
	switch m.mode {
	case modeHelp:
		switch {
		case key.Matches(k, m.keys.Quit):
			return m.quit()
		case key.Matches(k, m.keys.Close):
			m.mode = modeNormal
		case key.Matches(k, m.keys.Up):
			m.helpScroll--
		case key.Matches(k, m.keys.Down):
			m.helpScroll++
		case key.Matches(k, m.keys.PageUp):
			m.helpScroll -= max(1, m.helpRows()-1)
		case key.Matches(k, m.keys.PageDown):
			m.helpScroll += max(1, m.helpRows()-1)
		case key.Matches(k, m.keys.Home):
			m.helpScroll = 0
		case key.Matches(k, m.keys.End):
			m.helpScroll = len(m.helpLines(m.helpWidth()))
		}
		m.helpScroll = max(0, min(m.helpScroll, len(m.helpLines(m.helpWidth()))-m.helpRows()))
		return nil
	case modePicker:
		return m.onPickerKey(k)
	case modeInput:
		return m.onInputKey(k)
	}
	switch {
	case key.Matches(k, m.keys.Quit):
		return m.quit()
	case key.Matches(k, m.keys.Help):
		m.mode, m.helpScroll = modeHelp, 0
	case key.Matches(k, m.keys.Request):
		return m.request()
	case key.Matches(k, m.keys.Release):
		return m.release()
	case key.Matches(k, m.keys.Take):
		return m.take()
	case key.Matches(k, m.keys.Give):
		m.openPicker()
	case key.Matches(k, m.keys.Pause):
		return m.pauseToggle()
	case key.Matches(k, m.keys.Handoff):
		m.handoffKey()
	case key.Matches(k, m.keys.PageUp):
		m.scrollBy(max(1, m.logHeight()/2))
	case key.Matches(k, m.keys.PageDown):
		m.scrollBy(-max(1, m.logHeight()/2))
	case key.Matches(k, m.keys.Up):
		m.scrollBy(1)
	case key.Matches(k, m.keys.Down):
		m.scrollBy(-1)
	case key.Matches(k, m.keys.Home):
		m.scrollBy(len(m.log))
	case key.Matches(k, m.keys.End):
		m.scroll = 0
	}
	return nil
}

// action runs f on its own goroutine with a timeout; its result comes back
// as an actionDoneMsg. A second press while one is in flight is refused.
func (m *Model) action(name string, timeout time.Duration, ok string, f func(ctx context.Context) error) tea.Cmd {
	if m.busy[name] {
		m.note(name + ": already in progress")
		return nil
	}
	m.busy[name] = true
	return m.spawn(name, timeout, ok, f)
}

func (m *Model) spawn(name string, timeout time.Duration, ok string, f func(ctx context.Context) error) tea.Cmd {
	parent := m.ctx
	return func() tea.Msg {
		if !m.track() {
			return nil
		}
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		err := f(ctx)
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("gave up after %s: %w", timeout, err)
		}
		return actionDoneMsg{name: name, ok: ok, err: err}
	}
}

func (m *Model) request() tea.Cmd {
	if m.status.State == codrive.StateAutomation {
		m.note("request: automation already holds control")
		return nil
	}
	m.note(fmt.Sprintf("request: asking neko for control (up to %s)", m.opts.ActionTimeout))
	return m.action(actRequest, m.opts.ActionTimeout, "automation holds control", m.b.Acquire)
}

func (m *Model) release() tea.Cmd {
	ok := "control released"
	if m.status.State != codrive.StateAutomation {
		ok = "codrive did not hold control; it will not ask for it until r"
	}
	return m.action(actRelease, m.opts.ActionTimeout, ok, m.b.Release)
}

func (m *Model) take() tea.Cmd {
	if !m.conn.Admin {
		m.fail(actTake, errors.New("needs an admin login (codrive's neko user is not admin)"))
		return nil
	}
	return m.action(actTake, m.opts.ActionTimeout, "taken: automation holds control", m.b.Take)
}

func (m *Model) pauseToggle() tea.Cmd {
	if m.status.Gate == codrive.GatePaused {
		if m.busy[actPause] {
			m.note("resume: the pause is still in progress")
			return nil
		}
		return m.action(actResume, m.opts.ActionTimeout, "automation resumed", func(context.Context) error {
			m.b.Resume()
			return nil
		})
	}
	return m.action(actPause, m.opts.ActionTimeout, "automation paused; control released", m.b.Pause)
}

func (m *Model) openPicker() {
	m.picker = m.picker[:0]
	for _, p := range m.people {
		if p.Self {
			continue
		}
		m.picker = append(m.picker, pickItem{
			id:      p.ID,
			name:    sanitize.Text(p.Name),
			host:    p.Host,
			canHost: p.CanHost,
			online:  p.Connected,
			codrive: p.Codrive,
		})
	}
	if len(m.picker) == 0 {
		m.note("give: no other session to give control to")
		return
	}
	slices.SortFunc(m.picker, func(a, b pickItem) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.id, b.id))
	})
	m.pickIdx = 0
	m.mode = modePicker
}

func (m *Model) onPickerKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Cancel), key.Matches(k, m.keys.Quit):
		m.mode = modeNormal
	case key.Matches(k, m.keys.Up):
		m.pickIdx = max(0, m.pickIdx-1)
	case key.Matches(k, m.keys.Down):
		m.pickIdx = min(len(m.picker)-1, m.pickIdx+1)
	case key.Matches(k, m.keys.Enter):
		m.mode = modeNormal
		if m.pickIdx >= len(m.picker) {
			return nil
		}
		it := m.picker[m.pickIdx]
		who := eventfmt.Who(it.id, it.name)
		m.note("give: handing control to " + who)
		id := it.id
		return m.action(actGive, m.opts.ActionTimeout, "control given to "+who, func(ctx context.Context) error {
			return m.b.Give(ctx, id)
		})
	}
	return nil
}

// stamp is the time prefix of the monitor's own log lines.
func (m *Model) stamp() string { return m.now().Format("15:04:05") }

func (m *Model) note(text string) { m.add(kindNote, m.stamp()+" » "+text) }

func (m *Model) fail(name string, err error) {
	m.add(kindError, m.stamp()+" ✗ "+name+" failed: "+sanitize.Line(err.Error()))
}

func (m *Model) add(kind entryKind, text string) {
	m.log = append(m.log, entry{kind: kind, text: sanitize.Text(text)})
	if m.scroll > 0 {
		// Keep a scrolled-back view still while entries arrive.
		m.scroll++
	}
	if over := len(m.log) - m.opts.MaxLog; over > 0 {
		m.log = slices.Delete(m.log, 0, over)
	}
	m.scroll = min(m.scroll, max(0, len(m.log)-1))
}

func (m *Model) scrollBy(n int) {
	m.scroll = max(0, min(m.scroll+n, len(m.log)-1))
}
