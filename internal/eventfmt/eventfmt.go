// Package eventfmt renders codrive events the way the codrive command prints
// them: one line of text per event (attach, run, tui --plain, demo, the
// terminal UI's log), or one JSON object per line (attach --json, run
// --json). Text from the outside (names, reasons, URLs) is sanitised.
package eventfmt

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/sanitize"
)

// Line renders one event as a single line: time, state, host, kind, why,
// and the page.
func Line(ev codrive.Event) string {
	var p Printer
	return p.Line(ev)
}

// Printer renders a stream of events as lines, naming the page only when
// it changed since the last line (a new URL, or Chromium gone or back):
// the URL on every line drowned what happened.
type Printer struct {
	printed  bool
	url      string
	attached bool
}

// Line renders ev, with the page if it changed.
func (p *Printer) Line(ev codrive.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-12s", ev.Time.Format("15:04:05"), ev.Status.State)
	switch ev.Status.State {
	case codrive.StateAutomation, codrive.StateHuman, codrive.StateCodrive:
		fmt.Fprintf(&b, " host=%s", sanitize.Text(Who(ev.Status.Host, ev.Status.HostName)))
	}
	if ev.Kind != codrive.EventState {
		fmt.Fprintf(&b, " [%s]", sanitize.Text(string(ev.Kind)))
	}
	if ev.Status.Paused {
		b.WriteString(" paused")
	}
	if ev.Status.Locked {
		b.WriteString(" locked")
	}
	if ev.Reason != "" {
		fmt.Fprintf(&b, " — %s", sanitize.Text(sanitize.Line(ev.Reason)))
	}
	if pg := ev.Page; pg != nil && (!p.printed || pg.URL != p.url || pg.Attached != p.attached) {
		p.printed, p.url, p.attached = true, pg.URL, pg.Attached
		if pg.Attached {
			fmt.Fprintf(&b, " | page %s", orDash(sanitize.URL(pg.URL)))
		} else {
			b.WriteString(" | page: chromium not attached")
		}
	}
	return b.String()
}

// WriteJSON writes ev as one JSON object and a newline.
func WriteJSON(w io.Writer, ev codrive.Event) error {
	return json.NewEncoder(w).Encode(ev)
}

// Who names a neko session for people: `alice (alice-Ab3dE)`, or the id
// alone when it has no other name.
func Who(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return fmt.Sprintf("%s (%s)", name, id)
}

// Age is a short duration for a terminal: 45s, 3m07s, 2h05m, 3d04h.
func Age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
