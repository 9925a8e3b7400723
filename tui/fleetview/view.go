package fleetview

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/eventfmt"
	"github.com/codrive/codrive/internal/sanitize"
)

const (
	defaultWidth  = 80
	defaultHeight = 24
	// chrome is the lines around the table's rows: summary, header, the
	// selected room's line, the filter line and the footer.
	chrome = 5
)

func (m *Model) size() (int, int) {
	w, h := m.width, m.height
	if w <= 0 {
		w = defaultWidth
	}
	if h <= 0 {
		h = defaultHeight
	}
	return w, h
}

// bodyHeight is the number of rooms the table shows at once.
func (m *Model) bodyHeight() int {
	_, h := m.size()
	return max(1, h-chrome)
}

// column is one column of the table. Columns are dropped, lowest drop
// first, until the table fits; the flexible ones share what is left.
type column struct {
	title string
	width int
	// drop: the order columns go in when the terminal is narrow; 0 never.
	drop int
	// flex: takes up to this many more cells when there is room.
	flex int
	cell func(m *Model, r fleet.Row, now time.Time) (string, lipgloss.Style)
}

func (m *Model) columns() []column {
	nameW := 4
	for _, r := range m.rooms {
		nameW = max(nameW, ansi.StringWidth(r.Name))
	}
	plain := m.opts.Renderer.NewStyle()
	return []column{
		{title: "ROOM", width: min(nameW, 20), cell: func(m *Model, r fleet.Row, _ time.Time) (string, lipgloss.Style) {
			return sanitize.Text(r.Name), plain.Bold(true)
		}},
		{title: "STATE", width: 18, drop: 5, cell: stateCell},
		{title: "HOST", width: 12, drop: 4, flex: 8, cell: hostCell},
		{title: "SINCE", width: 6, drop: 3, cell: func(m *Model, r fleet.Row, now time.Time) (string, lipgloss.Style) {
			if since := r.Status().Since; r.Snapshot.Known && !since.IsZero() {
				return eventfmt.Age(now.Sub(since)), plain
			}
			return "-", m.st.Dim
		}},
		{title: "PENDING", width: 16, drop: 6, cell: pendingCell},
		{title: "HANDOFF", width: 16, drop: 7, flex: 16, cell: handoffCell},
		{title: "PAUSED", width: 6, drop: 2, cell: func(m *Model, r fleet.Row, _ time.Time) (string, lipgloss.Style) {
			if r.Paused == 0 {
				return "-", m.st.Dim
			}
			return eventfmt.Age(r.Paused), plain
		}},
		{title: "HO", width: 3, drop: 1, cell: func(m *Model, r fleet.Row, _ time.Time) (string, lipgloss.Style) {
			if r.Handoffs == 0 {
				return "-", m.st.Dim
			}
			return fmt.Sprint(r.Handoffs), plain
		}},
		{title: "HEALTH", width: 11, flex: 200, cell: healthCell},
	}
}

// markWidth is the cursor and the need's mark before the room: "› ‼ ".
const markWidth = 4

// layout picks the columns that fit in w cells and their widths.
func layout(cols []column, w int) []column {
	need := func(cs []column) int {
		n := markWidth
		for _, c := range cs {
			n += c.width + 1
		}
		return n - 1
	}
	for need(cols) > w {
		worst := -1
		for i, c := range cols {
			if c.drop > 0 && (worst < 0 || c.drop < cols[worst].drop) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		cols = append(cols[:worst:worst], cols[worst+1:]...)
	}
	// The spare cells go to the health (its errors) up to a point, then to
	// the handoff's reason and the host's name, then to the health again.
	spare := w - need(cols)
	grow := func(title string, most int) {
		for i := range cols {
			if cols[i].title == title {
				add := max(0, min(most, cols[i].flex, spare))
				cols[i].width += add
				cols[i].flex -= add
				spare -= add
			}
		}
	}
	grow("HEALTH", 30)
	grow("HANDOFF", 16)
	grow("HOST", 8)
	grow("HEALTH", spare)
	return cols
}

func (m *Model) needStyle(n fleet.Need) lipgloss.Style {
	switch n {
	case fleet.NeedHandoff, fleet.NeedAsking, fleet.NeedDegraded:
		return m.st.Warn
	case fleet.NeedUnreachable:
		return m.st.Bad
	case fleet.NeedPaused:
		return m.st.Note
	case fleet.NeedHuman:
		return m.st.Key
	case fleet.NeedRunning:
		return m.st.Good
	}
	return m.st.Dim
}

func stateCell(m *Model, r fleet.Row, _ time.Time) (string, lipgloss.Style) {
	if !r.Snapshot.Known {
		return "-", m.st.Dim
	}
	st := r.Status()
	text := sanitize.Line(string(st.State))
	// The gate that goes without saying is left out: automation running,
	// a person driving, nobody hosting, no link to neko.
	switch {
	case st.State == codrive.StateAutomation && st.Gate == codrive.GateOpen:
	case st.State != codrive.StateAutomation && st.Gate == codrive.GateWaiting:
	default:
		text += "/" + sanitize.Line(string(st.Gate))
	}
	return text, m.needStyle(r.Need)
}

func hostCell(m *Model, r fleet.Row, _ time.Time) (string, lipgloss.Style) {
	kind, name := r.Host()
	switch kind {
	case "":
		return "-", m.st.Dim
	case "person":
		return sanitize.Line(name), m.st.Key
	}
	if r.Status().State != codrive.StateAutomation {
		return "codrive " + sanitize.Line(name), m.st.Good
	}
	return "automation", m.st.Good
}

func pendingCell(m *Model, r fleet.Row, now time.Time) (string, lipgloss.Style) {
	p, ok := r.OldestPending()
	if !ok {
		return "-", m.st.Dim
	}
	n := len(r.Status().Pending)
	return fmt.Sprintf("%d %s %s", n, eventfmt.Age(now.Sub(p.Since)), sanitize.Line(p.Name)), m.st.Warn
}

func handoffCell(m *Model, r fleet.Row, now time.Time) (string, lipgloss.Style) {
	if r.Handoff == "" {
		return "-", m.st.Dim
	}
	if r.Answered() {
		_, who := r.Host()
		return "✓ " + sanitize.Line(who) + ": " + sanitize.Line(r.Handoff), m.st.Key
	}
	age := eventfmt.Age(now.Sub(r.HandoffSince))
	if !r.HandoffExact {
		age = "≥" + age
	}
	return age + " " + sanitize.Line(r.Handoff), m.st.Warn
}

func healthCell(m *Model, r fleet.Row, now time.Time) (string, lipgloss.Style) {
	s := r.Snapshot
	switch s.Health {
	case fleet.HealthReady:
		return "ready", m.st.Good
	case fleet.HealthConnecting:
		return "connecting", m.st.Dim
	case fleet.HealthUnreachable:
		text := "unreachable"
		if !s.Down.IsZero() {
			text += " " + eventfmt.Age(now.Sub(s.Down))
		}
		return text + ": " + sanitize.Line(s.Err), m.st.Bad
	}
	return string(s.Health) + ": " + sanitize.Line(s.Err), m.st.Warn
}

// cell renders text in exactly w cells.
func cell(text string, w int, style lipgloss.Style) string {
	text = ansi.Truncate(text, w, "…")
	return style.Render(text) + strings.Repeat(" ", max(0, w-ansi.StringWidth(text)))
}

// View renders the screen; it never exceeds the terminal's size.
func (m *Model) View() string {
	w, h := m.size()
	if m.open >= 0 {
		if d := m.details[m.open]; d != nil {
			return m.detailHeader(w) + "\n" + d.m.View()
		}
	}
	if w < 30 || h < chrome+1 {
		lines := make([]string, h)
		for i, l := range []string{"codrive fleet:", "terminal", "too small", "ctrl+c quits"} {
			if i < h {
				lines[i] = ansi.Truncate(l, w, "")
			}
		}
		return strings.Join(lines, "\n")
	}
	now := m.now()
	cols := layout(m.columns(), w)
	lines := make([]string, 0, h)
	lines = append(lines, m.summary(w))

	var hb strings.Builder
	hb.WriteString(strings.Repeat(" ", markWidth))
	for i, c := range cols {
		if i > 0 {
			hb.WriteByte(' ')
		}
		hb.WriteString(cell(c.title, c.width, m.st.Label))
	}
	lines = append(lines, hb.String())

	body := m.bodyHeight()
	end := min(len(m.rows), m.top+body)
	for i := m.top; i < end; i++ {
		lines = append(lines, m.rowLine(m.rows[i], cols, now))
	}
	if len(m.rows) == 0 {
		lines = append(lines, m.st.Dim.Render("    no room matches the filter"))
	}
	for len(lines) < h-3 {
		lines = append(lines, "")
	}
	lines = append(lines, m.selectedLine(w, now), m.infoLine(w), m.footer(w))
	return strings.Join(lines, "\n")
}

func (m *Model) rowLine(r fleet.Row, cols []column, now time.Time) string {
	var b strings.Builder
	cursor := "  "
	if r.Room == m.selected {
		cursor = m.st.Key.Render("›") + " "
	}
	b.WriteString(cursor)
	b.WriteString(m.needStyle(r.Need).Render(r.Need.Mark()))
	b.WriteByte(' ')
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(' ')
		}
		text, style := c.cell(m, r, now)
		b.WriteString(cell(text, c.width, style))
	}
	return b.String()
}

// summary is the first line: the rooms by need, and what the counts
// cover.
func (m *Model) summary(w int) string {
	title := m.st.Title.Render("fleet")
	text := m.counts.Summary()
	return ansi.Truncate(title+" · "+text, w, "…")
}

// selectedLine tells what the table's cells cut short about the room
// under the cursor: why it is unhealthy, the whole handoff reason, who
// asks for control.
func (m *Model) selectedLine(w int, now time.Time) string {
	c := m.cursor()
	if c < 0 {
		return ""
	}
	r := m.rows[c]
	var parts []string
	if r.Handoff != "" {
		text, _ := handoffCell(m, r, now)
		parts = append(parts, "handoff "+text)
	}
	if ps := r.Status().Pending; len(ps) > 0 {
		var who []string
		for _, p := range ps {
			who = append(who, sanitize.Line(p.Name)+" "+eventfmt.Age(now.Sub(p.Since)))
		}
		parts = append(parts, "asking: "+strings.Join(who, ", "))
	}
	if r.Snapshot.Health != fleet.HealthReady {
		text, _ := healthCell(m, r, now)
		parts = append(parts, text)
	}
	if len(parts) == 0 {
		kind, host := r.Host()
		switch kind {
		case "person":
			parts = append(parts, host+" drives")
		case "automation":
			parts = append(parts, "automation drives")
		default:
			parts = append(parts, "nobody drives")
		}
		if why := sanitize.Line(r.Status().Reason); why != "" {
			parts = append(parts, why)
		}
	}
	line := m.st.Key.Render("›") + " " + m.st.Title.Render(sanitize.Text(r.Name)) + ": " + strings.Join(parts, " · ")
	return ansi.Truncate(line, w, "…")
}

// infoLine is the filter, the scroll position and the counts' window.
func (m *Model) infoLine(w int) string {
	var parts []string
	if len(m.filter) > 0 {
		parts = append(parts, m.st.Label.Render("filter: ")+sanitize.Text(string(m.filter))+m.st.Key.Render("▏")+
			fmt.Sprintf(" (%d of %d)", len(m.rows), m.board.Len()))
	} else {
		parts = append(parts, m.st.Dim.Render("type to filter"))
	}
	if n := len(m.rows); n > m.bodyHeight() {
		parts = append(parts, fmt.Sprintf("rows %d–%d of %d", m.top+1, min(n, m.top+m.bodyHeight()), n))
	}
	parts = append(parts, m.st.Dim.Render("PAUSED, HO (handoffs): "+m.board.WindowLabel()))
	return ansi.Truncate(strings.Join(parts, m.st.Dim.Render(" · ")), w, "…")
}

func (m *Model) footer(w int) string {
	keys := [][2]string{{"↑/↓", "move"}, {"enter", "open"}, {"esc", "clear filter"}, {"ctrl+c", "quit"}}
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = m.st.Key.Render(k[0]) + " " + k[1]
	}
	return ansi.Truncate(strings.Join(parts, "  "), w, "…")
}

// detailHeader is the line above a room's monitor: which room, where,
// and the way back.
func (m *Model) detailHeader(w int) string {
	r := m.rooms[m.open]
	row := m.board.Row(m.open, m.now())
	text := m.st.Title.Render("fleet › "+sanitize.Text(r.Name)) + "  " + sanitize.URL(r.URL) + "  " +
		m.needStyle(row.Need).Render(row.Need.Mark()+" "+row.Need.String())
	back := m.st.Key.Render("esc") + " back to the fleet"
	if gap := w - ansi.StringWidth(text) - ansi.StringWidth(back); gap >= 2 {
		return text + strings.Repeat(" ", gap) + back
	}
	return ansi.Truncate(text, w, "…")
}
