package timeline

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/codrive/cdpproxy"
)

// openGate is a Controller whose gate is always open: every acting command
// passes Begin at once, as while automation drives.
type openGate struct{}

func (openGate) Begin(context.Context, cdpproxy.StepKind) (cdpproxy.Step, error) {
	return noStep{}, nil
}
func (openGate) Status() cdpproxy.Status {
	return cdpproxy.Status{State: cdpproxy.StateAutomation, Gate: "open"}
}
func (openGate) Subscribe() (<-chan cdpproxy.Status, func()) {
	return make(chan cdpproxy.Status), func() {}
}
func (openGate) Handoff(context.Context, string) error { return nil }

// rtConn times CDP round trips: one command at a time, events skipped.
type rtConn struct {
	conn *websocket.Conn
	id   int64
}

func dialRT(b *testing.B, url string) *rtConn {
	b.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatalf("dial %s: %v", url, err)
	}
	b.Cleanup(func() { conn.Close() })
	return &rtConn{conn: conn}
}

func (c *rtConn) evaluate(b *testing.B) time.Duration {
	c.id++
	prefix := []byte(`{"id":` + strconv.FormatInt(c.id, 10) + `,`)
	msg := `{"id":` + strconv.FormatInt(c.id, 10) + `,"method":"Runtime.evaluate","params":{"expression":"1","returnByValue":true}}`
	t0 := time.Now()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		b.Fatal(err)
	}
	for {
		_, m, err := c.conn.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if bytes.HasPrefix(m, prefix) {
			return time.Since(t0)
		}
	}
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// BenchmarkRecordingOverhead measures what recording costs the proxy's
// hot path: Runtime.evaluate("1") round trips through two proxies in front
// of the same tab, one plain and one whose OnHeld feeds a Recorder, in
// alternating phases (ABBA, so the shared machine's drift falls on both
// alike). In the recorded phases the Recorder is fed a run, by the clock
// of those phases: "busy", busier than any real run (a navigation every
// 100 ms, a host change every 500 ms, 200 held commands a second), or
// "typical" (a navigation a second, a host change every 5 s, 20 held
// commands a second). Every navigation and host change asks for a real
// screenshot of that same tab over the Recorder's own DevTools connection.
// A recorded phase goes on, still timed, until Flush says the Recorder
// caught up, so no screenshot's cost escapes the measure. It reports p50
// and p99 and their ratios, and the median of the per-round p50 ratios.
// Run it once:
//
//	go test -run '^$' -bench BenchmarkRecordingOverhead -benchtime 1x ./codrive/timeline/
func BenchmarkRecordingOverhead(b *testing.B) {
	b.Run("busy", func(b *testing.B) { benchOverhead(b, 100*time.Millisecond) })
	b.Run("typical", func(b *testing.B) { benchOverhead(b, time.Second) })
}

func benchOverhead(b *testing.B, every time.Duration) {
	c := chromium(b)
	site := shopSite(b)
	tab := c.NewTabT(b, site.URL+"/order")
	shots, err := AttachTab(context.Background(), c.URL, TabOptions{Target: tab})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = shots.Close() })
	listen := func(onHeld func(cdpproxy.HeldCommand)) string {
		p, err := cdpproxy.Listen(cdpproxy.Options{Upstream: c.URL, Controller: openGate{}, OnHeld: onHeld})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Close() })
		return "ws://" + strings.TrimPrefix(p.URL(), "http://") + "/devtools/page/" + tab
	}

	for b.Loop() {
		rec, err := Start(filepath.Join(b.TempDir(), "rec"), Options{Capture: shots.Capture, MaxShots: 1 << 20, MaxBytes: 1 << 40})
		if err != nil {
			b.Fatal(err)
		}
		plain, recorded := dialRT(b, listen(nil)), dialRT(b, listen(rec.Held))
		for range 200 { // warm up both
			plain.evaluate(b)
			recorded.evaluate(b)
		}
		f := &feeder{rec: rec, every: every, t0: time.Now()}
		f.event()
		if err := rec.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		const rounds, perPhase = 24, 1000
		var pl, rl []time.Duration
		var ratios []float64
		for round := range rounds {
			var pr, rr []time.Duration
			plainPhase := func() {
				for range perPhase {
					pr = append(pr, plain.evaluate(b))
				}
			}
			recPhase := func() {
				for range perPhase {
					d := recorded.evaluate(b)
					rr = append(rr, d)
					f.advance(d)
				}
				caught := make(chan error, 1)
				go func() { caught <- rec.Flush(context.Background()) }()
				for {
					select {
					case err := <-caught:
						if err != nil {
							b.Fatal(err)
						}
						return
					default:
						rr = append(rr, recorded.evaluate(b))
					}
				}
			}
			if round%2 == 0 {
				plainPhase()
				recPhase()
			} else {
				recPhase()
				plainPhase()
			}
			pl, rl = append(pl, pr...), append(rl, rr...)
			ratios = append(ratios, float64(pct(rr, 50))/float64(pct(pr, 50)))
		}
		if err := rec.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		cnt := rec.Counts()
		slices.Sort(ratios)
		pp50, rp50, pp99, rp99 := pct(pl, 50), pct(rl, 50), pct(pl, 99), pct(rl, 99)
		b.ReportMetric(float64(pp50.Microseconds()), "plain-p50-us")
		b.ReportMetric(float64(rp50.Microseconds()), "recorded-p50-us")
		b.ReportMetric(float64(rp50)/float64(pp50), "p50-ratio")
		b.ReportMetric(ratios[len(ratios)/2], "median-round-p50-ratio")
		b.ReportMetric(float64(pp99.Microseconds()), "plain-p99-us")
		b.ReportMetric(float64(rp99.Microseconds()), "recorded-p99-us")
		b.ReportMetric(float64(rp99)/float64(pp99), "p99-ratio")
		b.ReportMetric(float64(cnt.Captures-cnt.CapturesFailed), "screenshots")
		b.ReportMetric(float64(cnt.Events), "events")
		b.ReportMetric(f.recorded.Seconds(), "recorded-s")
	}
}

// feeder plays a run into a Recorder by the clock of the recorded phases:
// a navigation every tick, a host change every five, 20 held commands
// every tick.
type feeder struct {
	rec      *Recorder
	every    time.Duration
	t0       time.Time
	recorded time.Duration // time spent in recorded phases so far
	next     time.Duration
	n        int
}

func (f *feeder) advance(d time.Duration) {
	f.recorded += d
	for f.recorded >= f.next {
		f.event()
		f.next += f.every
	}
}

func (f *feeder) event() {
	f.n++
	now := f.t0.Add(f.recorded)
	url := fmt.Sprintf("http://shop/%d", f.n)
	f.rec.Event(evAt(now, "page", "automation", "codrive-1", "open", true, url))
	if f.n%5 == 0 {
		state, host, gate := "human", "alice-1", "waiting"
		if f.n%10 == 0 {
			state, host, gate = "automation", "codrive-1", "open"
		}
		f.rec.Event(evAt(now, "state", state, host, gate, state == "automation", url))
	}
	for range 20 {
		f.rec.Held(cdpproxy.HeldCommand{Method: "Input.dispatchMouseEvent", Session: "S", Conn: 1, Arrived: now, Held: 40 * time.Millisecond, Outcome: cdpproxy.HeldReleased})
	}
}

// BenchmarkRecorderHeld is the cost of one OnHeld call on the relay's
// goroutine: what a held command's end costs the proxy. A lock and an
// append: the encoding is the writer goroutine's. At this rate the writer
// falls behind and calls past the in-memory bound take the drop path,
// which costs the same (dropped-share says how many did).
func BenchmarkRecorderHeld(b *testing.B) {
	rec, err := Start(filepath.Join(b.TempDir(), "rec"), Options{MaxHeld: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	h := cdpproxy.HeldCommand{Method: "Input.dispatchMouseEvent", Session: "S", Conn: 1, Arrived: time.Now(), Held: 40 * time.Millisecond, Outcome: cdpproxy.HeldReleased}
	for b.Loop() {
		rec.Held(h)
	}
	b.StopTimer()
	c := rec.Counts()
	b.ReportMetric(float64(c.HeldDropped)/float64(c.Held+c.HeldDropped), "dropped-share")
	if err := rec.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRecorderEvent is the cost of one Event call on the caller's
// goroutine (screenshots off; the same drop path as above past the bound).
func BenchmarkRecorderEvent(b *testing.B) {
	rec, err := Start(filepath.Join(b.TempDir(), "rec"), Options{MaxEvents: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	ev := evAt(time.Now(), "state", "automation", "codrive-1", "open", true, "http://shop/")
	for b.Loop() {
		rec.Event(ev)
	}
	b.StopTimer()
	c := rec.Counts()
	b.ReportMetric(float64(c.EventsDropped)/float64(c.Events+c.EventsDropped), "dropped-share")
	if err := rec.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}
