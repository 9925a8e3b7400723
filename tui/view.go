package tui

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/eventfmt"
	"github.com/codrive/codrive/internal/sanitize"
)

// Layout thresholds: below narrowWidth panes stack in one column; from
// wideWidth the top row has three panes.
const (
	narrowWidth   = 70
	wideWidth     = 120
	defaultWidth  = 80
	defaultHeight = 24
	labelWidth    = 8
	minLogHeight  = 4
)

type styles struct {
	border, title, label, dim, good, warn, bad, key, note, errText lipgloss.Style
}

func newStyles(r *lipgloss.Renderer) styles {
	s := r.NewStyle()
	return styles{
		border:  s.Foreground(lipgloss.Color("240")),
		title:   s.Bold(true).Foreground(lipgloss.Color("75")),
		label:   s.Foreground(lipgloss.Color("245")),
		dim:     s.Foreground(lipgloss.Color("242")),
		good:    s.Bold(true).Foreground(lipgloss.Color("42")),
		warn:    s.Bold(true).Foreground(lipgloss.Color("214")),
		bad:     s.Bold(true).Foreground(lipgloss.Color("203")),
		key:     s.Bold(true).Foreground(lipgloss.Color("81")),
		note:    s.Foreground(lipgloss.Color("111")),
		errText: s.Foreground(lipgloss.Color("203")),
	}
}

// block is a rendered pane: exactly its height in lines, each exactly its
// width in cells.
type block []string

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

// View renders the whole screen; it never exceeds the terminal size.
func (m *Model) View() string {
	w, h := m.size()
	if w < 20 || h < 6 {
		lines := make([]string, h)
		for i, l := range []string{"codrive: terminal", "too small", "q quits"} {
			if i < h {
				lines[i] = ansi.Truncate(l, w, "")
			}
		}
		return strings.Join(lines, "\n")
	}
	if m.mode == modeHelp {
		return strings.Join(m.helpView(w, h-1), "\n") + "\n" + m.footer(w)
	}
	bodyH := h - 1
	var dialog block
	switch m.mode {
	case modePicker:
		dialog = m.pickerView(w, bodyH)
	case modeInput:
		dialog = m.inputView(w)
	}
	rows := m.layout(w, bodyH-len(dialog)-minLogHeight)
	used := len(dialog)
	for _, r := range rows {
		used += len(r)
	}
	lines := make([]string, 0, h)
	for _, r := range rows {
		lines = append(lines, r...)
	}
	lines = append(lines, dialog...)
	if logH := bodyH - used; logH >= 3 {
		lines = append(lines, m.logView(w, logH)...)
	}
	if len(lines) > bodyH {
		lines = lines[:bodyH]
	}
	for len(lines) < bodyH {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n") + "\n" + m.footer(w)
}

// layout returns the rows of panes above the log that fit in avail lines,
// dropping the least useful panes first when the terminal is short.
func (m *Model) layout(w, avail int) []block {
	type row struct {
		b        block
		priority int // lower is kept longer
	}
	var rows []row
	switch {
	case w >= wideWidth:
		// The control pane gets the spare width: its reasons are long.
		c1, c3 := w*3/10, w*3/10
		c2 := w - c1 - c3
		h := 8
		rows = append(rows, row{hjoin(
			m.connectionPane(c1, h), m.controlPane(c2, h), m.pagePane(c3, h)), 0})
		rows = append(rows, row{m.sessionsPane(w, m.sessionsHeight(6), true), 1})
	case w >= narrowWidth:
		c1 := w / 2
		c2 := w - c1
		rows = append(rows, row{hjoin(m.connectionPane(c1, 8), m.controlPane(c2, 8)), 0})
		h := max(6, m.sessionsHeight(5))
		rows = append(rows, row{hjoin(m.sessionsPane(c1, h, false), m.pagePane(c2, h)), 1})
	case m.short():
		// Narrow and short (60x20): the connection and the page become
		// one line each, so that the event log keeps room to be read.
		rows = append(rows,
			row{m.connectionLine(w), 1},
			row{m.controlPane(w, 8), 0},
			row{m.pageLine(w), 2},
			row{m.sessionsPane(w, m.sessionsHeight(4), false), 3},
		)
	default:
		connH := 7
		if m.opts.ProxyURL != "" {
			connH++
		}
		rows = append(rows,
			row{m.connectionPane(w, connH), 1},
			row{m.controlPane(w, 8), 0},
			row{m.sessionsPane(w, m.sessionsHeight(4), false), 3},
			row{m.pagePane(w, 6), 2},
		)
	}
	total := func() int {
		n := 0
		for _, r := range rows {
			n += len(r.b)
		}
		return n
	}
	for len(rows) > 1 && total() > avail {
		worst := 0
		for i, r := range rows {
			if r.priority > rows[worst].priority {
				worst = i
			}
		}
		rows = slices.Delete(rows, worst, worst+1)
	}
	out := make([]block, len(rows))
	for i, r := range rows {
		out[i] = r.b
	}
	return out
}

// sessionsHeight is the pane height for the room's sessions, header
// included, capped at maxLines of content.
func (m *Model) sessionsHeight(maxLines int) int {
	n := len(m.people) + 1
	return min(max(n, 2), maxLines) + 2
}

func hjoin(bs ...block) block {
	h := 0
	for _, b := range bs {
		h = max(h, len(b))
	}
	out := make(block, h)
	for i := range out {
		var sb strings.Builder
		for _, b := range bs {
			if i < len(b) {
				sb.WriteString(b[i])
			}
		}
		out[i] = sb.String()
	}
	return out
}

// box draws a pane with its title in the top border. Content lines are
// truncated to fit and padded; missing lines are blank.
func (m *Model) box(title string, lines []string, w, h int) block {
	w, h = max(w, 6), max(h, 2)
	inner := w - 4
	b := m.st.border.Render
	t := ansi.Truncate(" "+title+" ", w-3, "…")
	top := b("╭─") + m.st.title.Render(t) + b(strings.Repeat("─", max(0, w-3-ansi.StringWidth(t)))+"╮")
	out := make(block, 0, h)
	out = append(out, top)
	for i := range h - 2 {
		line := ""
		if i < len(lines) {
			line = ansi.Truncate(lines[i], inner, "…")
		}
		pad := max(0, inner-ansi.StringWidth(line))
		out = append(out, b("│")+" "+line+strings.Repeat(" ", pad)+" "+b("│"))
	}
	out = append(out, b("╰"+strings.Repeat("─", w-2)+"╯"))
	return out
}

func (m *Model) kv(label, value string) string {
	return m.st.label.Render(fmt.Sprintf("%-*s", labelWidth, label)) + " " + value
}

func (m *Model) connectionPane(w, h int) block {
	now := m.now()
	socket := m.st.bad.Render("reconnecting")
	switch {
	case m.conn.Closed:
		socket = m.st.bad.Render("closed") + " (no reconnect; restart codrive)"
	case m.conn.Connected:
		socket = m.st.good.Render("connected")
	}
	session := orDash(sanitize.Text(m.status.Session))
	if m.conn.Admin {
		session += " (admin)"
	}
	heard := "never"
	if !m.conn.LastHeard.IsZero() {
		heard = ago(now, m.conn.LastHeard)
	}
	reconn := fmt.Sprintf("%d · malformed %d", m.conn.Reconnects, m.conn.Malformed)
	lines := []string{
		m.kv("neko", orDash(sanitize.URL(m.opts.NekoURL))),
		m.kv("session", session),
		m.kv("socket", socket),
		m.kv("heard", heard),
		m.kv("reconn", reconn),
	}
	if m.opts.ProxyURL != "" {
		lines = append(lines, m.kv("proxy", sanitize.URL(m.opts.ProxyURL)))
	}
	return m.box("connection", lines, w, h)
}

// shortHeight: below it, a narrow screen shows the connection and the page
// as one line each.
const shortHeight = 26

func (m *Model) short() bool {
	_, h := m.size()
	return h < shortHeight
}

// line is a one-line block of width w.
func line(s string, w int) block {
	s = ansi.Truncate(s, w, "…")
	return block{s + strings.Repeat(" ", max(0, w-ansi.StringWidth(s)))}
}

// connectionLine is the connection pane in one line.
func (m *Model) connectionLine(w int) block {
	socket := m.st.bad.Render("reconnecting")
	switch {
	case m.conn.Closed:
		socket = m.st.bad.Render("closed")
	case m.conn.Connected:
		socket = m.st.good.Render("connected")
	}
	heard := "never heard"
	if !m.conn.LastHeard.IsZero() {
		heard = "heard " + ago(m.now(), m.conn.LastHeard)
	}
	session := orDash(sanitize.Text(m.status.Session))
	if m.conn.Admin {
		session += " (admin)"
	}
	return line(" "+m.st.label.Render("neko")+" "+socket+" · "+session+" · "+heard, w)
}

// pageLine is the page pane in one line.
func (m *Model) pageLine(w int) block {
	p := m.page
	state := ""
	if !p.Attached {
		state = " · " + m.st.bad.Render("not attached")
	}
	return line(" "+m.st.label.Render("page")+" "+orDash(sanitize.URL(p.URL))+state, w)
}

func (m *Model) controlPane(w, h int) block {
	s := m.status
	now := m.now()
	var host string
	switch s.State {
	case codrive.StateAutomation:
		// codrive's own session id is in the connection pane already.
		host = m.st.good.Render("automation") + " · " + sanitize.Text(cmp.Or(s.HostName, s.Host))
	case codrive.StateHuman:
		host = m.st.warn.Render("human") + " · " + sanitize.Text(eventfmt.Who(s.Host, s.HostName))
	case codrive.StateCodrive:
		host = m.st.note.Render("codrive") + " · " + sanitize.Text(eventfmt.Who(s.Host, s.HostName)) + " (another codrive)"
	case codrive.StateFree:
		host = m.st.dim.Render("nobody") + " (free)"
	default:
		host = m.st.bad.Render(string(s.State))
	}
	since := "-"
	if !s.Since.IsZero() {
		since = s.Since.Format("15:04:05") + ", " + ago(now, s.Since)
	}
	policy := string(s.Policy)
	if s.Locked {
		policy += " · " + m.st.warn.Render("room locked")
	}
	pending := "none"
	if len(s.Pending) > 0 {
		parts := make([]string, len(s.Pending))
		for i, p := range s.Pending {
			parts[i] = fmt.Sprintf("%s %s", sanitize.Text(cmp.Or(p.Name, p.ID)), eventfmt.Age(now.Sub(p.Since)))
		}
		pending = m.st.warn.Render(fmt.Sprintf("%d", len(s.Pending))) + ": " + strings.Join(parts, ", ")
	}
	return m.box("control", []string{
		m.kv("host", host),
		m.kv("since", since),
		m.kv("why", orDash(sanitize.Text(s.Reason))),
		m.kv("auto", m.automation()),
		m.kv("policy", policy),
		m.kv("pending", pending),
	}, w, h)
}

// automation names the gate, as the arbiter decided it: running
// (automation may act), paused, handoff, yielding (hosting but handing
// over), waiting for control, or closed.
func (m *Model) automation() string {
	s := m.status
	switch s.Gate {
	case codrive.GateHandoff:
		return m.st.warn.Render("handoff") + ": " + sanitize.Text(s.Handoff)
	case codrive.GatePaused:
		return m.st.warn.Render("paused")
	case codrive.GateOpen:
		return m.st.good.Render("running")
	case codrive.GateYielding:
		return m.st.warn.Render("yielding")
	case codrive.GateClosed:
		return m.st.dim.Render("closed")
	default:
		return m.st.dim.Render("waiting for control")
	}
}

func (m *Model) pagePane(w, h int) block {
	p := m.page
	tab := m.st.good.Render("attached")
	if !p.Attached {
		tab = m.st.bad.Render("not attached") + " (re-attaching)"
	}
	return m.box("page", []string{
		m.kv("url", orDash(sanitize.Text(p.URL))),
		m.kv("title", orDash(sanitize.Text(p.Title))),
		m.kv("target", orDash(sanitize.Text(p.TargetID))),
		m.kv("tab", tab),
	}, w, h)
}

// sessionOrder ranks a session for the sessions pane: the host, codrive's
// own, other codrive sessions, people connected, then the offline ones,
// which would otherwise push the ones that matter under "… more".
func sessionOrder(p codrive.Participant) int {
	switch {
	case p.Host:
		return 0
	case p.Self:
		return 1
	case p.Codrive && p.Connected:
		return 2
	case p.Connected:
		return 3
	}
	return 4
}

func (m *Model) sessionsPane(w, h int, withID bool) block {
	list := slices.Clone(m.people)
	slices.SortStableFunc(list, func(a, b codrive.Participant) int {
		return cmp.Or(cmp.Compare(sessionOrder(a), sessionOrder(b)), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	title := fmt.Sprintf("sessions %d · ▶ host · * codrive", len(list))
	nameW := 14
	if withID {
		nameW = 18
	}
	flag := func(on bool, word string) string {
		if on {
			return fmt.Sprintf("%-*s", len(word), word)
		}
		return fmt.Sprintf("%-*s", len(word), "-")
	}
	header := fmt.Sprintf("  %-*s %s %s %s", nameW, "name", "admin", "conn", "watch")
	if withID {
		header += "  id"
	}
	lines := []string{m.st.label.Render(header)}
	rows := h - 3
	for i, s := range list {
		if i == rows-1 && len(list) > rows {
			lines = append(lines, m.st.dim.Render(fmt.Sprintf("  … %d more", len(list)-i)))
			break
		}
		marker := "  "
		if s.Host {
			marker = m.st.good.Render("▶") + " "
		}
		name := sanitize.Text(cmp.Or(s.Name, s.ID))
		if s.Self || s.Codrive {
			name += "*"
		}
		name = ansi.Truncate(name, nameW, "…")
		line := fmt.Sprintf("%s%-*s %s %s %s", marker, nameW, name,
			flag(s.Admin, "admin"), flag(s.Connected, "conn"), flag(s.Watching, "watch"))
		if withID {
			line += "  " + m.st.dim.Render(sanitize.Text(s.ID))
		}
		lines = append(lines, line)
	}
	if len(list) == 0 {
		lines = append(lines, m.st.dim.Render("  none"))
	}
	return m.box(title, lines, w, h)
}

// logHeight is the number of content lines the log pane had at the last
// layout, for page-wise scrolling; a fair guess is enough.
func (m *Model) logHeight() int {
	_, h := m.size()
	return max(1, h-20)
}

func (m *Model) logView(w, h int) block {
	inner := w - 4
	rows := h - 2
	end := len(m.log) - m.scroll
	var lines []string
	for i := end - 1; i >= 0 && len(lines) < rows; i-- {
		e := m.log[i]
		wrapped := hangingWrap(e.text, inner, logIndent)
		style := m.entryStyle(e.kind)
		for j := len(wrapped) - 1; j >= 0 && len(lines) < rows; j-- {
			lines = append(lines, style(wrapped[j]))
		}
	}
	slices.Reverse(lines)
	title := "events"
	if m.scroll > 0 {
		title = fmt.Sprintf("events · scrolled back %d (end: newest)", m.scroll)
	}
	return m.box(title, lines, w, h)
}

func (m *Model) entryStyle(k entryKind) func(...string) string {
	switch k {
	case kindNote:
		return m.st.note.Render
	case kindError:
		return m.st.errText.Render
	case kindLog:
		return m.st.dim.Render
	default:
		return func(s ...string) string { return strings.Join(s, " ") }
	}
}

func (m *Model) pickerView(w, bodyH int) block {
	rows := max(1, min(len(m.picker), 8, bodyH-minLogHeight-2))
	first := max(0, min(m.pickIdx-rows+1, len(m.picker)-rows))
	first = min(first, m.pickIdx)
	var lines []string
	for i := first; i < len(m.picker) && len(lines) < rows; i++ {
		it := m.picker[i]
		cursor := "  "
		if i == m.pickIdx {
			cursor = m.st.key.Render("›") + " "
		}
		var flags []string
		if it.host {
			flags = append(flags, "host")
		}
		if !it.online {
			flags = append(flags, "offline")
		}
		if !it.canHost {
			flags = append(flags, "cannot host")
		}
		if it.codrive {
			flags = append(flags, "codrive")
		}
		line := cursor + eventfmt.Who(it.id, it.name)
		if len(flags) > 0 {
			line += " " + m.st.dim.Render("("+strings.Join(flags, ", ")+")")
		}
		lines = append(lines, line)
	}
	return m.box("give control to · ↑/↓ enter esc", lines, w, rows+2)
}

func (m *Model) inputView(w int) block {
	const prompt = "reason: "
	room := max(1, w-4-len(prompt)-1)
	var text string
	if len(m.reason) == 0 {
		text = m.st.dim.Render("automation needs a person")
	} else {
		// Keep the end in view: that is where the typing happens.
		text = string(m.reason)
		if over := ansi.StringWidth(text) - room; over > 0 {
			text = ansi.TruncateLeft(text, over+1, "…")
		}
	}
	line := m.st.label.Render(prompt) + text + m.st.key.Render("▏")
	if len(m.reason) == 0 {
		line = m.st.label.Render(prompt) + m.st.key.Render("▏") + text
	}
	return m.box("handoff · enter starts · esc cancels", []string{line}, w, 3)
}

// logIndent lines up continuation lines of a log entry after its time.
const logIndent = 9

// hangingWrap wraps s to width, indenting every line after the first.
func hangingWrap(s string, width, indent int) []string {
	lines := strings.Split(ansi.Wrap(s, width, ""), "\n")
	if len(lines) == 1 || width-indent < 10 {
		return lines
	}
	rest := strings.Join(lines[1:], " ")
	out := []string{lines[0]}
	pad := strings.Repeat(" ", indent)
	for _, l := range strings.Split(ansi.Wrap(rest, width-indent, ""), "\n") {
		out = append(out, pad+l)
	}
	return out
}

// ago renders how long ago t was, relative to now.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < time.Second {
		return "just now"
	}
	return eventfmt.Age(d) + " ago"
}
