package fleet

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/codrive/codrive/internal/eventfmt"
	"github.com/codrive/codrive/internal/sanitize"
)

// Line is the room as one line of `codrive fleet --plain`: time, room,
// need, then key=value fields; why is the event's reason, if any.
func (r Row) Line(now time.Time, why string) string {
	st := r.Status()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s %s", now.Format("15:04:05"), r.Name, r.Need.Mark(), r.Need)
	if r.Snapshot.Known {
		fmt.Fprintf(&b, " state=%s gate=%s", sanitize.Line(string(st.State)), sanitize.Line(string(st.Gate)))
		if kind, name := r.Host(); kind != "" {
			fmt.Fprintf(&b, " host=%s:%s", kind, strconv.Quote(sanitize.Line(name)))
		}
		fmt.Fprintf(&b, " pending=%d", len(st.Pending))
		if p, ok := r.OldestPending(); ok {
			fmt.Fprintf(&b, " oldest=%s:%s", strconv.Quote(sanitize.Line(p.Name)), eventfmt.Age(now.Sub(p.Since)))
		}
		if r.Handoff != "" {
			age := eventfmt.Age(now.Sub(r.HandoffSince))
			if !r.HandoffExact {
				age = "≥" + age
			}
			fmt.Fprintf(&b, " handoff=%s:%s", strconv.Quote(sanitize.Line(r.Handoff)), age)
			if r.Answered() {
				b.WriteString(" answered")
			}
		}
	}
	fmt.Fprintf(&b, " health=%s", r.Snapshot.Health)
	if r.Snapshot.Err != "" && r.Snapshot.Health != HealthReady {
		fmt.Fprintf(&b, " error=%s", strconv.Quote(sanitize.Line(r.Snapshot.Err)))
	}
	if why != "" {
		b.WriteString(" — " + sanitize.Line(why))
	}
	return b.String()
}
