package timeline

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"
)

// detail is what the report's detail panel shows for one thing on the
// page (a segment, an event, a held command, a screenshot). They are all
// computed here, so the panel reads the same with or without JavaScript.
type detail struct {
	Title string   `json:"title"`
	When  string   `json:"when"`
	AtMS  float64  `json:"atMs"`
	Rows  []row    `json:"rows"`
	Figs  []figure `json:"figs"`
}

type row struct {
	K string `json:"k"`
	V string `json:"v"`
}

type figure struct {
	Shot    int    `json:"shot"` // Capture.N; 0: none
	Caption string `json:"caption"`
}

// segmentDetail describes segment i; heldAt are the AtMS of the held
// commands that waited (not answered), sorted.
func (r *Report) segmentDetail(i int, heldAt []float64) detail {
	s := r.Segments[i]
	d := detail{AtMS: s.AtMS}
	dur := fmtDur(s.DurMS)
	switch s.Driver {
	case DriverPerson:
		d.Title = fmt.Sprintf("%s drove for %s", s.Label, dur)
	case DriverAutomation:
		d.Title = "Automation drove for " + dur
	case DriverHandoff:
		d.Title = "Automation waited for a person for " + dur
	case DriverPaused:
		d.Title = "Automation was paused for " + dur
	case DriverFree:
		d.Title = "Nobody had control for " + dur
	default:
		d.Title = "codrive was offline for " + dur
	}
	d.When = fmt.Sprintf("%s → %s · %s – %s", fmtAt(s.AtMS), fmtAt(s.AtMS+s.DurMS), r.clock(s.AtMS), r.clock(s.AtMS+s.DurMS))
	first := r.Events[s.Event]
	d.Rows = append(d.Rows, row{"Began", first.Event.Reason})
	if i+1 < len(r.Segments) {
		d.Rows = append(d.Rows, row{"Ended", r.Events[r.Segments[i+1].Event].Event.Reason})
	} else {
		d.Rows = append(d.Rows, row{"Ended", "end of the recording"})
	}
	// Those that arrived during the segment: [AtMS, AtMS+DurMS).
	if held := sort.SearchFloat64s(heldAt, s.AtMS+s.DurMS) - sort.SearchFloat64s(heldAt, s.AtMS); held > 0 {
		d.Rows = append(d.Rows, row{"Held", plural(held, "script action", "script actions") + " arrived and waited"})
	}
	if p := first.Event.Page; p != nil && p.URL != "" {
		d.Rows = append(d.Rows, row{"Page", pageText(p)})
	}
	start, end := "When it began", "When it ended"
	if s.Driver == DriverPerson {
		start, end = "When "+s.Label+" took control", "When "+s.Label+" let go"
	}
	d.Figs = append(d.Figs, figure{s.StartShot, start})
	if s.EndShot != 0 && s.EndShot != s.StartShot && !r.sameImage(s.EndShot, s.StartShot) {
		d.Figs = append(d.Figs, figure{s.EndShot, end})
	}
	return d
}

func (r *Report) eventDetail(i int) detail {
	e := r.Events[i]
	ev := e.Event
	d := detail{AtMS: e.AtMS, Title: ev.Reason}
	if d.Title == "" {
		d.Title = kindLabel(ev.Kind)
	}
	d.When = fmt.Sprintf("%s · %s · event %d", fmtAt(e.AtMS), ev.Time.Format("15:04:05.000"), i+1)
	d.Rows = append(d.Rows, row{"Kind", kindLabel(ev.Kind)})
	if e.Who != "" {
		d.Rows = append(d.Rows, row{"By", e.Who})
	}
	drv := driverLabels[e.Driver]
	if e.Driver == DriverPerson {
		drv = e.Host + " (a person)"
	}
	d.Rows = append(d.Rows, row{"Then", drv + " · gate " + orDash(ev.Status.Gate)})
	if n := len(ev.Status.Pending); n > 0 {
		names := make([]string, 0, n)
		for _, p := range ev.Status.Pending {
			names = append(names, orDash(p.Name))
		}
		d.Rows = append(d.Rows, row{"Waiting", strings.Join(names, ", ") + " asked for control"})
	}
	if ev.Page != nil {
		d.Rows = append(d.Rows, row{"Page", pageText(ev.Page)})
	}
	caption := "Screenshot taken for this event"
	if !e.Own {
		if c, ok := r.Shot(e.Shot); ok {
			caption = fmt.Sprintf("Last screenshot before this moment (%s, %s)", fmtAt(c.AtMS), c.Label)
			if c.AtMS > e.AtMS {
				caption = fmt.Sprintf("First screenshot after this moment (%s, %s)", fmtAt(c.AtMS), c.Label)
			}
		}
	}
	d.Figs = []figure{{e.Shot, caption}}
	return d
}

func (r *Report) heldDetail(i int, shots shotIndex) detail {
	h := r.Held[i]
	d := detail{AtMS: h.AtMS, Title: fmt.Sprintf("%s held %s", h.Method, fmtDur(h.HeldMS))}
	d.When = fmt.Sprintf("%s → %s · %s", fmtAt(h.AtMS), fmtAt(h.AtMS+h.HeldMS), h.Arrived.Format("15:04:05.000"))
	d.Rows = append(d.Rows, row{"Outcome", outcomeText(h.Outcome)})
	if h.Session != "" {
		d.Rows = append(d.Rows, row{"Session", h.Session})
	}
	if h.Conn != 0 {
		d.Rows = append(d.Rows, row{"Connection", fmt.Sprint(h.Conn)})
	}
	if h.Detail != "" {
		d.Rows = append(d.Rows, row{"Detail", h.Detail})
	}
	d.Figs = []figure{{shots.at(h.Arrived), "The page when the command arrived"}}
	return d
}

func (r *Report) shotDetail(c ShotRow) detail {
	d := detail{AtMS: c.AtMS, Title: "Screenshot: " + c.Label}
	d.When = fmt.Sprintf("%s · %s · screenshot %d", fmtAt(c.AtMS), c.Time.Format("15:04:05.000"), c.N)
	d.Rows = append(d.Rows, row{"Why", strings.Join(c.Why, ", ")})
	if len(c.Events) > 0 {
		var evs []string
		for _, e := range c.Events {
			if e < len(r.Events) {
				evs = append(evs, fmt.Sprintf("%d (%s)", e+1, kindLabel(r.Events[e].Event.Kind)))
			}
		}
		d.Rows = append(d.Rows, row{"For events", strings.Join(evs, ", ")})
	}
	switch {
	case c.Kept:
		d.Rows = append(d.Rows, row{"Image", fmt.Sprintf("%d×%d JPEG, %s", c.Width, c.Height, fmtBytes(int64(c.Bytes)))})
	case c.Error != "":
		d.Rows = append(d.Rows, row{"Failed", c.Error})
	default:
		d.Rows = append(d.Rows, row{"Image", "deleted to stay under the recording's caps"})
	}
	if c.Same != 0 {
		d.Rows = append(d.Rows, row{"Same as", fmt.Sprintf("screenshot %d: the page had not changed", c.Same)})
	}
	n := c.N
	if !c.Kept {
		n = 0
	}
	d.Figs = []figure{{n, c.Label}}
	return d
}

// sameImage is true when two screenshots share one file.
func (r *Report) sameImage(a, b int) bool {
	ca, oka := r.Shot(a)
	cb, okb := r.Shot(b)
	return oka && okb && ca.File != "" && ca.File == cb.File
}

// clock is the wall-clock time atMS after the start.
func (r *Report) clock(atMS float64) string {
	return r.Start.Add(time.Duration(atMS * float64(time.Millisecond))).Format("15:04:05")
}

// fmtDur writes a duration in milliseconds the way people read them.
func fmtDur(msf float64) string {
	if math.IsNaN(msf) || msf < 0 {
		msf = 0
	}
	switch {
	case msf < 1000:
		return fmt.Sprintf("%.0f ms", msf)
	case msf < 60_000:
		return fmt.Sprintf("%.1f s", msf/1000)
	case msf < 3_600_000:
		s := int(math.Round(msf / 1000))
		return fmt.Sprintf("%d min %02d s", s/60, s%60)
	default:
		m := int(math.Round(msf / 60_000))
		return fmt.Sprintf("%d h %02d min", m/60, m%60)
	}
}

// fmtAt writes a time from the start: +m:ss.s, or +h:mm:ss.
func fmtAt(msf float64) string {
	if math.IsNaN(msf) || msf < 0 {
		msf = 0
	}
	tenths := int64(msf / 100)
	s := tenths / 10
	if s >= 3600 {
		return fmt.Sprintf("+%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("+%d:%02d.%d", s/60, s%60, tenths%10)
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

var kindLabels = map[string]string{
	"state": "Control changed", "request": "Request for control", "yield": "Finishing a step",
	"handoff": "Handoff", "pause": "Paused", "resume": "Resumed", "settings": "Room settings",
	"connection": "neko connection", "error": "Error", "page": "Navigation", "browser": "Browser",
}

func kindLabel(k string) string {
	if l, ok := kindLabels[k]; ok {
		return l
	}
	return k
}

var outcomeTexts = map[string]string{
	"released":  "released when automation had control again",
	"answered":  "answered during the hold: a read, proven side-effect-free",
	"timed-out": "failed: held longer than the hold timeout",
	"failed":    "failed",
	"abandoned": "abandoned: the script's connection ended first",
}

func outcomeText(o string) string {
	if t, ok := outcomeTexts[o]; ok {
		return t
	}
	return o
}

func pageText(p *PageInfo) string {
	if !p.Attached && p.URL == "" {
		return "not attached"
	}
	if p.Title != "" && p.Title != p.URL {
		return p.Title + " — " + p.URL
	}
	return p.URL
}

// shortURL is a URL without its scheme and host when it has a path worth
// showing: "/checkout?step=2".
func shortURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	p := u.EscapedPath()
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	if p == "" || p == "/" {
		return u.Host + "/"
	}
	return p
}
