package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// expSeg is a stretch of the timeline as the test derives it from the
// lines attach printed, on its own.
type expSeg struct {
	driver, label string
	start, end    time.Time
}

func expectedSegments(t *testing.T, lines [][]byte, end time.Time) []expSeg {
	t.Helper()
	var segs []expSeg
	for _, l := range lines {
		var e struct {
			Time   time.Time `json:"time"`
			Status struct {
				State, Host, HostName, Gate string
			} `json:"status"`
		}
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		d, label := "free", "Nobody"
		switch st := e.Status; {
		case st.State == "human":
			d, label = "person", st.HostName
		case st.State == "disconnected" || st.Gate == "closed":
			d, label = "offline", "Offline"
		case st.Gate == "handoff":
			d, label = "handoff", "Waiting for a person"
		case st.Gate == "paused":
			d, label = "paused", "Paused"
		case st.State == "automation":
			d, label = "automation", "Automation"
		}
		if n := len(segs); n > 0 && segs[n-1].driver == d && segs[n-1].label == label {
			continue
		}
		if n := len(segs); n > 0 {
			segs[n-1].end = e.Time
		}
		segs = append(segs, expSeg{driver: d, label: label, start: e.Time})
	}
	if n := len(segs); n > 0 {
		segs[n-1].end = end
	}
	return segs
}

func msSince(t0, t time.Time) float64 { return float64(t.Sub(t0).Microseconds()) / 1000 }

// The whole path: a real run recorded, rendered, and read the way a person
// reads it, in Chromium.
func TestRecordedRunReport(t *testing.T) {
	p := pace{step: 120 * time.Millisecond, turn: 500 * time.Millisecond}
	if *update {
		p = pace{step: 900 * time.Millisecond, turn: 4 * time.Second}
	}
	run := recordShopRun(t, p)
	rec, err := Load(run.dir)
	if err != nil {
		t.Fatal(err)
	}
	checkRecording(t, run, rec)

	htmlPath := filepath.Join(t.TempDir(), "report.html")
	var html bytes.Buffer
	if err := Render(&html, run.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(htmlPath, html.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	keep(t, run.dir, htmlPath)
	dur := rec.Meta.Ended.Sub(rec.Events[0].Time)
	t.Logf("recording: %d events, %d held, %d screenshots (%d KB on disk), %v; report %d KB, %.0f KB per minute",
		len(rec.Events), len(rec.Held), rec.Meta.Counts.Captures, rec.Meta.Counts.ShotBytes>>10, dur.Round(time.Millisecond),
		html.Len()>>10, float64(html.Len())/1024/dur.Minutes())

	var js bytes.Buffer
	if err := RenderJSON(&js, run.dir); err != nil {
		t.Fatal(err)
	}
	var fromJSON Report
	if err := json.Unmarshal(js.Bytes(), &fromJSON); err != nil {
		t.Fatalf("the JSON form does not parse: %v", err)
	}

	pg := openReport(t, htmlPath)
	v := readDOM(t, pg)
	checkReadable(t, v)
	exp := expectedSegments(t, run.lines, rec.Meta.Ended)
	t0 := rec.Events[0].Time
	total := msSince(t0, rec.Meta.Ended)

	// The bar: one segment per change of driver, in order, each as long as
	// the recorded events say, and as wide as its share of the run.
	if len(v.Segs) != len(exp) {
		t.Fatalf("%d segments on the bar, want %d:\n got %+v\nwant %+v", len(v.Segs), len(exp), v.Segs, exp)
	}
	for i, s := range v.Segs {
		e := exp[i]
		wantAt, wantDur := msSince(t0, e.start), msSince(e.start, e.end)
		if s.Driver != e.driver || s.Label != e.label || math.Abs(s.At-wantAt) > 0.01 || math.Abs(s.Dur-wantDur) > 0.01 {
			t.Errorf("segment %d: %s %q at %.3f for %.3f ms, want %s %q at %.3f for %.3f", i, s.Driver, s.Label, s.At, s.Dur, e.driver, e.label, wantAt, wantDur)
		}
		wantW := wantDur / total * v.BarW
		if math.Abs(s.W-max(wantW, 3)) > 1.5 {
			t.Errorf("segment %d (%s) is %.1f px wide, want %.1f (%.2f%% of %.0f px)", i, s.Driver, s.W, wantW, 100*wantDur/total, v.BarW)
		}
		if wantX := wantAt / total * v.BarW; math.Abs(s.X-wantX) > 1.5 {
			t.Errorf("segment %d starts at %.1f px, want %.1f", i, s.X, wantX)
		}
	}
	// The story: automation, alice, automation, waiting for a person,
	// alice, automation, in this order.
	var story []string
	for _, s := range v.Segs {
		story = append(story, s.Driver+":"+s.Label)
	}
	want := []string{"automation:Automation", "person:alice", "automation:Automation", "handoff:Waiting for a person", "person:alice", "automation:Automation"}
	if !isSubsequence(want, story) {
		t.Errorf("the bar tells %v, want the story %v in it", story, want)
	}

	// Totals: what the recorded events and held commands imply.
	perDriver := map[string]float64{}
	for _, e := range exp {
		perDriver[e.driver] += msSince(e.start, e.end)
	}
	handoffs, held, longestHold := 0, 0, 0.0
	prevHandoff := ""
	for _, l := range run.lines {
		var e struct {
			Status struct{ Handoff string } `json:"status"`
		}
		_ = json.Unmarshal(l, &e)
		if e.Status.Handoff != "" && prevHandoff == "" {
			handoffs++
		}
		prevHandoff = e.Status.Handoff
	}
	for _, h := range run.held {
		if h.Outcome != "answered" {
			held++
			longestHold = max(longestHold, float64(h.Held.Microseconds())/1000)
		}
	}
	if handoffs != 1 || held != 2 {
		t.Errorf("the run had %d handoffs and %d held actions, want 1 and 2", handoffs, held)
	}
	seen := map[string]bool{}
	for _, tot := range v.Totals {
		switch tot.Kind {
		case "driver":
			seen["driver:"+tot.Driver] = true
			if tot.MS == nil || math.Abs(*tot.MS-perDriver[tot.Driver]) > 0.01 {
				t.Errorf("total %s: %v ms, want %.3f", tot.Driver, tot.MS, perDriver[tot.Driver])
			}
		case "person":
			// One card per person; alice is the only one here.
			seen["driver:person"] = true
			if tot.Person != "alice" || tot.MS == nil || math.Abs(*tot.MS-perDriver["person"]) > 0.01 {
				t.Errorf("person total %s %v, want alice %.3f", tot.Person, tot.MS, perDriver["person"])
			}
		case "handoffs":
			seen[tot.Kind] = true
			if tot.N == nil || *tot.N != handoffs {
				t.Errorf("handoffs shown %v, want %d", tot.N, handoffs)
			}
		case "held":
			seen[tot.Kind] = true
			if tot.N == nil || *tot.N != held || tot.MS == nil || math.Abs(*tot.MS-longestHold) > 0.01 {
				t.Errorf("held shown %v (longest %v), want %d (longest %.3f)", tot.N, tot.MS, held, longestHold)
			}
		case "wait":
			seen[tot.Kind] = true
			if want := longestWait(t, run.lines, rec.Meta.Ended); tot.MS == nil || math.Abs(*tot.MS-want) > 0.01 {
				t.Errorf("longest wait shown %v, want %.3f", tot.MS, want)
			}
		case "duration":
			if tot.MS == nil || math.Abs(*tot.MS-total) > 0.01 {
				t.Errorf("duration shown %v, want %.3f", tot.MS, total)
			}
		}
	}
	for d := range perDriver {
		if !seen["driver:"+d] {
			t.Errorf("no total for %s", d)
		}
	}
	for _, k := range []string{"handoffs", "held", "wait"} {
		if !seen[k] {
			t.Errorf("no %s total", k)
		}
	}
	if v.Rows != len(run.lines) {
		t.Errorf("event table has %d rows, attach printed %d events", v.Rows, len(run.lines))
	}
	if v.HeldRows != len(run.held) {
		t.Errorf("held table has %d rows, the proxy reported %d", v.HeldRows, len(run.held))
	}

	// It opens on alice's first turn: what she saw when she took over and
	// what she left.
	if !strings.HasPrefix(v.Title, "alice drove for") || v.DetailShown != 2 {
		t.Errorf("the report opens on %q with %d screenshots, want alice's turn with two", v.Title, v.DetailShown)
	}
	png := screenshotReport(t, pg)
	if *update {
		writePicture(t, png)
	}

	// Clicking the handoff's stretch shows the page at that moment.
	hi := slices.IndexFunc(v.Segs, func(s struct {
		Driver string  `json:"driver"`
		Label  string  `json:"label"`
		At     float64 `json:"at"`
		Dur    float64 `json:"dur"`
		X      float64 `json:"x"`
		W      float64 `json:"w"`
	}) bool {
		return s.Driver == "handoff"
	})
	if hi >= 0 {
		sel := fmt.Sprintf(`#bar .seg[data-segment="s%d"]`, hi)
		if err := chromedp.Do(pg.Context(), chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatal(err)
		}
		got := readDOM(t, pg)
		wantShot := fromJSON.Segments[hi].StartShot
		if !strings.HasPrefix(got.Title, "Automation waited for a person") || wantShot == 0 || len(got.DetailSrcs) == 0 {
			t.Errorf("after a click on the handoff: %q, %d screenshots (want its screenshot %d)", got.Title, len(got.DetailSrcs), wantShot)
		} else if film := filmSrc(t, pg, wantShot); got.DetailSrcs[0] != film {
			t.Errorf("the handoff shows another screenshot than the one taken when it began (%d)", wantShot)
		}
	}

}

// keep copies the recording and its report to $CODRIVE_TIMELINE_KEEP, when
// set, to look at them after the test.
func keep(t *testing.T, dir, html string) {
	t.Helper()
	to := os.Getenv("CODRIVE_TIMELINE_KEEP")
	if to == "" {
		return
	}
	if err := os.CopyFS(filepath.Join(to, "recording"), os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(html)
	if err == nil {
		err = os.WriteFile(filepath.Join(to, "report.html"), b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kept the recording and its report in %s", to)
}

// filmSrc is the tail of the src of screenshot n's image in the film.
func filmSrc(t *testing.T, pg interface{ Context() context.Context }, n int) string {
	t.Helper()
	s, err := chromedp.Run(pg.Context(), chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById(DATA.image[%d]).src.slice(-64)`, n)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// longestWait derives, from the printed lines, the longest stretch during
// which automation could not act because of a person.
func longestWait(t *testing.T, lines [][]byte, end time.Time) float64 {
	t.Helper()
	var start time.Time
	waiting, longest := false, 0.0
	for _, l := range lines {
		var e struct {
			Time   time.Time `json:"time"`
			Status struct {
				State, Gate string
				Go          bool
			} `json:"status"`
		}
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		st := e.Status
		person := !st.Go && (st.State == "human" || st.Gate == "yielding" || st.Gate == "handoff")
		if !waiting && person {
			waiting, start = true, e.Time
		} else if waiting && (st.Go || st.Gate == "closed") {
			longest = max(longest, msSince(start, e.Time))
			waiting = false
		}
	}
	if waiting {
		longest = max(longest, msSince(start, end))
	}
	return longest
}

// checkRecording checks the directory against what the test saw.
func checkRecording(t *testing.T, run shopRun, rec *Recording) {
	t.Helper()
	lines := readJSONLines(t, filepath.Join(run.dir, EventsFile))
	if len(lines) != len(run.lines) {
		t.Fatalf("%s has %d lines, attach printed %d", EventsFile, len(lines), len(run.lines))
	}
	for i := range lines {
		if !bytes.Equal(lines[i], compactJSON(t, run.lines[i])) {
			t.Errorf("%s line %d differs from what attach printed:\n%s\n%s", EventsFile, i+1, lines[i], run.lines[i])
		}
	}
	if len(rec.Held) != len(run.held) {
		t.Fatalf("%d held records, the proxy reported %d", len(rec.Held), len(run.held))
	}
	for i, h := range rec.Held {
		if w := run.held[i]; h.Method != w.Method || h.Outcome != string(w.Outcome) || !h.Arrived.Equal(w.Arrived) {
			t.Errorf("held record %d %+v, the proxy reported %+v", i, h, w)
		}
	}
	if len(rec.Notes) != 0 {
		t.Errorf("notes on a clean recording: %v", rec.Notes)
	}
	c := rec.Meta.Counts
	if c.CapturesFailed != 0 || c.CapturesDropped != 0 || c.CapturesEvicted != 0 || c.EventsDropped != 0 {
		t.Errorf("counts %+v: a short run loses nothing", c)
	}
	// Every host change, handoff and navigation has a screenshot taken for
	// it, and every screenshot decodes at the width asked for.
	covered := map[int]bool{}
	for _, cp := range rec.Captures {
		for _, e := range cp.Events {
			covered[e] = true
		}
		if cp.Error != "" || cp.Width == 0 || cp.Width > DefaultShotWidth {
			t.Errorf("capture %+v", cp)
		}
	}
	prev := Event{}
	url := ""
	for i, ev := range rec.Events {
		hostChange := i == 0 || ev.Status.State != prev.Status.State || ev.Status.Host != prev.Status.Host
		handoff := ev.Status.Gate == "handoff" && prev.Status.Gate != "handoff"
		nav := false
		if ev.Page != nil && ev.Page.URL != url {
			nav = ev.Kind == "page" && i > 0
			url = ev.Page.URL
		}
		if (hostChange || handoff || nav) && !covered[i] {
			t.Errorf("event %d (%s: %s) has no screenshot", i, ev.Kind, ev.Reason)
		}
		prev = ev
	}
	var whys []string
	for _, cp := range rec.Captures {
		whys = append(whys, cp.Why...)
	}
	for _, w := range []string{WhyStart, WhyTurnStart, WhyTurnEnd, WhyHandoff, WhyNavigation, WhyEnd} {
		if !slices.Contains(whys, w) {
			t.Errorf("no screenshot for %q in %v", w, whys)
		}
	}
}
