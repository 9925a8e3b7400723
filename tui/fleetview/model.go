// Package fleetview is `codrive fleet`'s screen: one table row per room
// of a fleet.Fleet, the rooms that need a person first, filtered by
// typing; enter opens a room in the single-room monitor (package tui)
// driven over the room's operator API, esc comes back.
package fleetview

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/tui"
)

// Options configure the view.
type Options struct {
	// Now is the clock; tests pin it so frames are reproducible.
	Now func() time.Time
	// Tick is how often the ages in the table move on between updates.
	// Default 1s; negative never.
	Tick time.Duration
	// ActionTimeout and HandoffTimeout bound a room's actions, as in
	// tui.Options.
	ActionTimeout, HandoffTimeout time.Duration
	// Renderer styles the output; default lipgloss.DefaultRenderer().
	Renderer *lipgloss.Renderer
	// MaxBatch bounds the updates taken per screen update. Default 4096.
	MaxBatch int
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tick == 0 {
		o.Tick = time.Second
	}
	if o.Renderer == nil {
		o.Renderer = lipgloss.DefaultRenderer()
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 4096
	}
}

// Messages. Commands never touch the Model; they return one of these.
type (
	updatesMsg       []fleet.Update
	updatesClosedMsg struct{}
	tickMsg          struct{}
	// detailMsg carries a message of room's monitor: each room's monitor
	// lives as long as the view, so that an action started in it (a
	// handoff) goes on while the table shows, and its messages must reach
	// it and no other.
	detailMsg struct {
		room int
		msg  tea.Msg
	}
	detailQuitMsg struct{ room int }
)

// detail is one room's single-room monitor.
type detail struct {
	m     *tui.Model
	b     *fleet.Backend
	close func()
}

// Model is the fleet view. Update and View run on Bubble Tea's goroutine.
type Model struct {
	f     *fleet.Fleet
	opts  Options
	now   func() time.Time
	st    tui.Styles
	keys  keyMap
	rooms []fleet.Room
	board *fleet.Board

	ctx    context.Context
	cancel context.CancelFunc

	width, height int
	filter        []rune
	// rows are the rooms shown, sorted and filtered; selected is the room
	// under the cursor (a room index, -1 for none), which stays on its
	// room while the order changes; top is the first row shown.
	rows     []fleet.Row
	counts   fleet.Count
	selected int
	top      int
	// chosen: the person moved the cursor; until then it stays on the
	// first row, whichever room that is.
	chosen bool

	details map[int]*detail
	open    int // the room shown in detail, -1 for the table
}

// New makes the view over f, whose Run the caller starts. ctx bounds
// everything the view starts.
func New(ctx context.Context, f *fleet.Fleet, opts Options) *Model {
	opts.defaults()
	ctx, cancel := context.WithCancel(ctx)
	m := &Model{
		f: f, opts: opts, now: opts.Now,
		st:       tui.NewStyles(opts.Renderer),
		keys:     defaultKeys(),
		rooms:    f.Rooms(),
		ctx:      ctx,
		cancel:   cancel,
		selected: -1,
		open:     -1,
		details:  map[int]*detail{},
	}
	m.board = fleet.NewBoard(m.rooms, m.now())
	m.resort()
	return m
}

// Run shows the view until the user quits, ctx ends or the fleet stops.
// Like tui.Run, Bubble Tea's signal handler is off: ctx stops it.
func Run(ctx context.Context, f *fleet.Fleet, opts Options, popts ...tea.ProgramOption) error {
	m := New(ctx, f, opts)
	defer m.Close()
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithoutSignalHandler()}, popts...)...)
	stop := context.AfterFunc(ctx, p.Quit)
	defer stop()
	if _, err := p.Run(); err != nil {
		return fmt.Errorf("fleet view: %w", err)
	}
	return nil
}

// Close ends the rooms' monitors (cancelling their actions in flight) and
// waits for their commands. Safe to call more than once.
func (m *Model) Close() {
	m.cancel()
	for _, d := range m.details {
		d.m.Close()
		d.close()
	}
	clear(m.details)
}

// Init starts reading the fleet's updates and the age tick.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.listen(), m.tick()) }

// listen waits for an update, then takes every update already queued:
// a burst from many rooms becomes one screen update, not hundreds.
func (m *Model) listen() tea.Cmd {
	ch, ctx, maxBatch := m.f.Updates(), m.ctx, m.opts.MaxBatch
	return func() tea.Msg {
		var batch updatesMsg
		select {
		case u, ok := <-ch:
			if !ok {
				return updatesClosedMsg{}
			}
			batch = append(batch, u)
		case <-ctx.Done():
			return nil
		}
		for len(batch) < maxBatch {
			select {
			case u, ok := <-ch:
				if !ok {
					return batch
				}
				batch = append(batch, u)
			default:
				return batch
			}
		}
		return batch
	}
}

func (m *Model) tick() tea.Cmd {
	d, ctx := m.opts.Tick, m.ctx
	if d < 0 {
		return nil
	}
	return func() tea.Msg {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return tickMsg{}
		case <-ctx.Done():
			return nil
		}
	}
}

// Update applies one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		var cmds []tea.Cmd
		for i, d := range m.details {
			_, cmd := d.m.Update(m.detailSize())
			cmds = append(cmds, wrap(i, cmd))
		}
		m.clamp()
		return m, tea.Batch(cmds...)
	case tea.KeyMsg:
		return m, m.onKey(msg)
	case updatesMsg:
		for _, u := range msg {
			m.board.Apply(u)
		}
		m.resort()
		return m, m.listen()
	case updatesClosedMsg:
		return m, m.quit()
	case tickMsg:
		m.resort()
		return m, m.tick()
	case detailMsg:
		d := m.details[msg.room]
		if d == nil {
			return m, nil
		}
		_, cmd := d.m.Update(msg.msg)
		return m, wrap(msg.room, cmd)
	case detailQuitMsg:
		// A room's monitor quit by itself: its events ended, the fleet is
		// stopping. Its commands see a cancelled context and end at once;
		// they are waited for off the screen's goroutine.
		if d := m.details[msg.room]; d != nil {
			if m.open == msg.room {
				m.back()
			}
			delete(m.details, msg.room)
			go func() {
				d.m.Close()
				d.close()
			}()
		}
		return m, nil
	}
	return m, nil
}

// wrap tags cmd's messages with their room, through batches.
func wrap(room int, cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg {
		switch msg := cmd().(type) {
		case nil:
			return nil
		case tea.BatchMsg:
			out := make(tea.BatchMsg, len(msg))
			for i, c := range msg {
				out[i] = wrap(room, c)
			}
			return out
		case tea.QuitMsg:
			return detailQuitMsg{room}
		default:
			return detailMsg{room, msg}
		}
	}
}

func (m *Model) quit() tea.Cmd {
	m.cancel()
	return tea.Quit
}

// keyMap is every binding of the table; the monitor has its own.
type keyMap struct {
	Quit, Up, Down, PageUp, PageDown, Home, End, Open, Clear, Back key.Binding
}

func defaultKeys() keyMap {
	k, keys := key.NewBinding, key.WithKeys
	return keyMap{
		Quit:     k(keys("ctrl+c")),
		Up:       k(keys("up", "ctrl+p")),
		Down:     k(keys("down", "ctrl+n")),
		PageUp:   k(keys("pgup")),
		PageDown: k(keys("pgdown")),
		Home:     k(keys("home")),
		End:      k(keys("end")),
		Open:     k(keys("enter")),
		Clear:    k(keys("esc")),
		Back:     k(keys("esc", "q")),
	}
}

func (m *Model) onKey(k tea.KeyMsg) tea.Cmd {
	if key.Matches(k, m.keys.Quit) {
		return m.quit()
	}
	if m.open >= 0 {
		d := m.details[m.open]
		if !d.m.Modal() && key.Matches(k, m.keys.Back) {
			m.back()
			return nil
		}
		_, cmd := d.m.Update(k)
		return wrap(m.open, cmd)
	}
	switch {
	case key.Matches(k, m.keys.Open):
		return m.openRoom()
	case key.Matches(k, m.keys.Clear):
		m.setFilter(nil)
	case key.Matches(k, m.keys.Up):
		m.move(-1)
	case key.Matches(k, m.keys.Down):
		m.move(1)
	case key.Matches(k, m.keys.PageUp):
		m.move(-max(1, m.bodyHeight()-1))
	case key.Matches(k, m.keys.PageDown):
		m.move(max(1, m.bodyHeight()-1))
	case key.Matches(k, m.keys.Home):
		m.move(-len(m.rows))
	case key.Matches(k, m.keys.End):
		m.move(len(m.rows))
	default:
		m.editFilter(k)
	}
	return nil
}

// maxFilter bounds the filter: it is one line.
const maxFilter = 40

func (m *Model) editFilter(k tea.KeyMsg) {
	f := m.filter
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		for _, r := range k.Runes {
			if len(f) < maxFilter && r >= ' ' && r != 0x7f {
				f = append(f, r)
			}
		}
	case tea.KeyBackspace:
		if len(f) > 0 {
			f = f[:len(f)-1]
		}
	case tea.KeyCtrlU:
		f = nil
	default:
		return
	}
	m.setFilter(f)
}

func (m *Model) setFilter(f []rune) {
	m.filter = f
	m.resort()
}

// resort rebuilds the rows shown, keeping the cursor on its room.
func (m *Model) resort() {
	all := m.board.Rows(m.now())
	m.counts = fleet.Counts(all)
	needle := strings.ToLower(strings.TrimSpace(string(m.filter)))
	m.rows = m.rows[:0]
	for _, r := range all {
		if needle == "" || strings.Contains(searchText(r), needle) {
			m.rows = append(m.rows, r)
		}
	}
	m.clamp()
}

// searchText is what the filter matches: the room's name, who hosts, its
// state and need.
func searchText(r fleet.Row) string {
	_, host := r.Host()
	return strings.ToLower(r.Name + " " + host + " " + string(r.Status().State) + " " + r.Need.String() + " " + string(r.Snapshot.Health))
}

// cursor is the selected room's position in rows, or -1.
func (m *Model) cursor() int {
	for i, r := range m.rows {
		if r.Room == m.selected {
			return i
		}
	}
	return -1
}

// clamp puts the cursor on a shown room and the room in view.
func (m *Model) clamp() {
	c := m.cursor()
	if !m.chosen && len(m.rows) > 0 {
		c, m.selected = 0, m.rows[0].Room
	}
	if c < 0 {
		if len(m.rows) == 0 {
			m.top = 0
			return
		}
		c = 0
		m.selected = m.rows[0].Room
	}
	h := m.bodyHeight()
	m.top = max(0, min(m.top, c, len(m.rows)-h))
	if c >= m.top+h {
		m.top = c - h + 1
	}
}

func (m *Model) move(n int) {
	if len(m.rows) == 0 {
		return
	}
	c := max(0, min(len(m.rows)-1, m.cursor()+n))
	m.selected, m.chosen = m.rows[c].Room, true
	m.clamp()
}

func (m *Model) openRoom() tea.Cmd {
	c := m.cursor()
	if c < 0 {
		return nil
	}
	i := m.rows[c].Room
	m.open = i
	d := m.details[i]
	if d != nil {
		d.b.Focus(true)
		_, cmd := d.m.Update(m.detailSize())
		return wrap(i, cmd)
	}
	b := m.f.Backend(i)
	events, failures, closeSub := b.Open()
	b.Focus(true)
	tm := tui.New(m.ctx, b, tui.Options{
		Events:         events,
		Logs:           failures,
		Now:            m.opts.Now,
		ActionTimeout:  m.opts.ActionTimeout,
		HandoffTimeout: m.opts.HandoffTimeout,
		Renderer:       m.opts.Renderer,
	})
	m.details[i] = &detail{m: tm, b: b, close: closeSub}
	_, cmd := tm.Update(m.detailSize())
	return tea.Batch(wrap(i, tm.Init()), wrap(i, cmd))
}

func (m *Model) back() {
	if d := m.details[m.open]; d != nil {
		d.b.Focus(false)
	}
	m.open = -1
	m.resort()
}

// detailSize is the monitor's screen: the view's, less its header line.
func (m *Model) detailSize() tea.WindowSizeMsg {
	w, h := m.size()
	return tea.WindowSizeMsg{Width: w, Height: max(1, h-1)}
}
