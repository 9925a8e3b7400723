package cdpproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// shared is the one Chromium the package's tests share (each test works in
// its own tab); tests that kill Chromium start their own.
var shared cdptest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections() // chromedp's remote allocator uses the default client
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// chromium returns the shared Chromium, skipping (or failing under CI) when
// there is none.
func chromium(t testing.TB) *cdptest.Chromium {
	t.Helper()
	return shared.Get(t)
}

// listen starts a proxy in front of c and closes it on cleanup.
func listen(t testing.TB, c *cdptest.Chromium, opts Options) *Proxy {
	t.Helper()
	opts.Upstream = c.URL
	if os.Getenv("CDPPROXY_LOGCDP") != "" {
		opts.LogCDP = true // debugging knob: message bodies in the -v log
	}
	if opts.Logger == nil && testing.Verbose() {
		opts.Logger = testLogger(t)
	}
	p, err := Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("close proxy: %v", err)
		}
	})
	return p
}

// testGate is the test Controller: a gate the test opens and closes.
type testGate struct {
	mu     sync.Mutex
	status Status
	opened chan struct{} // closed while automation holds control
	subs   map[chan Status]struct{}
	waits  chan string  // one entry per Begin that had to block
	begun  atomic.Int64 // Begin calls that let a command through
	sent   atomic.Int64 // of those, written to Chromium
	ended  atomic.Int64 // their done calls

	handoffs chan string // reasons of Handoff calls, as they start
}

func newGate(open bool) *testGate {
	g := &testGate{
		opened:   make(chan struct{}),
		subs:     make(map[chan Status]struct{}),
		waits:    make(chan string, 1000),
		handoffs: make(chan string, 100),
	}
	if open {
		g.status = Status{State: StateAutomation, Since: time.Now()}
		close(g.opened)
	} else {
		g.status = Status{State: StateHuman, Host: "alice-x7k2p", HostName: "alice", Since: time.Now()}
	}
	return g
}

// Close hands control to a person.
func (g *testGate) Close(reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.status.State == StateAutomation {
		g.opened = make(chan struct{})
	}
	g.setLocked(Status{State: StateHuman, Host: "alice-x7k2p", HostName: "alice", Since: time.Now(), Reason: reason})
}

// Open gives control back to automation.
func (g *testGate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.status.State != StateAutomation {
		close(g.opened)
	}
	g.setLocked(Status{State: StateAutomation, Since: time.Now()})
}

func (g *testGate) setLocked(st Status) {
	g.status = st
	for ch := range g.subs {
		select {
		case ch <- st:
		default:
		}
	}
}

// Begin checks the gate before ctx, like the arbiter: an ended ctx still
// passes an open gate.
func (g *testGate) Begin(ctx context.Context, kind StepKind) (Step, error) {
	g.mu.Lock()
	opened := g.opened
	blocked := g.status.State != StateAutomation
	g.mu.Unlock()
	if blocked {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		select {
		case g.waits <- "wait":
		default:
		}
		select {
		case <-opened:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	g.begun.Add(1)
	return &gateStep{g: g}, nil
}

// gateStep counts a command's Sent and Done, each once.
type gateStep struct {
	g          *testGate
	sent, done sync.Once
}

func (s *gateStep) Sent() { s.sent.Do(func() { s.g.sent.Add(1) }) }
func (s *gateStep) Done() {
	s.Sent()
	s.done.Do(func() { s.g.ended.Add(1) })
}

func (g *testGate) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.status
}

func (g *testGate) Subscribe() (<-chan Status, func()) {
	ch := make(chan Status, 64)
	g.mu.Lock()
	g.subs[ch] = struct{}{}
	g.mu.Unlock()
	return ch, func() {
		g.mu.Lock()
		delete(g.subs, ch)
		g.mu.Unlock()
	}
}

// Handoff closes the gate and returns when the test opens it again.
func (g *testGate) Handoff(ctx context.Context, reason string) error {
	g.Close(reason)
	g.mu.Lock()
	opened := g.opened
	g.mu.Unlock()
	g.handoffs <- reason
	select {
	case <-opened:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *testGate) subscribers() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.subs)
}

// waitBlocked waits until some Wait call blocks on the closed gate.
func (g *testGate) waitBlocked(t testing.TB) {
	t.Helper()
	select {
	case <-g.waits:
	case <-time.After(30 * time.Second):
		t.Fatal("no command reached the closed gate")
	}
}

// cdpMsg is any CDP message as a test reads it.
type cdpMsg struct {
	ID        int64           `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *cdpError       `json:"error,omitempty"`
	raw       []byte
}

// cdpClient is a minimal CDP client over gorilla/websocket: commands by id,
// every event kept in order.
type cdpClient struct {
	t    testing.TB
	conn *websocket.Conn

	wmu sync.Mutex
	mu  sync.Mutex
	id  int64
	res map[int64]chan cdpMsg
	evs []cdpMsg
	evc chan struct{} // closed and replaced on every event

	done    chan struct{}
	readErr error
}

func dialCDP(t testing.TB, url string, hdr http.Header) *cdpClient {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial %s: %v %s", url, err, status)
	}
	c := &cdpClient{t: t, conn: conn, res: make(map[int64]chan cdpMsg), evc: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *cdpClient) close() {
	_ = c.conn.Close()
	<-c.done
}

func (c *cdpClient) read() {
	defer close(c.done)
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			close(c.evc)
			c.evc = nil
			c.mu.Unlock()
			return
		}
		var m cdpMsg
		if err := json.Unmarshal(b, &m); err != nil {
			continue
		}
		m.raw = b
		c.mu.Lock()
		if m.Method == "" {
			if ch, ok := c.res[m.ID]; ok {
				ch <- m
				delete(c.res, m.ID)
			}
		} else {
			c.evs = append(c.evs, m)
			close(c.evc)
			c.evc = make(chan struct{})
		}
		c.mu.Unlock()
	}
}

// start sends a command and returns where its response will arrive.
func (c *cdpClient) start(method, session string, params any) (int64, <-chan cdpMsg) {
	c.t.Helper()
	c.mu.Lock()
	c.id++
	id := c.id
	ch := make(chan cdpMsg, 1)
	c.res[id] = ch
	c.mu.Unlock()
	m := map[string]any{"id": id, "method": method}
	if session != "" {
		m["sessionId"] = session
	}
	if params != nil {
		m["params"] = params
	}
	b, _ := json.Marshal(m)
	c.wmu.Lock()
	err := c.conn.WriteMessage(websocket.TextMessage, b)
	c.wmu.Unlock()
	if err != nil {
		c.t.Fatalf("send %s: %v", method, err)
	}
	return id, ch
}

// await waits for one response.
func (c *cdpClient) await(ch <-chan cdpMsg, what string) cdpMsg {
	c.t.Helper()
	select {
	case m := <-ch:
		return m
	case <-c.done:
		c.t.Fatalf("%s: connection ended: %v", what, c.readErr)
	case <-time.After(30 * time.Second):
		c.t.Fatalf("%s: no response", what)
	}
	return cdpMsg{}
}

// send sends a command and returns its full response.
func (c *cdpClient) send(method, session string, params any) cdpMsg {
	c.t.Helper()
	_, ch := c.start(method, session, params)
	return c.await(ch, method)
}

// call sends a command and returns its result, failing on an error.
func (c *cdpClient) call(method, session string, params any, result any) {
	c.t.Helper()
	m := c.send(method, session, params)
	if m.Error != nil {
		c.t.Fatalf("%s: error %d %s", method, m.Error.Code, m.Error.Message)
	}
	if result != nil {
		if err := json.Unmarshal(m.Result, result); err != nil {
			c.t.Fatalf("%s: decode %s: %v", method, m.Result, err)
		}
	}
}

// event waits for the first event, from index from on, that match accepts,
// and returns it and the index after it.
func (c *cdpClient) event(from int, match func(cdpMsg) bool) (cdpMsg, int) {
	c.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		c.mu.Lock()
		for i := from; i < len(c.evs); i++ {
			if match(c.evs[i]) {
				m := c.evs[i]
				c.mu.Unlock()
				return m, i + 1
			}
		}
		from = len(c.evs)
		wake := c.evc
		c.mu.Unlock()
		if wake == nil {
			c.t.Fatalf("connection ended while waiting for an event: %v", c.readErr)
		}
		select {
		case <-wake:
		case <-deadline:
			c.t.Fatal("event did not arrive")
		}
	}
}

func (c *cdpClient) eventsFrom(n int) []cdpMsg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cdpMsg(nil), c.evs[n:]...)
}

func (c *cdpClient) events() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.evs)
}

// evaluate runs expression in a session (or the connection's own target)
// and returns the result's value as JSON.
func (c *cdpClient) evaluate(session, expression string) string {
	c.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails json.RawMessage `json:"exceptionDetails"`
	}
	c.call("Runtime.evaluate", session, map[string]any{"expression": expression, "returnByValue": true, "awaitPromise": true}, &r)
	if r.ExceptionDetails != nil {
		c.t.Fatalf("evaluate %q threw: %s", expression, r.ExceptionDetails)
	}
	return string(r.Result.Value)
}

// attach opens a flat session on a target.
func (c *cdpClient) attach(targetID string) string {
	c.t.Helper()
	var r struct {
		SessionID string `json:"sessionId"`
	}
	c.call("Target.attachToTarget", "", map[string]any{"targetId": targetID, "flatten": true}, &r)
	return r.SessionID
}

// pageWS is the direct (not proxied) WebSocket URL of a page target.
func pageWS(c *cdptest.Chromium, targetID string) string {
	return "ws://" + strings.TrimPrefix(c.URL, "http://") + "/devtools/page/" + targetID
}

// testLogger logs into the test's output (go test -v only).
func testLogger(t testing.TB) *slog.Logger {
	w := &tLogWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tLogWriter struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (w *tLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// inFlight counts the commands sent to Chromium and not answered yet, on
// every connection.
func (p *Proxy) inFlight() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for r := range p.relays {
		n += r.ids.size()
	}
	return n
}
