package cdpproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/gorilla/websocket"
)

// syncConn is the leanest CDP client for timing: one command at a time on
// the calling goroutine, events skipped.
type syncConn struct {
	conn *websocket.Conn
	id   int64
}

func dialSync(tb testing.TB, url string) *syncConn {
	tb.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		tb.Fatalf("dial %s: %v", url, err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &syncConn{conn: conn}
}

// call sends one command and reads until its response; it returns the
// response and every event that came before it.
func (s *syncConn) call(tb testing.TB, method, params string, onEvent func([]byte)) []byte {
	s.id++
	prefix := []byte(`{"id":` + strconv.FormatInt(s.id, 10) + `,`)
	msg := `{"id":` + strconv.FormatInt(s.id, 10) + `,"method":"` + method + `"`
	if params != "" {
		msg += `,"params":` + params
	}
	msg += "}"
	if err := s.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		tb.Fatalf("%s: %v", method, err)
	}
	for {
		_, b, err := s.conn.ReadMessage()
		if err != nil {
			tb.Fatalf("%s: %v", method, err)
		}
		if bytes.HasPrefix(b, prefix) {
			if bytes.Contains(b[:min(len(b), 64)], []byte(`"error"`)) {
				tb.Fatalf("%s: %s", method, b)
			}
			return b
		}
		if onEvent != nil {
			onEvent(b)
		}
	}
}

const evalOne = `{"expression":"1","returnByValue":true}`

// benchTargets opens one tab and returns its direct and proxied page URLs.
func benchTargets(b *testing.B, pageURL string) (c *cdptest.Chromium, p *Proxy, direct, proxied string) {
	b.Helper()
	c = chromium(b)
	id := c.NewTabT(b, pageURL)
	p = listen(b, c, Options{Controller: newGate(true)}) // an open gate: every acting command passes Begin
	return c, p, pageWS(c, id), "ws://" + hostport(p) + "/devtools/page/" + id
}

func benchEvaluate(b *testing.B, proxied bool) {
	_, _, direct, viaProxy := benchTargets(b, "about:blank")
	url := direct
	if proxied {
		url = viaProxy
	}
	s := dialSync(b, url)
	for range 50 {
		s.call(b, "Runtime.evaluate", evalOne, nil) // warm up
	}
	b.ResetTimer()
	for b.Loop() {
		s.call(b, "Runtime.evaluate", evalOne, nil)
	}
}

// BenchmarkEvaluateDirect is a Runtime.evaluate("1") round trip straight to
// Chromium.
func BenchmarkEvaluateDirect(b *testing.B) { benchEvaluate(b, false) }

// BenchmarkEvaluateProxy is the same round trip through the proxy, gate open.
func BenchmarkEvaluateProxy(b *testing.B) { benchEvaluate(b, true) }

// BenchmarkProxyVsDirect measures direct and proxied side by side in one run
// and reports the ratios: Runtime.evaluate("1") round trip p50/p99
// (alternating batches), screencast frames per second (alternating rounds)
// and memory per idle proxied connection. Run it once:
//
//	go test -run '^$' -bench BenchmarkProxyVsDirect -benchtime 1x ./codrive/cdpproxy/
func BenchmarkProxyVsDirect(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// Something changes every frame, so the screencast always has a frame to send.
		fmt.Fprint(w, `<!doctype html><body style="margin:0"><div id=d style="width:100vw;height:100vh;font:64px sans-serif"></div>
<script>let n=0;(function f(){n++;const d=document.getElementById('d');d.textContent=n;d.style.background='hsl('+(n%360)+',60%,60%)';requestAnimationFrame(f)})()</script>`)
	}))
	b.Cleanup(srv.Close)
	c, p, direct, proxied := benchTargets(b, "about:blank")

	for b.Loop() {
		// Round trips, alternating batches so that both sides see the same
		// machine load.
		ds, ps := dialSync(b, direct), dialSync(b, proxied)
		for range 100 {
			ds.call(b, "Runtime.evaluate", evalOne, nil)
			ps.call(b, "Runtime.evaluate", evalOne, nil)
		}
		var dl, pl []time.Duration
		for batch := range 300 {
			for i, s := range []*syncConn{ds, ps} {
				if batch%2 == 1 {
					s = []*syncConn{ps, ds}[i]
				}
				for range 10 {
					t0 := time.Now()
					s.call(b, "Runtime.evaluate", evalOne, nil)
					d := time.Since(t0)
					if s == ds {
						dl = append(dl, d)
					} else {
						pl = append(pl, d)
					}
				}
			}
		}
		dp50, dp99 := percentile(dl, 50), percentile(dl, 99)
		pp50, pp99 := percentile(pl, 50), percentile(pl, 99)
		b.ReportMetric(us(dp50), "direct-p50-us")
		b.ReportMetric(us(pp50), "proxy-p50-us")
		b.ReportMetric(us(dp99), "direct-p99-us")
		b.ReportMetric(us(pp99), "proxy-p99-us")
		b.ReportMetric(float64(pp50)/float64(dp50), "p50-ratio")
		b.ReportMetric(float64(pp99)/float64(dp99), "p99-ratio")

		// Screencast: frames acknowledged per second, each side twice for 1 s,
		// on a tab of its own opened only now (it animates, which would load
		// the machine during the round trips above).
		animated := c.NewTabT(b, srv.URL)
		directAnim, proxiedAnim := pageWS(c, animated), "ws://"+hostport(p)+"/devtools/page/"+animated
		var dFrames, pFrames int
		var dTime, pTime time.Duration
		for round := range 4 {
			url, frames, dur := directAnim, &dFrames, &dTime
			if round%2 == 1 {
				url, frames, dur = proxiedAnim, &pFrames, &pTime
			}
			n, d := screencast(b, url, time.Second)
			*frames += n
			*dur += d
		}
		dfps, pfps := float64(dFrames)/dTime.Seconds(), float64(pFrames)/pTime.Seconds()
		b.ReportMetric(dfps, "direct-fps")
		b.ReportMetric(pfps, "proxy-fps")
		b.ReportMetric(pfps/dfps, "fps-ratio")

		// Memory per idle connection: the proxied cost is what it adds over
		// the same number of direct connections (whose client side is in
		// both numbers).
		const n = 50
		pws, err := p.BrowserWSURL(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		idleConnMemory(b, c.WebSocketURL, n) // warm-up: buffer pools and
		idleConnMemory(b, pws, n)            // caches are not per connection
		dmem := idleConnMemory(b, c.WebSocketURL, n)
		pmem := idleConnMemory(b, pws, n)
		b.ReportMetric(float64(pmem-dmem)/n, "proxy-B/idle-conn")
		b.ReportMetric(float64(dmem)/n, "client-B/idle-conn")
	}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// screencast runs Page.startScreencast for about d on a fresh connection and
// counts the frames, acknowledging each as a real viewer does.
func screencast(b *testing.B, url string, d time.Duration) (int, time.Duration) {
	b.Helper()
	s := dialSync(b, url)
	defer s.conn.Close()
	s.call(b, "Page.enable", "", nil)
	s.call(b, "Page.startScreencast", `{"format":"jpeg","quality":60,"maxWidth":800,"maxHeight":600}`, nil)
	frames := 0
	start := time.Now()
	for time.Since(start) < d {
		_, m, err := s.conn.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.HasPrefix(m, []byte(`{"method":"Page.screencastFrame"`)) {
			continue
		}
		var ev struct {
			Params struct {
				SessionID int64 `json:"sessionId"`
			} `json:"params"`
		}
		if err := json.Unmarshal(m, &ev); err != nil {
			b.Fatal(err)
		}
		frames++
		s.id++
		ack := fmt.Sprintf(`{"id":%d,"method":"Page.screencastFrameAck","params":{"sessionId":%d}}`, s.id, ev.Params.SessionID)
		if err := s.conn.WriteMessage(websocket.TextMessage, []byte(ack)); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	s.call(b, "Page.stopScreencast", "", nil)
	return frames, elapsed
}

// idleConnMemory opens n idle connections to url (each made to answer once,
// so the relay is fully set up) and returns the heap and stack they hold.
func idleConnMemory(b *testing.B, url string, n int) int64 {
	b.Helper()
	measure := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc + m.StackInuse)
	}
	before := measure()
	conns := make([]*syncConn, 0, n)
	for range n {
		s := dialSync(b, url)
		s.call(b, "Browser.getVersion", "", nil)
		conns = append(conns, s)
	}
	after := measure()
	for _, s := range conns {
		s.conn.Close()
	}
	return after - before
}
