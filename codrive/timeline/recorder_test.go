package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/codrive/cdpproxy"
)

// The events file is exactly what attach prints: codrive's golden event
// reads and writes back byte for byte.
func TestEventJSONIsAttachFormat(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("..", "..", "testdata", "golden", "event.json"))
	if err != nil {
		t.Fatal(err)
	}
	golden = bytes.TrimSpace(golden)
	ev, err := ParseEvent(golden)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, golden) {
		t.Fatalf("Event does not round-trip attach's JSON:\n got %s\nwant %s", out, golden)
	}

	dir := filepath.Join(t.TempDir(), "rec")
	r, err := Start(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	withExtra := `{"time":"2026-11-23T17:45:02Z","kind":"future","reason":"a kind and a field this codrive does not know","status":{"state":"free","since":"2026-11-23T17:45:02Z","policy":"yield","paused":false,"gate":"waiting","go":false,"locked":false},"extra":{"a":1}}`
	if err := r.EventJSON([]byte("  " + string(golden) + "\n")); err != nil {
		t.Fatal(err)
	}
	r.Event(ev)
	if err := r.EventJSON([]byte(withExtra)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "not json", `["an","array"]`, `{"kind":"state"}`, `{"time":"2026-11-23T17:45:02Z"}`, `{"time":"2026-11-23T17:45:02Z","kind":"state"`} {
		if err := r.EventJSON([]byte(bad)); err == nil {
			t.Errorf("EventJSON(%q) accepted it", bad)
		}
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := readJSONLines(t, filepath.Join(dir, EventsFile))
	want := [][]byte{golden, golden, []byte(withExtra)}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i := range want {
		if !bytes.Equal(lines[i], want[i]) {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want[i])
		}
	}
}

// evAt is an event at a time with a status.
func evAt(at time.Time, kind, state, host, gate string, goAhead bool, url string) Event {
	ev := Event{Time: at, Kind: kind, Reason: kind + " " + state, Status: Status{
		State: state, Host: host, HostName: strings.Split(host, "-")[0], Since: at, Policy: "yield", Gate: gate, Go: goAhead,
	}}
	if url != "" {
		ev.Page = &PageInfo{URL: url, Title: url, Attached: true}
	}
	return ev
}

// paintedTab is a tab of the shared Chromium whose colour the test sets,
// so that every screenshot differs, and its real capture.
type paintedTab struct {
	t        *testing.T
	hands    *cdpConn
	shots    *Tab
	started  chan struct{} // one entry per capture, as it starts
	finished chan struct{} // one entry per capture, once taken
	release  chan struct{} // nil: captures run at once
	hue      int
}

func newPaintedTab(t *testing.T) *paintedTab {
	t.Helper()
	c := chromium(t)
	id := c.NewTabT(t, "about:blank")
	shots, err := AttachTab(ctxT(t, deadline), c.URL, TabOptions{Target: id, Shot: ShotOptions{MaxWidth: 320}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shots.Close() })
	p := &paintedTab{t: t, hands: dialCDP(t, "ws://"+strings.TrimPrefix(c.URL, "http://")+"/devtools/page/"+id), shots: shots, started: make(chan struct{}, 1000), finished: make(chan struct{}, 1000)}
	p.repaint()
	return p
}

// repaint gives the page a new colour: the next screenshot differs.
func (p *paintedTab) repaint() {
	p.hue = (p.hue + 47) % 360
	p.hands.eval(fmt.Sprintf(`document.body.style.background = 'hsl(%d, 70%%, 50%%)'; 0`, p.hue))
}

func (p *paintedTab) capture(ctx context.Context) ([]byte, error) {
	p.started <- struct{}{}
	if p.release != nil {
		select {
		case <-p.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	img, err := p.shots.Capture(ctx)
	p.finished <- struct{}{}
	return img, err
}

// shot waits until the next screenshot is taken, then repaints the page:
// the one after differs.
func (p *paintedTab) shot() {
	p.t.Helper()
	select {
	case <-p.finished:
	case <-time.After(deadline):
		p.t.Fatal("no screenshot taken")
	}
	p.repaint()
}

// awaitCapture waits until a capture starts: the requests made before are
// all in its batch, the ones after go to the next.
func (p *paintedTab) awaitCapture() {
	p.t.Helper()
	select {
	case <-p.started:
	case <-time.After(deadline):
		p.t.Fatal("no screenshot started")
	}
}

func loadT(t *testing.T, dir string) *Recording {
	t.Helper()
	rec, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// A screenshot at the start, at every host change (a person's turn
// starting and ending among them), when a handoff starts, after a
// navigation and at the end; none for events that change nothing on the
// screen's side.
func TestRecorderCapturesAtTurns(t *testing.T) {
	p := newPaintedTab(t)
	dir := filepath.Join(t.TempDir(), "rec")
	r, err := Start(dir, Options{Capture: p.capture, NavigationDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	steps := []struct {
		ev  Event
		why string // "" for none
	}{
		{evAt(at(0), "state", "free", "", "waiting", false, "http://shop/"), WhyStart},
		{evAt(at(1), "state", "automation", "codrive-1", "open", true, "http://shop/"), WhyHost},
		{evAt(at(2), "request", "automation", "codrive-1", "yielding", false, "http://shop/"), ""},
		{evAt(at(2), "state", "human", "alice-1", "waiting", false, "http://shop/"), WhyTurnStart},
		{evAt(at(3), "page", "human", "alice-1", "waiting", false, "http://shop/cart"), WhyNavigation},
		{evAt(at(4), "state", "free", "", "waiting", false, "http://shop/cart"), WhyTurnEnd},
		{evAt(at(4), "state", "automation", "codrive-1", "open", true, "http://shop/cart"), WhyHost},
		{evAt(at(5), "page", "automation", "codrive-1", "open", true, "http://shop/cart"), ""}, // same URL: a title
		{evAt(at(6), "handoff", "automation", "codrive-1", "handoff", false, "http://shop/cart"), WhyHandoff},
		{evAt(at(6), "state", "free", "", "handoff", false, "http://shop/cart"), WhyHost},
		{evAt(at(7), "state", "human", "bob-2", "handoff", false, "http://shop/cart"), WhyTurnStart},
		{evAt(at(8), "state", "human", "carol-3", "handoff", false, "http://shop/cart"), WhyTurnStart},
		{evAt(at(9), "settings", "human", "carol-3", "handoff", false, "http://shop/cart"), ""},
	}
	var want [][]string
	for i, s := range steps {
		r.Event(s.ev)
		if s.why != "" {
			p.shot()
			want = append(want, []string{s.why, fmt.Sprint(i)})
		}
	}
	if err := r.Close(ctxT(t, deadline)); err != nil {
		t.Fatal(err)
	}
	want = append(want, []string{WhyEnd, ""})
	rec := loadT(t, dir)
	var got [][]string
	for _, c := range rec.Captures {
		evs := ""
		if len(c.Events) > 0 {
			evs = fmt.Sprint(c.Events[0])
			if len(c.Events) > 1 {
				evs = fmt.Sprint(c.Events)
			}
		}
		got = append(got, []string{strings.Join(c.Why, "+"), evs})
		if c.Error != "" || c.Width == 0 || c.Width > 320 || c.Same != 0 {
			t.Errorf("capture %+v", c)
		}
		if _, err := os.Stat(filepath.Join(dir, c.File)); err != nil {
			t.Errorf("capture %d: %v", c.N, err)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("captures (why, event):\n got %v\nwant %v", got, want)
	}
	if c := rec.Meta.Counts; c.Events != len(steps) || c.Captures != len(want) || c.ShotBytes == 0 || rec.Meta.Ended.IsZero() {
		t.Errorf("meta %+v", rec.Meta)
	}
}

// A screenshot that does not come never holds up events: requests queue up
// to QueueSize, the rest are dropped and counted, and one screenshot then
// serves the whole queue.
func TestRecorderNeverWaitsForScreenshots(t *testing.T) {
	p := newPaintedTab(t)
	p.release = make(chan struct{})
	dir := filepath.Join(t.TempDir(), "rec")
	const queue = 8
	r, err := Start(dir, Options{Capture: p.capture, QueueSize: queue})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	host := func(i int) Event {
		if i%2 == 0 {
			return evAt(t0.Add(time.Duration(i)*time.Millisecond), "state", "automation", "codrive-1", "open", true, "")
		}
		return evAt(t0.Add(time.Duration(i)*time.Millisecond), "state", "human", "alice-1", "waiting", false, "")
	}
	r.Event(host(0))
	p.awaitCapture() // stuck until released
	const n = 500
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for i := 1; i < n; i++ {
			r.Event(host(i))
			r.Held(cdpproxy.HeldCommand{Method: "Input.insertText", Arrived: t0, Held: time.Millisecond, Outcome: cdpproxy.HeldReleased})
		}
	}()
	select {
	case <-fed:
	case <-time.After(deadline):
		t.Fatal("Event or Held waited for the screenshot in progress")
	}
	if c := r.Counts(); c.CapturesDropped != n-1-queue || c.Events != n || c.Held != n-1 {
		t.Fatalf("counts %+v, want %d dropped", c, n-1-queue)
	}
	close(p.release)
	p.awaitCapture() // the second screenshot, for the whole queue, has begun
	if err := r.Close(ctxT(t, deadline)); err != nil {
		t.Fatal(err)
	}
	rec := loadT(t, dir)
	if len(rec.Events) != n || len(rec.Held) != n-1 {
		t.Fatalf("%d events and %d held recorded, want %d and %d", len(rec.Events), len(rec.Held), n, n-1)
	}
	if len(rec.Captures) != 3 {
		t.Fatalf("%d captures, want 3 (the stuck one, one for the whole queue, the end): %+v", len(rec.Captures), rec.Captures)
	}
	if got := rec.Captures[1].Events; len(got) != queue || got[0] != 1 || got[queue-1] != queue {
		t.Errorf("the second screenshot serves events %v, want 1 to %d", got, queue)
	}
	if rec.Meta.Counts.CapturesDropped != n-1-queue {
		t.Errorf("meta counts %+v", rec.Meta.Counts)
	}
	rep := Build(rec)
	if !slices.ContainsFunc(rep.Notes, func(s string) bool {
		return strings.Contains(s, fmt.Sprint(n-1-queue)+" screenshot request(s) were dropped")
	}) {
		t.Errorf("the report does not say what was dropped: %v", rep.Notes)
	}
}

// Past MaxShots, the least informative screenshot goes first (navigation
// only), the oldest among equals; the first stays, and the newest is
// always kept.
func TestRecorderCapsScreenshots(t *testing.T) {
	p := newPaintedTab(t)
	dir := filepath.Join(t.TempDir(), "rec")
	r, err := Start(dir, Options{Capture: p.capture, MaxShots: 3, NavigationDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	page := func(i int) string { return fmt.Sprintf("http://shop/%d", i) }
	evs := []Event{
		evAt(t0, "state", "automation", "codrive-1", "open", true, page(0)),                    // 1 start
		evAt(t0.Add(1*time.Second), "page", "automation", "codrive-1", "open", true, page(1)),  // 2 navigation
		evAt(t0.Add(2*time.Second), "page", "automation", "codrive-1", "open", true, page(2)),  // 3 navigation
		evAt(t0.Add(3*time.Second), "state", "human", "alice-1", "waiting", false, page(2)),    // 4 turn-start
		evAt(t0.Add(4*time.Second), "page", "human", "alice-1", "waiting", false, page(3)),     // 5 navigation
		evAt(t0.Add(5*time.Second), "state", "automation", "codrive-1", "open", true, page(3)), // 6 turn-end
		evAt(t0.Add(6*time.Second), "page", "automation", "codrive-1", "open", true, page(4)),  // 7 navigation
	}
	for _, ev := range evs {
		r.Event(ev)
		p.shot()
	}
	if err := r.Close(ctxT(t, deadline)); err != nil { // 8 end
		t.Fatal(err)
	}
	rec := loadT(t, dir)
	var kept []int
	for _, c := range Build(rec).Captures {
		if c.Kept {
			kept = append(kept, c.N)
		}
	}
	if fmt.Sprint(kept) != "[1 6 8]" {
		t.Errorf("kept screenshots %v, want [1 6 8]: the first, the last turn's end, the end", kept)
	}
	files, err := os.ReadDir(filepath.Join(dir, ShotsDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Errorf("%d files in %s, want 3", len(files), ShotsDir)
	}
	if c := rec.Meta.Counts; c.CapturesEvicted != 5 || c.Captures != 8 {
		t.Errorf("counts %+v, want 8 captures, 5 evicted", c)
	}
	if rep := Build(rec); rep.Totals.ShotsEvicted != 5 || rep.Totals.Screenshots != 3 {
		t.Errorf("report totals %+v", rep.Totals)
	}
}

// MaxBytes holds whatever the screenshots' sizes: what stays on disk fits,
// and a screenshot larger than the whole cap is refused, not kept.
func TestRecorderCapsBytes(t *testing.T) {
	p := newPaintedTab(t)
	probe, err := p.shots.Capture(ctxT(t, deadline))
	if err != nil {
		t.Fatal(err)
	}
	limit := int64(len(probe)) * 5 / 2
	dir := filepath.Join(t.TempDir(), "rec")
	r, err := Start(dir, Options{Capture: p.capture, MaxBytes: limit, NavigationDelay: -1})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	for i := range 6 {
		r.Event(evAt(t0.Add(time.Duration(i)*time.Second), "page", "automation", "codrive-1", "open", true, fmt.Sprintf("http://shop/%d", i)))
		p.shot()
	}
	if err := r.Close(ctxT(t, deadline)); err != nil {
		t.Fatal(err)
	}
	var onDisk int64
	files, _ := os.ReadDir(filepath.Join(dir, ShotsDir))
	for _, f := range files {
		info, _ := f.Info()
		onDisk += info.Size()
	}
	rec := loadT(t, dir)
	if onDisk > limit || rec.Meta.Counts.ShotBytes != onDisk || rec.Meta.Counts.CapturesEvicted == 0 {
		t.Errorf("%d bytes on disk under a cap of %d, counts %+v", onDisk, limit, rec.Meta.Counts)
	}
	if last := rec.Captures[len(rec.Captures)-1]; !Build(rec).Captures[len(rec.Captures)-1].Kept {
		t.Errorf("the last screenshot %+v was not kept", last)
	}

	dir2 := filepath.Join(t.TempDir(), "tiny")
	r2, err := Start(dir2, Options{Capture: p.capture, MaxBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	r2.Event(evAt(t0, "state", "automation", "codrive-1", "open", true, ""))
	if err := r2.Close(ctxT(t, deadline)); err != nil {
		t.Fatal(err)
	}
	rec2 := loadT(t, dir2)
	for _, c := range rec2.Captures {
		if c.File != "" || !strings.Contains(c.Error, "larger than the whole cap") {
			t.Errorf("capture %+v under a 100-byte cap", c)
		}
	}
}

// A page that did not change is one file, shared.
func TestRecorderSharesIdenticalScreenshots(t *testing.T) {
	p := newPaintedTab(t)
	dir := filepath.Join(t.TempDir(), "rec")
	r, err := Start(dir, Options{Capture: p.capture})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	r.Event(evAt(t0, "state", "automation", "codrive-1", "open", true, ""))
	p.awaitCapture()
	r.Event(evAt(t0.Add(time.Second), "state", "human", "alice-1", "waiting", false, ""))
	p.awaitCapture() // not repainted: the page is the same
	if err := r.Close(ctxT(t, deadline)); err != nil {
		t.Fatal(err)
	}
	rec := loadT(t, dir)
	if len(rec.Captures) != 3 {
		t.Fatalf("%d captures, want 3", len(rec.Captures))
	}
	first := rec.Captures[0]
	for _, c := range rec.Captures[1:] {
		if c.Same != first.N || c.File != first.File {
			t.Errorf("capture %+v of an unchanged page, want it to share %s", c, first.File)
		}
	}
	files, _ := os.ReadDir(filepath.Join(dir, ShotsDir))
	if len(files) != 1 {
		t.Errorf("%d files for one unchanged page", len(files))
	}
}

func TestStartValidates(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(full, "x")
	for name, tc := range map[string]struct {
		dir  string
		opts Options
		want string
	}{
		"no dir":        {"", Options{}, "no recording directory"},
		"not empty":     {full, Options{}, "is not empty"},
		"a file":        {file, Options{}, "recording directory"},
		"negative caps": {filepath.Join(t.TempDir(), "r"), Options{MaxShots: -1}, "negative"},
	} {
		if _, err := Start(tc.dir, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
	dir := filepath.Join(t.TempDir(), "r")
	r, err := Start(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Event(evAt(time.Now(), "state", "free", "", "waiting", false, "")) // after Close: ignored
	r.Held(cdpproxy.HeldCommand{Method: "Input.insertText"})
	r.Snapshot()
	if err := r.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if rec := loadT(t, dir); len(rec.Events) != 0 || len(rec.Held) != 0 || len(rec.Notes) != 0 {
		t.Errorf("after Close: %+v", rec)
	}
}

// Flush returns once what was asked for is on disk, without closing.
func TestRecorderFlush(t *testing.T) {
	p := newPaintedTab(t)
	dir := filepath.Join(t.TempDir(), "rec")
	r, err := Start(dir, Options{Capture: p.capture, NavigationDelay: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	r.Event(evAt(t0, "state", "automation", "codrive-1", "open", true, "http://shop/"))
	r.Event(evAt(t0, "page", "automation", "codrive-1", "open", true, "http://shop/next"))
	r.Held(cdpproxy.HeldCommand{Method: "Input.insertText", Arrived: t0, Held: time.Second, Outcome: cdpproxy.HeldReleased})
	if err := r.Flush(ctxT(t, deadline)); err != nil {
		t.Fatal(err)
	}
	if n := len(readJSONLines(t, filepath.Join(dir, EventsFile))); n != 2 {
		t.Errorf("%d events on disk after Flush, want 2", n)
	}
	if n := len(readJSONLines(t, filepath.Join(dir, HeldFile))); n != 1 {
		t.Errorf("%d held on disk after Flush, want 1", n)
	}
	var events []int
	for _, l := range readJSONLines(t, filepath.Join(dir, CapturesFile)) {
		var c Capture
		if err := json.Unmarshal(l, &c); err != nil {
			t.Fatal(err)
		}
		events = append(events, c.Events...)
	}
	if fmt.Sprint(events) != "[0 1]" {
		t.Errorf("screenshots on disk after Flush are for events %v, want [0 1]", events)
	}
	if err := r.Close(ctxT(t, deadline)); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(ctxT(t, deadline)); err != nil {
		t.Errorf("Flush after Close: %v", err)
	}
}
