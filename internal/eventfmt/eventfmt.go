// Package eventfmt renders codrive events the way the codrive command prints
// them: one line of text per event (attach, run, the terminal UI's log), or
// one JSON object per line (attach --json).
package eventfmt

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/codrive/codrive/codrive"
)

// Line renders one event as a single line: time, state, host, kind, why,
// and the page.
func Line(ev codrive.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-12s", ev.Time.Format("15:04:05"), ev.Status.State)
	switch ev.Status.State {
	case codrive.StateAutomation, codrive.StateHuman:
		fmt.Fprintf(&b, " host=%s", Who(ev.Status.Host, ev.Status.HostName))
	}
	if ev.Kind != codrive.EventState {
		fmt.Fprintf(&b, " [%s]", ev.Kind)
	}
	if ev.Status.Paused {
		b.WriteString(" paused")
	}
	if ev.Status.Locked {
		b.WriteString(" locked")
	}
	if ev.Reason != "" {
		fmt.Fprintf(&b, " — %s", ev.Reason)
	}
	if ev.Page != nil {
		if ev.Page.Attached {
			fmt.Fprintf(&b, " | page %s", orDash(ev.Page.URL))
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

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
