package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/internal/proctest"
)

// conn is the leanest CDP client for timing: one command at a time on the
// calling goroutine, events skipped.
type conn struct {
	ws *websocket.Conn
	id int64
}

var dialer = websocket.Dialer{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10, HandshakeTimeout: 10 * time.Second}

func dial(url string) (*conn, error) {
	ws, _, err := dialer.Dial(url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(0)
	return &conn{ws: ws}, nil
}

// call sends one command and reads until its answer, which it returns.
func (c *conn) call(method, session, params string) ([]byte, error) {
	c.id++
	id := strconv.FormatInt(c.id, 10)
	var b strings.Builder
	b.WriteString(`{"id":` + id + `,"method":"` + method + `"`)
	if session != "" {
		b.WriteString(`,"sessionId":"` + session + `"`)
	}
	if params != "" {
		b.WriteString(`,"params":` + params)
	}
	b.WriteString("}")
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(b.String())); err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	prefix := []byte(`{"id":` + id + `,`)
	for {
		_, m, err := c.ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if bytes.HasPrefix(m, prefix) {
			if bytes.Contains(m[:min(len(m), 64)], []byte(`"error"`)) {
				return nil, fmt.Errorf("%s: %s", method, m)
			}
			return m, nil
		}
	}
}

func (c *conn) close() { _ = c.ws.Close() }

// side is one way to reach the page: straight to Chromium or through codrive.
type side struct {
	name    string
	page    *conn // page socket
	browser *conn // browser socket with a flattened session on the page
	session string
}

type bench struct {
	cfg      config
	chromium *cdp.Browser
	site     string
	// bases are the sides' HTTP endpoints (Chromium's first), pids their
	// processes (0: Chromium, not measured), names their names.
	bases []string
	pids  []int
	names []string

	cpuLines []string
	target   string
	sides    []*side
}

// add adds a side.
func (b *bench) add(name, base string, pid int) {
	b.names = append(b.names, name)
	b.bases = append(b.bases, base)
	b.pids = append(b.pids, pid)
}

// pageWS is the bench's page through the proxy at base.
func (b *bench) pageWS(base string) string {
	return "ws://" + strings.TrimPrefix(base, "http://") + "/devtools/page/" + b.target
}

func (b *bench) setup(ctx context.Context) error {
	// A tab of the bench's own.
	root, err := dial(b.chromium.WebSocketURL)
	if err != nil {
		return err
	}
	defer root.close()
	res, err := root.call("Target.createTarget", "", `{"url":"`+b.site+`/still"}`)
	if err != nil {
		return err
	}
	var created struct {
		Result struct {
			TargetID string `json:"targetId"`
		} `json:"result"`
	}
	if err := json.Unmarshal(res, &created); err != nil {
		return err
	}
	b.target = created.Result.TargetID
	for i, base := range b.bases {
		host := strings.TrimPrefix(base, "http://")
		browser, err := browserWS(base)
		if err != nil {
			return err
		}
		// The byte relay passes Chromium's /json/version, which names
		// Chromium's own address: point it at the relay.
		browser = "ws://" + host + browser[strings.Index(browser, "/devtools/"):]
		sd := &side{name: b.names[i]}
		if sd.page, err = dial("ws://" + host + "/devtools/page/" + b.target); err != nil {
			return err
		}
		if sd.browser, err = dial(browser); err != nil {
			return err
		}
		res, err := sd.browser.call("Target.attachToTarget", "", `{"targetId":"`+b.target+`","flatten":true}`)
		if err != nil {
			return err
		}
		var att struct {
			Result struct {
				SessionID string `json:"sessionId"`
			} `json:"result"`
		}
		if err := json.Unmarshal(res, &att); err != nil {
			return err
		}
		sd.session = att.Result.SessionID
		b.sides = append(b.sides, sd)
	}
	return nil
}

func (b *bench) close() {
	for _, s := range b.sides {
		if s != nil {
			s.page.close()
			s.browser.close()
		}
	}
}

func browserWS(httpURL string) (string, error) {
	resp, err := http.Get(httpURL + "/json/version")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var v struct {
		WS string `json:"webSocketDebuggerUrl"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.WS == "" {
		return "", fmt.Errorf("%s/json/version: no webSocketDebuggerUrl (%v)", httpURL, err)
	}
	return v.WS, nil
}

// latencyCase is one command timed on both sides.
type latencyCase struct {
	name  string
	key   string
	call  func(s *side) error
	batch int
}

func (b *bench) latency(ctx context.Context) error {
	evaluate := func(expr string) string {
		return `{"expression":` + strconv.Quote(expr) + `,"returnByValue":true}`
	}
	cases := []latencyCase{
		{"Runtime.evaluate pure (1)", "pure", func(s *side) error {
			_, err := s.page.call("Runtime.evaluate", "", evaluate("1"))
			return err
		}, b.cfg.batch},
		{"Runtime.evaluate side-effecting", "effect", func(s *side) error {
			_, err := s.page.call("Runtime.evaluate", "", evaluate("globalThis.n=(globalThis.n|0)+1"))
			return err
		}, b.cfg.batch},
		{"1 MiB result", "1mib", func(s *side) error {
			m, err := s.page.call("Runtime.evaluate", "", evaluate("'x'.repeat(1<<20)"))
			if err == nil && len(m) < 1<<20 {
				err = fmt.Errorf("short result: %d bytes", len(m))
			}
			return err
		}, max(1, b.cfg.batch/5)},
		{"flattened session evaluate (1)", "flat", func(s *side) error {
			_, err := s.browser.call("Runtime.evaluate", s.session, evaluate("1"))
			return err
		}, b.cfg.batch},
	}
	fmt.Printf("%-31s %23s", "round trip", "direct µs p50/p90/p99")
	for _, n := range b.names[1:] {
		fmt.Printf(" | %23s", n+" ratio")
	}
	fmt.Printf(" | %s\n", "codrive µs p50/p90/p99")
	for _, c := range cases {
		if !b.want(c.key) {
			continue
		}
		// Warm-up: JIT, buffers, pools.
		for _, s := range b.sides {
			for range 3 * c.batch {
				if err := c.call(s); err != nil {
					return fmt.Errorf("%s, %s: %w", c.name, s.name, err)
				}
			}
		}
		lat := make([][]time.Duration, len(b.sides))
		cpu0 := b.cpu()
		for round := range b.cfg.rounds {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Each side goes first, second... and last in turn.
			for k := range b.sides {
				i := (k + round) % len(b.sides)
				for range c.batch {
					t0 := time.Now()
					if err := c.call(b.sides[i]); err != nil {
						return fmt.Errorf("%s, %s: %w", c.name, b.sides[i].name, err)
					}
					lat[i] = append(lat[i], time.Since(t0))
				}
			}
		}
		cpu1 := b.cpu()
		calls := time.Duration(len(lat[0]))
		line := fmt.Sprintf("%-31s", c.name)
		for i := 1; i < len(b.sides); i++ {
			line += fmt.Sprintf(" %s %5.1f µs", b.names[i], us((cpu1[i]-cpu0[i])/calls))
		}
		b.cpuLines = append(b.cpuLines, line)
		d := pct(lat[0])
		fmt.Printf("%-31s %7.0f %7.0f %7.0f", c.name, us(d[0]), us(d[1]), us(d[2]))
		for i := 1; i < len(b.sides); i++ {
			x := pct(lat[i])
			fmt.Printf(" | %7.3f %7.3f %7.3f", float64(x[0])/float64(d[0]), float64(x[1])/float64(d[1]), float64(x[2])/float64(d[2]))
		}
		p := pct(lat[len(lat)-1])
		fmt.Printf(" | %7.0f %7.0f %7.0f\n", us(p[0]), us(p[1]), us(p[2]))
	}
	fmt.Println("\nCPU time per call, user and system (10 ms resolution over each case):")
	for _, l := range b.cpuLines {
		fmt.Println(l)
	}
	return nil
}

// cpu is the CPU time used so far by each side's process.
func (b *bench) cpu() []time.Duration {
	t := make([]time.Duration, len(b.pids))
	for i, pid := range b.pids {
		if pid != 0 {
			t[i], _ = proctest.CPUTime(pid)
		}
	}
	return t
}

// pct is p50, p90, p99.
func pct(ds []time.Duration) [3]time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p int) time.Duration { return s[(len(s)-1)*p/100] }
	return [3]time.Duration{at(50), at(90), at(99)}
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// screencast compares frames per second, each side in alternating 1 s
// rounds on a tab of its own that animates (opened only now: it would load
// the machine during the round trips).
func (b *bench) screencast(ctx context.Context) error {
	root, err := dial(b.chromium.WebSocketURL)
	if err != nil {
		return err
	}
	defer root.close()
	res, err := root.call("Target.createTarget", "", `{"url":"`+b.site+`/animated"}`)
	if err != nil {
		return err
	}
	var created struct {
		Result struct {
			TargetID string `json:"targetId"`
		} `json:"result"`
	}
	if err := json.Unmarshal(res, &created); err != nil {
		return err
	}
	defer root.call("Target.closeTarget", "", `{"targetId":"`+created.Result.TargetID+`"}`)
	var urls []string
	for _, base := range b.bases {
		urls = append(urls, "ws://"+strings.TrimPrefix(base, "http://")+"/devtools/page/"+created.Result.TargetID)
	}
	frames := make([]int, len(urls))
	took := make([]time.Duration, len(urls))
	if _, _, err := castFor(urls[0], 500*time.Millisecond); err != nil { // warm-up
		return err
	}
	for round := range b.cfg.fpsRounds {
		for k := range urls {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			i := (k + round) % len(urls)
			n, d, err := castFor(urls[i], time.Second)
			if err != nil {
				return fmt.Errorf("screencast %s: %w", b.names[i], err)
			}
			frames[i] += n
			took[i] += d
		}
	}
	dfps := float64(frames[0]) / took[0].Seconds()
	fmt.Printf("%-31s direct %.1f fps", "screencast (each frame acked)", dfps)
	for i := 1; i < len(urls); i++ {
		fps := float64(frames[i]) / took[i].Seconds()
		fmt.Printf(" | %s %.1f fps, ratio %.3f", b.names[i], fps, fps/dfps)
	}
	fmt.Println()
	return nil
}

func castFor(url string, d time.Duration) (int, time.Duration, error) {
	c, err := dial(url)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	if _, err := c.call("Page.enable", "", ""); err != nil {
		return 0, 0, err
	}
	if _, err := c.call("Page.startScreencast", "", `{"format":"jpeg","quality":60,"maxWidth":800,"maxHeight":600}`); err != nil {
		return 0, 0, err
	}
	frames := 0
	start := time.Now()
	for time.Since(start) < d {
		_, m, err := c.ws.ReadMessage()
		if err != nil {
			return 0, 0, err
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
			return 0, 0, err
		}
		frames++
		c.id++
		ack := fmt.Sprintf(`{"id":%d,"method":"Page.screencastFrameAck","params":{"sessionId":%d}}`, c.id, ev.Params.SessionID)
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(ack)); err != nil {
			return 0, 0, err
		}
	}
	elapsed := time.Since(start)
	_, err = c.call("Page.stopScreencast", "", "")
	return frames, elapsed, err
}
