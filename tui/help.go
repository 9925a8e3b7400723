package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/codrive/codrive/codrive"
)

// The footer of keys and the help overlay.

func (m *Model) footer(w int) string {
	var keys [][2]string
	switch m.mode {
	case modeHelp:
		keys = [][2]string{{"?/esc", "close help"}, {"q", "quit"}}
		if len(m.helpLines(m.helpWidth())) > m.helpRows() {
			keys = append([][2]string{{"↑/↓", "scroll"}}, keys...)
		}
	case modePicker:
		keys = [][2]string{{"↑/↓", "choose"}, {"enter", "give"}, {"esc", "cancel"}}
	case modeInput:
		keys = [][2]string{{"enter", "start handoff"}, {"esc", "cancel"}}
	default:
		pause := "pause"
		if m.status.Gate == codrive.GatePaused {
			pause = "resume"
		}
		handoff := "handoff"
		if m.handoffCancel != nil {
			handoff = "stop handoff"
		}
		keys = [][2]string{
			{"r", "request"}, {"l", "release"}, {"t", "take"}, {"g", "give"},
			{"p", pause}, {"h", handoff}, {"?", "help"}, {"q", "quit"},
		}
	}
	render := func(sep string, short bool) string {
		parts := make([]string, len(keys))
		for i, k := range keys {
			word := k[1]
			if short {
				word = shortWord(word)
			}
			parts[i] = m.st.key.Render(k[0]) + " " + word
		}
		return strings.Join(parts, sep)
	}
	left := render("  ", false)
	if ansi.StringWidth(left) > w {
		left = render(" ", true)
	}
	var busy []string
	for _, name := range []string{actRequest, actRelease, actTake, actGive, actPause, actResume, actHandoff} {
		if m.busy[name] {
			busy = append(busy, name)
		}
	}
	if len(busy) > 0 {
		right := m.st.warn.Render("⋯ " + strings.Join(busy, ", "))
		if gap := w - ansi.StringWidth(left) - ansi.StringWidth(right); gap >= 2 {
			return left + strings.Repeat(" ", gap) + right
		}
	}
	return ansi.Truncate(left, w, "…")
}

// shortWord keeps the footer on one line in narrow terminals.
func shortWord(w string) string {
	switch w {
	case "request":
		return "req"
	case "release":
		return "rel"
	case "handoff":
		return "hand"
	case "stop handoff":
		return "stop"
	case "resume":
		return "res"
	case "close help":
		return "close"
	case "start handoff":
		return "start"
	}
	return w
}

// helpText is the help overlay: key lines (key, text) and prose (key "").
func helpText() [][2]string {
	return [][2]string{
		{"", "codrive shares one browser between automation and people through neko's host control. This screen shows who holds it and lets you move it."},
		{"", ""},
		{"r", "request control for automation (waits; never takes it from a person)"},
		{"l", "release control; automation does not ask for it again until r"},
		{"t", "take control at once, from anyone (admin login only)"},
		{"g", "give control to a session: ↑/↓ choose, enter gives, esc cancels"},
		{"p", "pause automation (releases control) / resume it"},
		{"h", "hand off to a person: type why, enter. The person takes control, releases it when done, and automation continues. h again cancels"},
		{"pgup/dn", "scroll the event log (↑/↓ line by line, end: newest); here, scroll this help"},
		{"?", "close this help"},
		{"q", "quit: release control, restore room settings, log out"},
		{"", ""},
		{"", "Control pane: host is who holds control (human, automation, or codrive: another codrive session, not a person); auto is running (automation may act), paused, handoff, yielding (handing control to a person) or waiting for control. Connection pane: heard is the time since neko's last frame (it sends a heartbeat every 10s). Sessions pane: the host first, then codrive's own (*), then who is connected."},
	}
}

// helpWidth is the help box's width on this screen.
func (m *Model) helpWidth() int {
	w, _ := m.size()
	return min(w, 84)
}

// helpRows is how many help lines fit in the box.
func (m *Model) helpRows() int {
	_, h := m.size()
	return max(1, h-1-2)
}

// helpLines is the help text wrapped to a box of width w.
func (m *Model) helpLines(w int) []string {
	var lines []string
	for _, l := range helpText() {
		if l[0] == "" {
			lines = append(lines, strings.Split(ansi.Wrap(l[1], w-4, ""), "\n")...)
			continue
		}
		text := m.st.key.Render(fmt.Sprintf("%-*s", labelWidth, l[0])) + " " + l[1]
		lines = append(lines, hangingWrap(text, w-4, labelWidth+1)...)
	}
	return lines
}

// helpView shows the help from helpScroll on; when it does not fit, the
// title says where the view is and the arrows scroll it.
func (m *Model) helpView(w, h int) block {
	w = m.helpWidth()
	lines := m.helpLines(w)
	rows := max(1, h-2)
	title := "help"
	if len(lines) > rows {
		first := max(0, min(m.helpScroll, len(lines)-rows))
		last := min(len(lines), first+rows)
		title = fmt.Sprintf("help · lines %d-%d of %d · ↑/↓ scroll", first+1, last, len(lines))
		lines = lines[first:last]
	}
	return m.box(title, lines, w, h)
}
