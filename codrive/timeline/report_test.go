package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A run with known times: every total is checked against arithmetic done
// by hand.
func TestReportTotals(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 17, 45, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ev := func(s float64, kind, state, host, gate string, goAhead bool, handoff string) Event {
		e := evAt(at(s), kind, state, host, gate, goAhead, "http://shop/pay")
		e.Status.Handoff = handoff
		return e
	}
	events := []Event{
		ev(0, "state", "free", "", "waiting", false, ""),
		ev(1, "state", "automation", "codrive-1", "open", true, ""),
		ev(3, "request", "automation", "codrive-1", "yielding", false, ""),
		ev(3, "state", "human", "alice-1", "waiting", false, ""),
		ev(5, "state", "free", "", "waiting", false, ""),
		ev(5.1, "state", "automation", "codrive-1", "open", true, ""),
		ev(6, "handoff", "automation", "codrive-1", "handoff", false, "bank"),
		ev(6, "state", "free", "", "handoff", false, "bank"),
		ev(8, "state", "human", "alice-1", "handoff", false, "bank"),
		ev(9, "handoff", "free", "", "waiting", false, ""),
		ev(9, "state", "automation", "codrive-1", "open", true, ""),
		ev(9.5, "page", "automation", "codrive-1", "open", true, ""),
	}
	events[11].Page.URL = "http://shop/done"
	held := []Held{
		{Method: "Runtime.evaluate", Arrived: at(3.5), HeldMS: 2000, Outcome: "released"},
		{Method: "Input.insertText", Arrived: at(3.2), HeldMS: 2500, Outcome: "timed-out", Detail: "codrive: a person holds control"},
		{Method: "Runtime.evaluate", Arrived: at(4), HeldMS: 10, Outcome: "answered"},
	}
	dir := writeRecording(t, &Meta{Format: FormatVersion, Title: "by hand", Started: t0, Ended: at(10)}, events, held, nil)
	r := Build(loadT(t, dir))

	type seg struct {
		d     Driver
		label string
		at    float64
		dur   float64
	}
	want := []seg{
		{DriverFree, "Nobody", 0, 1000}, {DriverAutomation, "Automation", 1000, 2000}, {DriverPerson, "alice", 3000, 2000},
		{DriverFree, "Nobody", 5000, 100}, {DriverAutomation, "Automation", 5100, 900}, {DriverHandoff, "Waiting for a person", 6000, 2000},
		{DriverPerson, "alice", 8000, 1000}, {DriverFree, "Nobody", 9000, 0}, {DriverAutomation, "Automation", 9000, 1000},
	}
	var got []seg
	for _, s := range r.Segments {
		got = append(got, seg{s.Driver, s.Label, math.Round(s.AtMS), math.Round(s.DurMS)})
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("segments\n got %v\nwant %v", got, want)
	}
	drivers := map[Driver]float64{}
	for _, d := range r.Drivers {
		drivers[d.Driver] = math.Round(d.MS)
	}
	if fmt.Sprint(drivers) != fmt.Sprint(map[Driver]float64{DriverAutomation: 3900, DriverPerson: 3000, DriverHandoff: 2000, DriverFree: 1100}) {
		t.Errorf("time per driver %v", drivers)
	}
	if len(r.People) != 1 || r.People[0].Name != "alice" || r.People[0].Turns != 2 || math.Round(r.People[0].MS) != 3000 || math.Abs(r.People[0].Share-0.3) > 1e-9 {
		t.Errorf("people %+v", r.People)
	}
	tot := r.Totals
	if tot.Events != 12 || tot.PersonTurns != 2 || tot.Handoffs != 1 || tot.Requests != 1 || tot.Navigations != 1 {
		t.Errorf("counts %+v", tot)
	}
	if math.Round(tot.LongestWaitMS) != 3000 || math.Round(tot.LongestWaitAtMS) != 6000 || math.Round(tot.WaitMS) != 5100 {
		t.Errorf("waits: longest %v at %v, all %v; want 3000 at 6000, 5100", tot.LongestWaitMS, tot.LongestWaitAtMS, tot.WaitMS)
	}
	if tot.Held != 2 || tot.LongestHoldMS != 2500 || tot.LongestHold != "Input.insertText" || tot.HeldMS != 4500 ||
		fmt.Sprint(tot.HeldByOutcome) != "map[answered:1 released:1 timed-out:1]" {
		t.Errorf("held %+v", tot)
	}
	if r.Title != "by hand" || r.DurationMS != 10000 || r.Policy != "yield" {
		t.Errorf("report %q %v %q", r.Title, r.DurationMS, r.Policy)
	}
	if !strings.Contains(strings.Join(r.Notes, "\n"), "no screenshots") {
		t.Errorf("notes %q", r.Notes)
	}

	// The JSON form is the same data.
	var b bytes.Buffer
	if err := RenderJSON(&b, dir); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Segments) != len(r.Segments) || back.Totals.LongestWaitMS != tot.LongestWaitMS || len(back.Events) != 12 || len(back.Held) != 3 {
		t.Errorf("JSON form differs: %+v", back.Totals)
	}
}

// Short and empty runs read as well as long ones: no NaN, no empty boxes
// without a word, in a real browser.
func TestReportShortRuns(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 17, 45, 0, 0, time.UTC)
	one := evAt(t0, "state", "automation", "codrive-1", "open", true, "http://shop/")
	cases := map[string]struct {
		dir  string
		says string
		segs int
	}{
		"no events":   {writeRecording(t, &Meta{Format: FormatVersion, Started: t0, Ended: t0.Add(time.Second)}, nil, nil, nil), "No events were recorded", 0},
		"one instant": {writeRecording(t, &Meta{Format: FormatVersion, Started: t0, Ended: t0}, []Event{one}, nil, nil), "Automation drove for 0 ms", 1},
		"two at once": {writeRecording(t, &Meta{Format: FormatVersion, Started: t0, Ended: t0},
			[]Event{one, evAt(t0, "state", "human", "alice-1", "waiting", false, "")}, nil, nil), "No screenshot of this moment", 2},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			html := filepath.Join(t.TempDir(), "report.html")
			var b bytes.Buffer
			if err := Render(&b, tc.dir); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(html, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			v := readDOM(t, openReport(t, html))
			checkReadable(t, v)
			if !strings.Contains(v.Text, tc.says) {
				t.Errorf("the report does not say %q:\n%s", tc.says, v.Text)
			}
			if len(v.Segs) != tc.segs {
				t.Fatalf("%d segments, want %d", len(v.Segs), tc.segs)
			}
			var width float64
			for _, s := range v.Segs {
				width += s.W
			}
			if tc.segs > 0 && math.Abs(width-v.BarW) > 1 {
				t.Errorf("segments fill %.1f of %.1f px", width, v.BarW)
			}
		})
	}
}

// A screenshot overtaken by a navigation is taken again: Chromium fails it
// or never answers it otherwise.
func TestTabCaptureDuringNavigation(t *testing.T) {
	c := chromium(t)
	site := shopSite(t)
	for round := range 5 {
		tab := c.NewTabT(t, "about:blank")
		shots, err := AttachTab(ctxT(t, deadline), c.URL, TabOptions{Target: tab})
		if err != nil {
			t.Fatal(err)
		}
		script := dialCDP(t, "ws://"+strings.TrimPrefix(c.URL, "http://")+"/devtools/page/"+tab)
		script.call("Page.enable", nil)
		var wg sync.WaitGroup
		wg.Go(func() { script.navigate(site.URL + []string{"/", "/order", "/pay", "/done", "/"}[round]) })
		img, err := shots.Capture(ctxT(t, DefaultCaptureTimeout))
		wg.Wait()
		if err != nil || len(img) == 0 {
			t.Errorf("round %d: a screenshot during a navigation: %v", round, err)
		}
		if err := shots.Close(); err != nil {
			t.Error(err)
		}
	}
}

// The screenshot that shows a moment: the last kept one taken at or before
// it, else the first after it; deleted and failed ones never; and a wall
// clock that stepped back between two shots (shot 4 taken "before" shot 3)
// ends the search at the first shot taken after the moment.
func TestShotIndex(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 17, 45, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	x := indexShots([]ShotRow{
		{Capture: Capture{N: 1, Time: at(10)}}, // failed or deleted
		{Capture: Capture{N: 2, Time: at(20)}, Kept: true},
		{Capture: Capture{N: 3, Time: at(40)}, Kept: true},
		{Capture: Capture{N: 4, Time: at(30)}, Kept: true}, // the clock stepped back
		{Capture: Capture{N: 5, Time: at(50)}, Kept: true},
	})
	for _, tc := range []struct{ s, want int }{
		{0, 2}, {10, 2}, {20, 2}, {25, 2}, {35, 2}, {40, 4}, {45, 4}, {50, 5}, {90, 5},
	} {
		if got := x.at(at(tc.s)); got != tc.want {
			t.Errorf("at +%ds: screenshot %d, want %d", tc.s, got, tc.want)
		}
	}
	if got := indexShots(nil).at(t0); got != 0 {
		t.Errorf("no screenshots: %d, want 0", got)
	}
}
