package timeline

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

// Driver says who drove the browser during a stretch of the timeline.
type Driver string

const (
	// DriverAutomation: codrive hosts and automation may act (or is
	// finishing a step before it lets go).
	DriverAutomation Driver = "automation"
	// DriverPerson: a person hosts.
	DriverPerson Driver = "person"
	// DriverHandoff: automation asked a person for help and nobody has
	// taken control yet.
	DriverHandoff Driver = "handoff"
	// DriverPaused: the operator paused automation.
	DriverPaused Driver = "paused"
	// DriverFree: nobody hosts.
	DriverFree Driver = "free"
	// DriverOffline: codrive had no neko connection, or was not
	// arbitrating (closing).
	DriverOffline Driver = "offline"
)

// Drivers lists the drivers in the order the report shows them.
var drivers = []Driver{DriverAutomation, DriverPerson, DriverHandoff, DriverPaused, DriverFree, DriverOffline}

// driverLabels name the drivers for people.
var driverLabels = map[Driver]string{
	DriverAutomation: "Automation",
	DriverPerson:     "Person",
	DriverHandoff:    "Waiting for a person",
	DriverPaused:     "Paused",
	DriverFree:       "Nobody",
	DriverOffline:    "Offline",
}

// DriverOf classifies a status: who drove while it held.
func DriverOf(st Status) Driver {
	switch {
	case st.State == stateHuman:
		return DriverPerson
	case st.State == stateDisconnected:
		return DriverOffline
	case st.Gate == gateHandoff:
		return DriverHandoff
	case st.Gate == gatePaused:
		return DriverPaused
	case st.Gate == gateClosed:
		return DriverOffline
	case st.State == stateAutomation:
		return DriverAutomation
	default:
		return DriverFree
	}
}

// Report is what a recording shows: the timeline, the totals, and every
// event, held command and screenshot, with times in milliseconds from the
// start. It is the JSON form of the report (WriteJSON) and what the HTML
// is rendered from.
type Report struct {
	Format     int       `json:"format"`
	Title      string    `json:"title"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationMS float64   `json:"durationMs"`
	Policy     string    `json:"policy,omitempty"`
	// Segments cover [Start, End] without gaps, in order: one per change
	// of driver (or of the person driving).
	Segments []Segment `json:"segments"`
	// Drivers is the time per driver, in the order the report shows them,
	// only those that drove; People the time per person.
	Drivers  []DriverTime `json:"drivers"`
	People   []PersonTime `json:"people"`
	Totals   Totals       `json:"totals"`
	Events   []EventRow   `json:"events"`
	Held     []HeldRow    `json:"held"`
	Captures []ShotRow    `json:"captures"`
	Notes    []string     `json:"notes"`

	dir string
}

// Segment is a stretch of the timeline with one driver.
type Segment struct {
	Driver Driver  `json:"driver"`
	Label  string  `json:"label"` // the person's name for DriverPerson
	AtMS   float64 `json:"atMs"`
	DurMS  float64 `json:"durMs"`
	Event  int     `json:"event"` // the event that began it
	// StartShot and EndShot are the screenshots (Capture.N, 0 for none)
	// of the page when the segment began and as it ended.
	StartShot int `json:"startShot"`
	EndShot   int `json:"endShot"`
}

// DriverTime is the time one driver drove.
type DriverTime struct {
	Driver Driver  `json:"driver"`
	Label  string  `json:"label"`
	MS     float64 `json:"ms"`
	Share  float64 `json:"share"` // of the whole, 0 to 1
}

// PersonTime is the time one person drove, over all their turns.
type PersonTime struct {
	Name  string  `json:"name"`
	MS    float64 `json:"ms"`
	Share float64 `json:"share"` // of the whole, 0 to 1
	Turns int     `json:"turns"`
}

// Totals are the numbers a reader asks for first.
type Totals struct {
	Events      int `json:"events"`
	PersonTurns int `json:"personTurns"`
	Handoffs    int `json:"handoffs"`
	Requests    int `json:"requests"`
	Navigations int `json:"navigations"`
	// Held counts the acting commands that waited for control (every
	// outcome but answered); HeldByOutcome splits all of them, answered
	// (reads proven side-effect-free during a hold) included.
	Held          int            `json:"held"`
	HeldByOutcome map[string]int `json:"heldByOutcome"`
	HeldMS        float64        `json:"heldMs"`
	LongestHoldMS float64        `json:"longestHoldMs"`
	LongestHold   string         `json:"longestHold,omitempty"` // its method
	// LongestWaitMS is the longest stretch automation could not act
	// because of a person: from the gate closing for one (a person
	// hosting, codrive yielding to one, a handoff) until automation may act
	// again, or the end. WaitMS is all of them together.
	LongestWaitMS   float64 `json:"longestWaitMs"`
	LongestWaitAtMS float64 `json:"longestWaitAtMs"`
	WaitMS          float64 `json:"waitMs"`
	Screenshots     int     `json:"screenshots"` // kept, viewable
	ShotsFailed     int     `json:"shotsFailed"`
	ShotsEvicted    int     `json:"shotsEvicted"`
	ShotsDropped    int     `json:"shotsDropped"`
}

// EventRow is an event as the report shows it.
type EventRow struct {
	N      int     `json:"n"` // its line in events.jsonl, from 0
	Event  Event   `json:"event"`
	AtMS   float64 `json:"atMs"`
	Driver Driver  `json:"driver"`
	Who    string  `json:"who,omitempty"` // the actor, by name
	Host   string  `json:"host,omitempty"`
	// Shot is the screenshot that shows this moment (Capture.N, 0: none):
	// the one taken for the event, else the last one before it. Own says
	// it was taken for this event.
	Shot int  `json:"shot"`
	Own  bool `json:"own"`
}

// HeldRow is a held command as the report shows it.
type HeldRow struct {
	Held
	AtMS float64 `json:"atMs"`
}

// ShotRow is a screenshot as the report shows it.
type ShotRow struct {
	Capture
	AtMS float64 `json:"atMs"`
	// Kept is false when it failed or its file was evicted.
	Kept  bool   `json:"kept"`
	Label string `json:"label"` // what it shows, for people
}

// Build computes the report of a recording.
func Build(rec *Recording) *Report {
	r := &Report{Format: FormatVersion, Title: rec.Meta.Title, dir: rec.Dir, Notes: slices.Clone(rec.Notes)}
	if r.Title == "" {
		r.Title = "codrive timeline"
	}
	r.Start, r.End = span(rec)
	r.DurationMS = ms(r.End.Sub(r.Start))
	at := func(t time.Time) float64 { return max(0, ms(t.Sub(r.Start))) }

	// Event times never go backwards on the bar, whatever the clock did.
	times := make([]time.Time, len(rec.Events))
	for i, ev := range rec.Events {
		times[i] = ev.Time
		if i > 0 && times[i].Before(times[i-1]) {
			times[i] = times[i-1]
		}
		if times[i].Before(r.Start) {
			times[i] = r.Start
		}
	}
	r.buildShots(rec, at)
	shots := indexShots(r.Captures)
	r.buildEvents(rec, times, at, shots)
	r.buildSegments(times, at, shots)
	r.buildTotals(rec, times, at)
	r.buildNotes(rec)
	return r
}

// span is the time the recording covers: from its first event (or its
// start, without events) to its end, or the last thing recorded when it
// was not closed.
func span(rec *Recording) (time.Time, time.Time) {
	start := rec.Meta.Started
	if len(rec.Events) > 0 {
		start = rec.Events[0].Time
	}
	end := rec.Meta.Ended
	later := func(t time.Time) {
		if t.After(end) {
			end = t
		}
	}
	if end.IsZero() {
		for _, ev := range rec.Events {
			later(ev.Time)
		}
		for _, c := range rec.Captures {
			later(c.Time)
		}
		for _, h := range rec.Held {
			later(h.Settled())
		}
	}
	if start.IsZero() {
		start = end
	}
	if end.Before(start) {
		end = start
	}
	return start, end
}

func (r *Report) buildShots(rec *Recording, at func(time.Time) float64) {
	r.Captures = []ShotRow{}
	for _, c := range rec.Captures {
		row := ShotRow{Capture: c, AtMS: at(c.Time)}
		if c.File != "" {
			if _, err := os.Stat(filepath.Join(rec.Dir, filepath.FromSlash(c.File))); err == nil {
				row.Kept = true
			}
		}
		row.Label = shotLabel(rec, c)
		r.Captures = append(r.Captures, row)
	}
}

// shotLabel says in a few words why a screenshot was taken.
func shotLabel(rec *Recording, c Capture) string {
	ev := func() *Event {
		if len(c.Events) == 0 || c.Events[0] >= len(rec.Events) {
			return nil
		}
		return &rec.Events[c.Events[0]]
	}()
	who := "a person"
	if ev != nil && ev.Status.who() != "" {
		who = ev.Status.who()
	}
	for _, w := range c.Why {
		switch w {
		case WhyTurnStart:
			return who + " took control"
		case WhyHandoff:
			return "automation asked for help"
		}
	}
	for _, w := range c.Why {
		switch w {
		case WhyTurnEnd:
			return "a person let go"
		case WhyStart:
			return "recording started"
		case WhyEnd:
			return "recording ended"
		case WhyHost:
			if ev != nil && ev.Status.State == stateAutomation {
				return "automation took control"
			}
			return "control changed"
		case WhyNavigation:
			if ev != nil && ev.Page != nil {
				return "navigated to " + shortURL(ev.Page.URL)
			}
			return "navigated"
		case WhySnapshot:
			return "snapshot"
		}
	}
	return "screenshot"
}

func (r *Report) buildEvents(rec *Recording, times []time.Time, at func(time.Time) float64, shots shotIndex) {
	r.Events = make([]EventRow, 0, len(rec.Events))
	own := map[int]int{} // event → the kept capture taken for it
	for _, c := range r.Captures {
		if !c.Kept {
			continue
		}
		for _, e := range c.Events {
			if _, ok := own[e]; !ok {
				own[e] = c.N
			}
		}
	}
	for i, ev := range rec.Events {
		row := EventRow{N: i, Event: ev, AtMS: at(times[i]), Driver: DriverOf(ev.Status), Who: ev.ActorName, Host: ev.Status.who()}
		if row.Who == "" {
			row.Who = ev.Actor
		}
		if n, ok := own[i]; ok {
			row.Shot, row.Own = n, true
		} else {
			row.Shot = shots.at(times[i])
		}
		r.Events = append(r.Events, row)
		if ev.Status.Policy != "" {
			r.Policy = ev.Status.Policy
		}
	}
}

// shotIndex finds the kept screenshot that shows a moment in a binary
// search: the report asks it for every event and held command, and a
// recording at its caps has 100,000 of each.
type shotIndex struct {
	n []int // Capture.N of the kept screenshots, in captures.jsonl order
	// until is the latest Capture.Time among n[:i+1]: never decreasing, so
	// searchable even when the wall clock stepped back between two shots.
	until []time.Time
}

func indexShots(captures []ShotRow) shotIndex {
	var x shotIndex
	for _, c := range captures {
		if !c.Kept {
			continue
		}
		until := c.Time
		if k := len(x.until); k > 0 && x.until[k-1].After(until) {
			until = x.until[k-1]
		}
		x.n, x.until = append(x.n, c.N), append(x.until, until)
	}
	return x
}

// at is the kept screenshot that shows time t: the last one taken at or
// before it (the one before the first taken after it), else the first
// after it; 0 without any.
func (x shotIndex) at(t time.Time) int {
	if len(x.n) == 0 {
		return 0
	}
	i := sort.Search(len(x.until), func(i int) bool { return x.until[i].After(t) })
	return x.n[max(i-1, 0)]
}

func (r *Report) buildSegments(times []time.Time, at func(time.Time) float64, shots shotIndex) {
	r.Segments = []Segment{}
	for i, row := range r.Events {
		label := driverLabels[row.Driver]
		if row.Driver == DriverPerson {
			label = row.Host
		}
		if n := len(r.Segments); n > 0 && r.Segments[n-1].Driver == row.Driver && r.Segments[n-1].Label == label {
			continue
		}
		r.Segments = append(r.Segments, Segment{Driver: row.Driver, Label: label, AtMS: at(times[i]), Event: i, StartShot: row.Shot})
	}
	for i := range r.Segments {
		s := &r.Segments[i]
		end := r.End
		endShot := 0
		if i+1 < len(r.Segments) {
			next := r.Segments[i+1]
			end = times[next.Event]
			// The screenshot taken when the next segment began shows how
			// this one ended (a person's turn: what they left).
			endShot = r.Events[next.Event].Shot
		} else {
			endShot = shots.at(end)
		}
		s.DurMS = max(0, at(end)-s.AtMS)
		s.EndShot = endShot
	}
}

func (r *Report) buildTotals(rec *Recording, times []time.Time, at func(time.Time) float64) {
	t := &r.Totals
	t.Events = len(rec.Events)
	t.HeldByOutcome = map[string]int{}
	perDriver := map[Driver]float64{}
	people := map[string]*PersonTime{}
	var order []string
	for _, s := range r.Segments {
		perDriver[s.Driver] += s.DurMS
		if s.Driver != DriverPerson {
			continue
		}
		t.PersonTurns++
		p, ok := people[s.Label]
		if !ok {
			p = &PersonTime{Name: s.Label}
			people[s.Label] = p
			order = append(order, s.Label)
		}
		p.MS += s.DurMS
		p.Turns++
	}
	r.Drivers = []DriverTime{}
	for _, d := range drivers {
		if _, ok := perDriver[d]; !ok {
			continue
		}
		share := 0.0
		if r.DurationMS > 0 {
			share = perDriver[d] / r.DurationMS
		}
		r.Drivers = append(r.Drivers, DriverTime{Driver: d, Label: driverLabels[d], MS: perDriver[d], Share: share})
	}
	r.People = []PersonTime{}
	for _, name := range order {
		p := *people[name]
		if r.DurationMS > 0 {
			p.Share = p.MS / r.DurationMS
		}
		r.People = append(r.People, p)
	}

	prevHandoff, prevURL := "", ""
	var waitStart time.Time
	waiting := false
	endWait := func(t time.Time) {
		d := ms(t.Sub(waitStart))
		r.Totals.WaitMS += d
		if d > r.Totals.LongestWaitMS {
			r.Totals.LongestWaitMS, r.Totals.LongestWaitAtMS = d, at(waitStart)
		}
		waiting = false
	}
	for i, ev := range rec.Events {
		st := ev.Status
		if st.Handoff != "" && prevHandoff == "" {
			t.Handoffs++
		}
		prevHandoff = st.Handoff
		if ev.Kind == kindRequest {
			t.Requests++
		}
		url := prevURL
		if ev.Page != nil && ev.Page.URL != "" {
			url = ev.Page.URL
		}
		if ev.Kind == kindPage && i > 0 && url != prevURL {
			t.Navigations++
		}
		prevURL = url
		forPerson := !st.Go && (st.State == stateHuman || st.Gate == gateYield || st.Gate == gateHandoff)
		switch {
		case !waiting && forPerson:
			waiting, waitStart = true, times[i]
		case waiting && (st.Go || st.Gate == gateClosed):
			endWait(times[i])
		}
	}
	if waiting {
		endWait(r.End)
	}

	r.Held = []HeldRow{}
	for _, h := range rec.Held {
		r.Held = append(r.Held, HeldRow{Held: h, AtMS: at(h.Arrived)})
		t.HeldByOutcome[h.Outcome]++
		if h.Outcome == "answered" {
			continue
		}
		t.Held++
		t.HeldMS += h.HeldMS
		if h.HeldMS > t.LongestHoldMS {
			t.LongestHoldMS, t.LongestHold = h.HeldMS, h.Method
		}
	}
	for _, c := range r.Captures {
		switch {
		case c.Kept:
			t.Screenshots++
		case c.Error != "":
			t.ShotsFailed++
		case c.File != "":
			t.ShotsEvicted++
		}
	}
	t.ShotsDropped = rec.Meta.Counts.CapturesDropped
}

func (r *Report) buildNotes(rec *Recording) {
	c := rec.Meta.Counts
	note := func(n int, format string) {
		if n > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf(format, n))
		}
	}
	note(c.EventsDropped, "%d event(s) were not recorded (past the cap of events, or the disk did not keep up)")
	note(c.HeldDropped, "%d held command(s) were not recorded (past the cap, or the disk did not keep up)")
	note(c.CapturesDropped, "%d screenshot request(s) were dropped: the page changed faster than screenshots could be taken")
	note(r.Totals.ShotsEvicted, "%d screenshot(s) were deleted to stay under the recording's caps (the least informative and oldest first)")
	note(r.Totals.ShotsFailed, "%d screenshot(s) could not be taken (see the screenshots' errors in the JSON form)")
	if len(rec.Captures) == 0 && len(rec.Events) > 0 {
		r.Notes = append(r.Notes, "this recording has no screenshots")
	}
}

// Shot returns the screenshot row numbered n, if any.
func (r *Report) Shot(n int) (ShotRow, bool) {
	// A recording numbers its captures 1, 2, ... in order: row n-1, found
	// at once (the report asks for every event's).
	if n >= 1 && n <= len(r.Captures) && r.Captures[n-1].N == n {
		return r.Captures[n-1], true
	}
	for _, c := range r.Captures {
		if c.N == n {
			return c, true
		}
	}
	return ShotRow{}, false
}
