package timeline

import (
	"bufio"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

//go:embed report.html.tmpl
var reportTmpl string

//go:embed report.css
var reportCSS string

//go:embed report.js
var reportJS string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":    fmtDur,
	"at":     fmtAt,
	"bytes":  fmtBytes,
	"kind":   kindLabel,
	"chip":   func(d Driver) string { return chipLabels[d] },
	"short":  shortURL,
	"pct":    func(f float64) string { return fmt.Sprintf("%.0f%%", math.Round(f*100)) },
	"num":    func(f float64) string { return fmt.Sprintf("%.3f", f) },
	"inc":    func(i int) int { return i + 1 },
	"plural": plural,
}).Parse(reportTmpl))

// Render writes the report of the recording in dir as one self-contained
// HTML file: screenshots embedded as data URIs, no external assets, usable
// offline and as a CI artefact.
func Render(w io.Writer, dir string) error {
	rec, err := Load(dir)
	if err != nil {
		return err
	}
	return Build(rec).WriteHTML(w)
}

// RenderJSON writes the JSON form of the report of the recording in dir
// (the Report; screenshots are named by file, not embedded).
func RenderJSON(w io.Writer, dir string) error {
	rec, err := Load(dir)
	if err != nil {
		return err
	}
	return Build(rec).WriteJSON(w)
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("timeline: write JSON report: %w", err)
	}
	return nil
}

// chipLabels name the drivers in the event table, in a word or two.
var chipLabels = map[Driver]string{
	DriverAutomation: "automation", DriverPerson: "a person", DriverHandoff: "waiting",
	DriverPaused: "paused", DriverFree: "nobody", DriverOffline: "offline",
}

// htmlPage is what the template reads.
type htmlPage struct {
	R       *Report
	CSS     template.CSS
	JS      template.JS
	Data    jsData
	Film    []filmItem
	Segs    []segView
	Markers []markView
	Bars    []heldView
	Ticks   []tick
	Sel     string // the key of the detail shown first
	Detail  detail
	// Images are the src attributes of every kept screenshot, by
	// Capture.N: a whole attribute, so that html/template leaves the
	// base64 as it is (it would write every "+" of a URL value as &#43;).
	Images  map[int]template.HTMLAttr
	Drivers []DriverTime // for the legend: every driver, in order
	Outcome map[string]int
}

// jsData is what the page's script needs: every detail, by key, and which
// image each screenshot number shows.
type jsData struct {
	Details  map[string]detail `json:"details"`
	Image    map[int]string    `json:"image"` // Capture.N → film item id
	Duration float64           `json:"durationMs"`
}

// filmItem is one distinct image: every screenshot that shares it.
type filmItem struct {
	ID    string
	First ShotRow
	Also  []ShotRow
}

type segView struct {
	Segment
	Key         string
	Left, Width float64 // percent of the bar
	Aria        string
}

type markView struct {
	EventRow
	Key  string
	Left float64
	Aria string
}

type heldView struct {
	HeldRow
	Key         string
	Left, Width float64
	Aria        string
}

type tick struct {
	Pct   float64
	Label string
	Class string
}

// WriteHTML writes the report as one self-contained HTML page.
func (r *Report) WriteHTML(w io.Writer) error {
	p := htmlPage{R: r, CSS: template.CSS(reportCSS), JS: template.JS(reportJS), Images: map[int]template.HTMLAttr{}}
	p.Data = jsData{Details: map[string]detail{}, Image: map[int]string{}, Duration: r.DurationMS}
	byFile := map[string]int{} // file → index in p.Film
	for _, c := range r.Captures {
		if !c.Kept {
			continue
		}
		if i, ok := byFile[c.File]; ok {
			p.Film[i].Also = append(p.Film[i].Also, c)
			p.Images[c.N] = p.Images[p.Film[i].First.N]
			p.Data.Image[c.N] = p.Film[i].ID
			continue
		}
		uri, err := srcAttr(filepath.Join(r.dir, filepath.FromSlash(c.File)))
		if err != nil {
			return err
		}
		id := fmt.Sprintf("shot-%d", c.N)
		byFile[c.File] = len(p.Film)
		p.Film = append(p.Film, filmItem{ID: id, First: c})
		p.Images[c.N] = uri
		p.Data.Image[c.N] = id
	}
	pos := func(at float64) float64 {
		if r.DurationMS <= 0 {
			return 0
		}
		return min(100, max(0, at/r.DurationMS*100))
	}
	var heldAt []float64 // the held commands that waited, for the segments'
	for _, h := range r.Held {
		if h.Outcome != "answered" {
			heldAt = append(heldAt, h.AtMS)
		}
	}
	slices.Sort(heldAt)
	for i, s := range r.Segments {
		key := fmt.Sprintf("s%d", i)
		d := r.segmentDetail(i, heldAt)
		p.Data.Details[key] = d
		v := segView{Segment: s, Key: key, Left: pos(s.AtMS), Width: pos(s.DurMS), Aria: d.Title + ", " + d.When}
		if r.DurationMS <= 0 {
			// A run of one instant: equal parts, so each is still seen.
			v.Left, v.Width = float64(i)*100/float64(len(r.Segments)), 100/float64(len(r.Segments))
		}
		p.Segs = append(p.Segs, v)
	}
	for i, e := range r.Events {
		key := fmt.Sprintf("e%d", i)
		d := r.eventDetail(i)
		p.Data.Details[key] = d
		if e.Event.Kind != "state" {
			p.Markers = append(p.Markers, markView{EventRow: e, Key: key, Left: pos(e.AtMS), Aria: kindLabel(e.Event.Kind) + " at " + fmtAt(e.AtMS) + ": " + e.Event.Reason})
		}
	}
	shots := indexShots(r.Captures)
	for i, h := range r.Held {
		key := fmt.Sprintf("h%d", i)
		d := r.heldDetail(i, shots)
		p.Data.Details[key] = d
		p.Bars = append(p.Bars, heldView{HeldRow: h, Key: key, Left: pos(h.AtMS), Width: pos(h.HeldMS), Aria: d.Title + ", " + h.Outcome})
	}
	for _, c := range r.Captures {
		p.Data.Details[fmt.Sprintf("c%d", c.N)] = r.shotDetail(c)
	}
	p.Sel = r.firstSelection()
	p.Detail = p.Data.Details[p.Sel]
	p.Ticks = ticks(r.DurationMS)
	for _, d := range drivers {
		p.Drivers = append(p.Drivers, DriverTime{Driver: d, Label: driverLabels[d]})
	}
	bw := bufio.NewWriter(w)
	if err := tmpl.Execute(bw, p); err != nil {
		return fmt.Errorf("timeline: render HTML: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("timeline: write HTML report: %w", err)
	}
	return nil
}

// firstSelection is what the detail panel shows on opening: a person's
// first turn (what the report is usually opened for), else the last
// stretch of the run.
func (r *Report) firstSelection() string {
	for i, s := range r.Segments {
		if s.Driver == DriverPerson {
			return fmt.Sprintf("s%d", i)
		}
	}
	if n := len(r.Segments); n > 0 {
		return fmt.Sprintf("s%d", n-1)
	}
	return ""
}

// srcAttr is the src attribute of an img showing the JPEG at path. Base64
// needs no escaping in a quoted attribute.
func srcAttr(path string) (template.HTMLAttr, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("timeline: screenshot: %w", err)
	}
	const prefix = `src="data:image/jpeg;base64,`
	var sb strings.Builder
	sb.Grow(len(prefix) + base64.StdEncoding.EncodedLen(len(b)) + 1)
	sb.WriteString(prefix)
	sb.WriteString(base64.StdEncoding.EncodeToString(b))
	sb.WriteByte('"')
	return template.HTMLAttr(sb.String()), nil
}

// ticks places about six labelled ticks at round times along the bar.
func ticks(total float64) []tick {
	if total <= 0 {
		return []tick{{Pct: 0, Label: fmtAt(0), Class: "first"}}
	}
	step := 100.0 // ms
	for _, s := range []float64{100, 200, 500, 1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3} {
		step = s
		if total/s <= 7 {
			break
		}
	}
	var out []tick
	for t := 0.0; t <= total+1e-9; t += step {
		out = append(out, tick{Pct: t / total * 100, Label: tickLabel(t, step)})
	}
	out[0].Class = "first"
	if last := &out[len(out)-1]; len(out) > 1 && last.Pct > 97 {
		last.Class = "last"
	}
	return out
}

func tickLabel(t, step float64) string {
	s := t / 1000
	switch {
	case step < 1000:
		return fmt.Sprintf("%.1f s", s)
	case t < 60_000:
		return fmt.Sprintf("%.0f s", s)
	case t < 3_600_000:
		return fmt.Sprintf("%d:%02d", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%d:%02d:%02d", int(s)/3600, int(s)/60%60, int(s)%60)
}
