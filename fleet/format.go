package fleet

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/codrive/codrive/internal/sanitize"
)

// Age is a short duration for a table cell: 45s, 3m07s, 2h05m, 3d04h.
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

// OneLine sanitises text from a room for one line of a terminal.
func OneLine(s string) string { return strings.Join(strings.Fields(sanitize.Text(s)), " ") }

// Line is the room as one line of `codrive fleet --plain`: time, room,
// need, then key=value fields; why is the event's reason, if any.
func (r Row) Line(now time.Time, why string) string {
	st := r.Status()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s", now.Format("15:04:05"), r.Name, r.Need.Mark(), r.Need)
	if r.Snapshot.Known {
		fmt.Fprintf(&b, " state=%s gate=%s", OneLine(string(st.State)), OneLine(string(st.Gate)))
		if kind, name := r.Host(); kind != "" {
			fmt.Fprintf(&b, " host=%s:%s", kind, strconv.Quote(OneLine(name)))
		}
		fmt.Fprintf(&b, " pending=%d", len(st.Pending))
		if p, ok := r.OldestPending(); ok {
			fmt.Fprintf(&b, " oldest=%s:%s", strconv.Quote(OneLine(p.Name)), Age(now.Sub(p.Since)))
		}
		if r.Handoff != "" {
			age := Age(now.Sub(r.HandoffSince))
			if !r.HandoffExact {
				age = "≥" + age
			}
			fmt.Fprintf(&b, " handoff=%s:%s", strconv.Quote(OneLine(r.Handoff)), age)
			if r.Answered() {
				b.WriteString(" answered")
			}
		}
	}
	fmt.Fprintf(&b, " health=%s", r.Snapshot.Health)
	if r.Snapshot.Err != "" && r.Snapshot.Health != HealthReady {
		fmt.Fprintf(&b, " error=%s", strconv.Quote(OneLine(r.Snapshot.Err)))
	}
	if why != "" {
		b.WriteString(" — " + OneLine(why))
	}
	return b.String()
}
