package fleet

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/sanitize"
)

// Need orders the rooms: the lower, the sooner a person should look.
type Need int

const (
	// NeedHandoff: automation asked for a person and nobody took control
	// yet.
	NeedHandoff Need = iota
	// NeedAsking: a person asks for control and codrive keeps it (policy
	// hold or locked).
	NeedAsking
	// NeedUnreachable: the fleet cannot reach the room's codrive.
	NeedUnreachable
	// NeedDegraded: codrive answers but is not ready.
	NeedDegraded
	// NeedPaused: the operator paused automation.
	NeedPaused
	// NeedHuman: a person drives.
	NeedHuman
	// NeedConnecting: no answer yet.
	NeedConnecting
	// NeedIdle: nobody drives, or automation waits for control.
	NeedIdle
	// NeedRunning: automation drives.
	NeedRunning
	needCount
)

var needInfo = [needCount]struct{ mark, word string }{
	NeedHandoff:     {"‼", "handoff waiting"},
	NeedAsking:      {"?", "asking"},
	NeedUnreachable: {"✗", "unreachable"},
	NeedDegraded:    {"~", "degraded"},
	NeedPaused:      {"‖", "paused"},
	NeedHuman:       {"●", "human"},
	NeedConnecting:  {"…", "connecting"},
	NeedIdle:        {"○", "idle"},
	NeedRunning:     {"▶", "automation"},
}

// Mark is the need's one-character sign, shown whether or not the
// terminal has colours.
func (n Need) Mark() string { return needInfo[n].mark }

// String names the need for people.
func (n Need) String() string { return needInfo[n].word }

// Row is one room as the fleet view shows it.
type Row struct {
	Room     int
	Name     string
	Snapshot Snapshot
	Need     Need
	// Handoff is the unanswered or answered handoff's reason; HandoffSince
	// is when the fleet saw it start, HandoffExact false when it was under
	// way already when the fleet first saw the room (the age is then a
	// lower bound).
	Handoff      string
	HandoffSince time.Time
	HandoffExact bool
	// Paused is how long automation was paused within the board's window
	// (Board.WindowLabel), the pause under way included.
	Paused time.Duration
	// Handoffs counts the handoffs that started within the window.
	Handoffs int
	// Changed is when the room last changed.
	Changed time.Time
}

// Status is the room's arbitration as last known.
func (r Row) Status() codrive.Status { return r.Snapshot.State.Status }

// Host names who holds control: "automation" or "person" and a name;
// both empty when nobody does or nothing is known.
func (r Row) Host() (kind, name string) {
	st := r.Status()
	switch st.State {
	case codrive.StateAutomation:
		return "automation", sanitize.Text(cmp.Or(st.HostName, st.Host, "codrive"))
	case codrive.StateHuman:
		return "person", sanitize.Text(cmp.Or(st.HostName, st.Host))
	case codrive.StateCodrive: // another codrive session hosts
		return "automation", sanitize.Text(cmp.Or(st.HostName, st.Host))
	}
	return "", ""
}

// OldestPending is the oldest unanswered request for control, if any.
func (r Row) OldestPending() (codrive.PendingRequest, bool) {
	p := r.Status().Pending
	if len(p) == 0 {
		return codrive.PendingRequest{}, false
	}
	oldest := p[0]
	for _, q := range p[1:] {
		if q.Since.Before(oldest.Since) {
			oldest = q
		}
	}
	return oldest, true
}

// Answered reports whether a person took control during the handoff.
func (r Row) Answered() bool {
	return r.Handoff != "" && r.Status().State == codrive.StateHuman
}

// waitingSince orders rooms of one need: who waited longest first.
func (r Row) waitingSince() time.Time {
	switch r.Need {
	case NeedHandoff:
		return r.HandoffSince
	case NeedAsking:
		p, _ := r.OldestPending()
		return p.Since
	case NeedUnreachable:
		return r.Snapshot.Down
	}
	return time.Time{}
}

func needOf(s Snapshot, handoffAnswered bool) Need {
	st := s.State.Status
	switch {
	case !s.Known && s.Health == HealthUnreachable:
		return NeedUnreachable
	case !s.Known:
		return NeedConnecting
	case st.Handoff != "" && !handoffAnswered:
		return NeedHandoff
	case len(st.Pending) > 0:
		return NeedAsking
	case s.Health == HealthUnreachable:
		return NeedUnreachable
	case s.Health == HealthDegraded:
		return NeedDegraded
	case st.Gate == codrive.GatePaused:
		return NeedPaused
	case st.State == codrive.StateHuman:
		return NeedHuman
	case st.State == codrive.StateAutomation && st.Gate == codrive.GateOpen:
		return NeedRunning
	}
	return NeedIdle
}

// roomRec is a room's record on the board.
type roomRec struct {
	name       string
	snap       Snapshot
	changed    time.Time
	handoff    string
	handoffAt  time.Time
	exact      bool
	pausedAcc  time.Duration
	pauseStart time.Time // zero while not paused
	handoffs   int
	line       string
}

// Board turns Updates into rows. It is not safe for concurrent use: one
// goroutine applies updates and renders.
type Board struct {
	rooms []roomRec
	start time.Time
	today bool
}

// NewBoard starts a board over rooms at now: paused times and handoffs
// count from now until the next local midnight, and from each midnight on
// after that (WindowLabel).
func NewBoard(rooms []Room, now time.Time) *Board {
	b := &Board{start: now}
	for _, r := range rooms {
		b.rooms = append(b.rooms, roomRec{name: r.Name, snap: Snapshot{Health: HealthConnecting}})
	}
	return b
}

// WindowLabel says what the counts cover, for people: "today" or
// "since 15:04".
func (b *Board) WindowLabel() string {
	if b.today {
		return "today"
	}
	return "since " + b.start.Format("15:04")
}

// roll starts a new window at each local midnight passed.
func (b *Board) roll(now time.Time) {
	y, m, d := now.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, now.Location())
	if !b.start.Before(midnight) {
		return
	}
	b.start, b.today = midnight, true
	for i := range b.rooms {
		r := &b.rooms[i]
		r.pausedAcc, r.handoffs = 0, 0
		if !r.pauseStart.IsZero() {
			r.pauseStart = midnight
		}
	}
}

// Apply takes one update and reports whether the room's Line changed.
func (b *Board) Apply(u Update) bool {
	if u.Room < 0 || u.Room >= len(b.rooms) {
		return false
	}
	b.roll(u.At)
	r := &b.rooms[u.Room]
	prev := r.snap
	r.snap, r.changed = u.Snapshot, u.At
	st := r.snap.State.Status

	// Pauses count while the fleet sees them: an unreachable room's
	// pause ends, as far as the fleet can tell, when it went out of sight.
	paused := r.snap.Known && r.snap.Stream && st.Paused
	switch {
	case paused && r.pauseStart.IsZero():
		r.pauseStart = u.At
	case !paused && !r.pauseStart.IsZero():
		r.pausedAcc += max(0, u.At.Sub(r.pauseStart))
		r.pauseStart = time.Time{}
	}

	switch {
	case st.Handoff == "":
		r.handoff, r.handoffAt, r.exact = "", time.Time{}, false
	case r.handoff == "":
		// Seen start: the event that started it, after an earlier status
		// without one. Otherwise it was under way already.
		exact := u.Kind == UpdateEvent && prev.Known && prev.State.Status.Handoff == "" && u.Event.Kind == codrive.EventHandoff
		r.handoff, r.handoffAt, r.exact = st.Handoff, u.At, exact
		if exact {
			r.handoffs++
		}
	default:
		r.handoff = st.Handoff
	}
	line := b.row(u.Room, u.At).key()
	changed := line != r.line
	r.line = line
	return changed
}

// row builds room i's row at now.
func (b *Board) row(i int, now time.Time) Row {
	r := &b.rooms[i]
	row := Row{Room: i, Name: r.name, Snapshot: r.snap, Handoff: r.handoff, HandoffSince: r.handoffAt,
		HandoffExact: r.exact, Paused: r.pausedAcc, Handoffs: r.handoffs, Changed: r.changed}
	if !r.pauseStart.IsZero() {
		row.Paused += max(0, now.Sub(r.pauseStart))
	}
	row.Need = needOf(r.snap, row.Answered())
	return row
}

// Row is room i at now.
func (b *Board) Row(i int, now time.Time) Row {
	b.roll(now)
	return b.row(i, now)
}

// Len is the number of rooms.
func (b *Board) Len() int { return len(b.rooms) }

// Rows are every room at now, the ones that need a person first; within a
// need, whoever waited longest, then by name.
func (b *Board) Rows(now time.Time) []Row {
	b.roll(now)
	rows := make([]Row, len(b.rooms))
	for i := range b.rooms {
		rows[i] = b.row(i, now)
	}
	slices.SortFunc(rows, compareRows)
	return rows
}

func compareRows(a, b Row) int {
	if c := cmp.Compare(a.Need, b.Need); c != 0 {
		return c
	}
	if c := a.waitingSince().Compare(b.waitingSince()); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Room, b.Room))
}

// Count is how many rooms have each need.
type Count [needCount]int

// Counts counts rows by need.
func Counts(rows []Row) Count {
	var c Count
	for _, r := range rows {
		c[r.Need]++
	}
	return c
}

// Summary is the counts for people: "5 rooms: ‼1 handoff waiting  ●2
// human  ▶2 automation"; needs without rooms are left out.
func (c Count) Summary() string {
	total := 0
	var parts []string
	for n, k := range c {
		total += k
		if k > 0 {
			parts = append(parts, fmt.Sprintf("%s%d %s", Need(n).Mark(), k, Need(n)))
		}
	}
	noun := "rooms"
	if total == 1 {
		noun = "room"
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d %s", total, noun)
	}
	return fmt.Sprintf("%d %s: %s", total, noun, strings.Join(parts, "  "))
}

// key is what --plain prints a line for when it changes: everything but
// ages.
func (r Row) key() string {
	st := r.Status()
	kind, host := r.Host()
	p := make([]string, len(st.Pending))
	for i, q := range st.Pending {
		p[i] = q.ID
	}
	return fmt.Sprintf("%d|%s|%s|%s|%s|%s|%s|%v|%s|%s|%v", r.Need, st.State, st.Gate, kind, host, strings.Join(p, ","),
		r.Handoff, r.Answered(), r.Snapshot.Health, r.Snapshot.Err, st.Paused)
}
