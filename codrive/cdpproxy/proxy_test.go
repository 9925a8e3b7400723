package cdpproxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/gorilla/websocket"
)

const testPageHTML = `<!doctype html><html><head><title>codrive test</title></head><body>
<button id="b" style="width:200px;height:80px" onclick="window.clicks=(window.clicks||0)+1;(window.log=window.log||[]).push('click '+window.clicks);document.getElementById('out').textContent='clicked '+window.clicks">go</button>
<div id="out">idle</div>
<input id="in">
</body></html>`

// testServer serves the test page.
func testServer(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, testPageHTML)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// openPage opens a tab of its own on the test page, loaded, and returns its
// target id and a direct (unproxied) client to it: the test's view from
// outside the proxy.
func openPage(t testing.TB, c *cdptest.Chromium) (string, *cdpClient) {
	t.Helper()
	srv := testServer(t)
	id := c.NewTabT(t, "about:blank")
	dc := dialCDP(t, pageWS(c, id), nil)
	dc.call("Page.enable", "", nil, nil)
	n := dc.events()
	dc.call("Page.navigate", "", map[string]any{"url": srv.URL}, nil)
	dc.event(n, func(m cdpMsg) bool { return m.Method == "Page.loadEventFired" })
	return id, dc
}

func hostport(p *Proxy) string { return strings.TrimPrefix(p.URL(), "http://") }

func browserWS(t testing.TB, p *Proxy) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := p.BrowserWSURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestBrowserGetVersionThroughProxy(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{Controller: newGate(false)})
	cl := dialCDP(t, browserWS(t, p), nil)
	var v struct {
		Product string `json:"product"`
	}
	cl.call("Browser.getVersion", "", nil, &v) // observing: passes with the gate closed
	if !strings.Contains(v.Product, "Chrome") {
		t.Errorf("product %q", v.Product)
	}
	if s := p.Stats(); s.Connections != 1 || s.Passed < 1 || s.Held != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestPassThroughWithoutController(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, dc := openPage(t, c)
	p := listen(t, c, Options{})
	cl := dialCDP(t, browserWS(t, p), nil)
	s := cl.attach(id)
	if got := cl.evaluate(s, "window.touched = 'yes'"); got != `"yes"` {
		t.Fatalf("evaluate: %s", got)
	}
	if got := dc.evaluate("", "window.touched"); got != `"yes"` {
		t.Fatalf("page did not see it: %s", got)
	}
	m := cl.send("Codrive.getState", "", nil)
	if m.Error == nil || m.Error.Message != errNoController {
		t.Fatalf("Codrive.getState without arbiter: %+v", m)
	}
	if code := getJSON(t, p.URL()+"/codrive/state", "", nil); code != http.StatusServiceUnavailable {
		t.Errorf("/codrive/state without arbiter: %d", code)
	}
}

// TestHeldInOrder: with a person in control, acting commands wait in
// order; observing ones, screenshots and events keep flowing; opening the
// gate releases them in order.
func TestHeldInOrder(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, dc := openPage(t, c)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g})
	cl := dialCDP(t, browserWS(t, p), nil)
	s := cl.attach(id)
	cl.call("Runtime.enable", s, nil, nil)
	cl.evaluate(s, "window.seq = []; 0") // gate open: passes at once
	begun := g.begun.Load()

	g.Close("")
	_, a := cl.start("Runtime.evaluate", s, map[string]any{"expression": "window.seq.push('a')"})
	g.waitBlocked(t) // the proxy tried it side-effect-free, V8 refused, so it waits
	_, b := cl.start("Runtime.evaluate", s, map[string]any{"expression": "window.seq.push('b')"})
	_, k := cl.start("Input.dispatchKeyEvent", s, map[string]any{"type": "char", "text": "x"})
	// An observing command after them passes, which also proves both were
	// read and queued.
	var doc struct {
		Root struct {
			NodeID int64 `json:"nodeId"`
		} `json:"root"`
	}
	cl.call("DOM.getDocument", s, nil, &doc)
	if doc.Root.NodeID == 0 {
		t.Fatal("DOM.getDocument during a hold: no root")
	}
	var shot struct {
		Data string `json:"data"`
	}
	cl.call("Page.captureScreenshot", s, map[string]any{"format": "png"}, &shot)
	if len(shot.Data) < 100 {
		t.Fatal("screenshot during a hold: empty")
	}
	for _, ch := range []<-chan cdpMsg{a, b, k} {
		select {
		case m := <-ch:
			t.Fatalf("a held command was answered during the hold: %s", m.raw)
		default:
		}
	}
	if got := dc.evaluate("", "window.seq.join(',')"); got != `""` {
		t.Fatalf("page state changed during the hold: seq %s", got)
	}
	if st := p.Stats(); st.Held != 3 {
		t.Fatalf("Stats.Held = %d, want 3 (%+v)", st.Held, st)
	}
	// Events flow during the hold.
	n := cl.events()
	dc.evaluate("", "console.log('during-hold'); 0")
	cl.event(n, func(m cdpMsg) bool {
		return m.Method == "Runtime.consoleAPICalled" && m.SessionID == s && strings.Contains(string(m.Params), "during-hold")
	})

	g.Open()
	ra := cl.await(a, "a")
	rb := cl.await(b, "b")
	rk := cl.await(k, "key")
	if ra.Error != nil || rb.Error != nil || rk.Error != nil {
		t.Fatalf("released commands failed: %s %s %s", ra.raw, rb.raw, rk.raw)
	}
	if !strings.Contains(string(ra.Result), `"value":1`) || !strings.Contains(string(rb.Result), `"value":2`) {
		t.Fatalf("out of order: a %s, b %s", ra.Result, rb.Result)
	}
	if got := dc.evaluate("", "window.seq.join(',')"); got != `"a,b"` {
		t.Fatalf("seq %s, want a,b", got)
	}
	if st := p.Stats(); st.Held != 0 || st.HeldTotal < 3 || st.TimedOut != 0 {
		t.Errorf("stats after release %+v", st)
	}
	if g.begun.Load() < begun+3 {
		t.Errorf("Begin let %d commands through for 3 released commands", g.begun.Load()-begun)
	}
	// A step ends when the proxy reads Chromium's answer, before the client
	// gets it: with every answer in, none is in flight.
	if b, snt, e := g.begun.Load(), g.sent.Load(), g.ended.Load(); b != e || b != snt {
		t.Errorf("%d commands passed Begin, %d sent, %d done", b, snt, e)
	}
}

// TestSideEffectFreeEvaluationPasses: reads pass during a hold because V8
// proves them side-effect-free; writes wait.
func TestSideEffectFreeEvaluationPasses(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, dc := openPage(t, c)
	g := newGate(false)
	p := listen(t, c, Options{Controller: g})
	cl := dialCDP(t, browserWS(t, p), nil)
	s := cl.attach(id)

	if got := cl.evaluate(s, "document.title"); got != `"codrive test"` {
		t.Fatalf("document.title during a hold: %s", got)
	}
	if got := cl.evaluate(s, "document.querySelector('#b').getBoundingClientRect().width"); got != "200" {
		t.Fatalf("geometry during a hold: %s", got)
	}
	// An exception of the expression itself is its result, not a hold.
	m := cl.send("Runtime.evaluate", s, map[string]any{"expression": "null.x"})
	if m.Error != nil || !strings.Contains(string(m.Result), "TypeError") {
		t.Fatalf("throwing read: %s", m.raw)
	}
	_, w := cl.start("Runtime.evaluate", s, map[string]any{"expression": "document.title = 'changed'", "returnByValue": true})
	g.waitBlocked(t)
	if got := dc.evaluate("", "document.title"); got != `"codrive test"` {
		t.Fatalf("the write ran during the hold: title %s", got)
	}
	g.Open()
	if r := cl.await(w, "write"); r.Error != nil || !strings.Contains(string(r.Result), `"changed"`) {
		t.Fatalf("write after release: %s", r.raw)
	}
	if st := p.Stats(); st.Held != 0 || st.Passed < 4 {
		t.Errorf("stats %+v", st)
	}
}

// TestIsolatedWorldPasses: evaluations in an isolated world (Playwright's
// utility world) are observing, even when they touch the DOM.
func TestIsolatedWorldPasses(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, dc := openPage(t, c)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g})
	cl := dialCDP(t, browserWS(t, p), nil)
	s := cl.attach(id)
	cl.call("Runtime.enable", s, nil, nil)
	var world struct {
		ID int64 `json:"executionContextId"`
	}
	cl.call("Page.createIsolatedWorld", s, map[string]any{"frameId": id, "worldName": "utility"}, &world)
	g.Close("")

	var r struct {
		Result struct {
			ObjectID string          `json:"objectId"`
			Value    json.RawMessage `json:"value"`
		} `json:"result"`
	}
	cl.call("Runtime.evaluate", s, map[string]any{"expression": "document.body.dataset.one = '1'; document.body", "contextId": world.ID}, &r)
	if r.Result.ObjectID == "" {
		t.Fatal("no object from the isolated world")
	}
	cl.call("Runtime.callFunctionOn", s, map[string]any{"functionDeclaration": "function() { this.dataset.two = '2'; return 2 }", "objectId": r.Result.ObjectID, "returnByValue": true}, &r)
	if string(r.Result.Value) != "2" {
		t.Fatalf("callFunctionOn in the isolated world: %s", r.Result.Value)
	}
	if got := dc.evaluate("", "document.body.dataset.one + document.body.dataset.two"); got != `"12"` {
		t.Fatalf("isolated-world evaluations did not run during the hold: %s", got)
	}
	// The same in the main world waits.
	var main struct {
		Result struct {
			ObjectID string `json:"objectId"`
		} `json:"result"`
	}
	cl.call("Runtime.evaluate", s, map[string]any{"expression": "document.body"}, &main) // a read: passes
	_, w := cl.start("Runtime.callFunctionOn", s, map[string]any{"functionDeclaration": "function() { this.dataset.three = '3' }", "objectId": main.Result.ObjectID})
	g.waitBlocked(t)
	g.Open()
	if m := cl.await(w, "main-world call"); m.Error != nil {
		t.Fatalf("main-world call after release: %s", m.raw)
	}
	if got := dc.evaluate("", "document.body.dataset.three"); got != `"3"` {
		t.Fatalf("main-world call: %s", got)
	}
	if st := p.Stats(); st.HeldTotal < 1 {
		t.Errorf("stats %+v", st)
	}
}

var holdErrRE = regexp.MustCompile(`^codrive: a person holds control \(session alice\) since \d\d:\d\d:\d\d; command Input\.dispatchMouseEvent held \d+(\.\d+)?m?s`)

func TestHoldTimeoutError(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	g := newGate(false)
	p := listen(t, c, Options{Controller: g, HoldTimeout: 300 * time.Millisecond})
	cl := dialCDP(t, browserWS(t, p), nil)
	s := cl.attach(id)
	move := map[string]any{"type": "mouseMoved", "x": 5, "y": 5}
	ida, a := cl.start("Input.dispatchMouseEvent", s, move)
	_, b := cl.start("Input.dispatchMouseEvent", s, move)
	ra := cl.await(a, "a")
	if ra.Error == nil || ra.Error.Code != -32000 || !holdErrRE.MatchString(ra.Error.Message) {
		t.Fatalf("timed-out command: %s", ra.raw)
	}
	if ra.ID != ida || ra.SessionID != s {
		t.Fatalf("error response not addressed to the command: %s", ra.raw)
	}
	rb := cl.await(b, "b")
	if rb.Error == nil || !strings.Contains(rb.Error.Message, "command Input.dispatchMouseEvent held") {
		t.Fatalf("command queued behind it: %s", rb.raw)
	}
	// The connection is still usable.
	cl.call("Browser.getVersion", "", nil, nil)
	if st := p.Stats(); st.TimedOut != 2 || st.Held != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCodriveDomain(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g})
	cl := dialCDP(t, browserWS(t, p), nil)

	var st Status
	cl.call("Codrive.getState", "", nil, &st)
	if st.State != StateAutomation {
		t.Fatalf("getState: %+v", st)
	}
	// On a page session: answered on that session (Chromium would answer
	// "'Codrive.getState' wasn't found": the result proves it never got it).
	s := cl.attach(id)
	m := cl.send("Codrive.getState", s, nil)
	if m.Error != nil || m.SessionID != s || !strings.Contains(string(m.Result), `"state":"automation"`) {
		t.Fatalf("getState on a session: %s", m.raw)
	}
	m = cl.send("Codrive.nope", s, nil)
	if m.Error == nil || m.Error.Code != -32601 || !strings.Contains(m.Error.Message, "codrive proxy answers") || m.SessionID != s {
		t.Fatalf("unknown Codrive method: %s", m.raw)
	}

	// enable: the current state at once, then every change, per session.
	n := cl.events()
	cl.call("Codrive.enable", s, nil, nil)
	ev, n := cl.event(n, func(m cdpMsg) bool { return m.Method == "Codrive.stateChanged" })
	if ev.SessionID != s || !strings.Contains(string(ev.Params), `"state":"automation"`) {
		t.Fatalf("first stateChanged: %s", ev.raw)
	}
	g.Close("captcha")
	ev, _ = cl.event(n, func(m cdpMsg) bool { return m.Method == "Codrive.stateChanged" })
	var changed Status
	_ = json.Unmarshal(ev.Params, &changed)
	if ev.SessionID != s || changed.State != StateHuman || changed.Reason != "captcha" || changed.HostName != "alice" {
		t.Fatalf("stateChanged on close: %s", ev.raw)
	}
	cl.call("Codrive.disable", s, nil, nil)
	n = cl.events()
	cl.call("Codrive.enable", "", nil, nil) // the browser session instead
	_, n = cl.event(n, func(m cdpMsg) bool { return m.Method == "Codrive.stateChanged" && m.SessionID == "" })
	g.Open()
	ev, _ = cl.event(n, func(m cdpMsg) bool { return m.Method == "Codrive.stateChanged" })
	// One goroutine writes a change to every enabled session in turn, so a
	// session still enabled would have got it before or after this one, in
	// the same burst; the disabled one must be absent from it.
	if ev.SessionID != "" {
		t.Fatalf("stateChanged on a disabled session: %s", ev.raw)
	}
	if !strings.Contains(string(ev.Params), `"state":"automation"`) {
		t.Fatalf("stateChanged on open: %s", ev.raw)
	}
	cl.call("Browser.getVersion", "", nil, nil)
	for _, e := range cl.eventsFrom(n) {
		if e.Method == "Codrive.stateChanged" && e.SessionID == s {
			t.Fatalf("event after disable: %s", e.raw)
		}
	}
	if g.subscribers() != 1 {
		t.Errorf("%d subscriptions for one connection", g.subscribers())
	}
}

func TestCodriveHandoff(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g})
	cl := dialCDP(t, browserWS(t, p), nil)

	_, h := cl.start("Codrive.handoff", "", map[string]any{"reason": "solve the captcha", "timeout": 60})
	select {
	case r := <-g.handoffs:
		if r != "solve the captcha" {
			t.Fatalf("reason %q", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Handoff not called")
	}
	// Everything else keeps flowing meanwhile.
	cl.call("Browser.getVersion", "", nil, nil)
	var st Status
	cl.call("Codrive.getState", "", nil, &st)
	if st.State != StateHuman || st.Reason != "solve the captcha" {
		t.Fatalf("state during handoff %+v", st)
	}
	select {
	case m := <-h:
		t.Fatalf("handoff resolved before the person released: %s", m.raw)
	default:
	}
	g.Open()
	if m := cl.await(h, "handoff"); m.Error != nil || string(m.Result) != "{}" {
		t.Fatalf("handoff: %s", m.raw)
	}

	// Timeout: an error response.
	_, h = cl.start("Codrive.handoff", "", map[string]any{"reason": "never", "timeout": 0.2})
	<-g.handoffs
	if m := cl.await(h, "handoff with timeout"); m.Error == nil || !strings.Contains(m.Error.Message, "timed out") {
		t.Fatalf("handoff timeout: %s", m.raw)
	}
	g.Open()
	if m := cl.send("Codrive.handoff", "", map[string]any{"timeout": "soon"}); m.Error == nil || m.Error.Code != -32602 {
		t.Fatalf("bad params: %s", m.raw)
	}
}

func TestChromiumKilled(t *testing.T) {
	t.Parallel()
	c := cdptest.StartT(t, cdptest.Options{})
	p := listen(t, c, Options{Controller: newGate(true)})
	cl := dialCDP(t, browserWS(t, p), nil)
	cl.call("Browser.getVersion", "", nil, nil)
	c.Kill()
	select {
	case <-cl.done:
	case <-time.After(30 * time.Second):
		t.Fatal("client not closed after Chromium died")
	}
	var ce *websocket.CloseError
	if !errors.As(cl.readErr, &ce) || ce.Code != websocket.CloseInternalServerErr || !strings.Contains(ce.Text, "Chromium") {
		t.Fatalf("client saw %v, want close 1011 naming Chromium", cl.readErr)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Connections != 0 {
		t.Errorf("stats after close %+v", st)
	}
}

func TestClientDisconnectEndsRelay(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{})
	cl := dialCDP(t, browserWS(t, p), nil)
	cl.call("Browser.getVersion", "", nil, nil)
	if n := p.Stats().Connections; n != 1 {
		t.Fatalf("connections %d", n)
	}
	cl.close()
	deadline := time.Now().Add(30 * time.Second)
	for p.Stats().Connections != 0 {
		if time.Now().After(deadline) {
			t.Fatal("relay still open after the client left")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCloseEndsClients(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	g := newGate(false)
	p := listen(t, c, Options{Controller: g})
	cl := dialCDP(t, browserWS(t, p), nil)
	cl.call("Codrive.enable", "", nil, nil)
	_, held := cl.start("Target.createTarget", "", map[string]any{"url": "about:blank"})
	g.waitBlocked(t)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	<-cl.done
	var ce *websocket.CloseError
	if !errors.As(cl.readErr, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("client saw %v, want close 1001", cl.readErr)
	}
	select {
	case m := <-held:
		t.Fatalf("held command answered: %s", m.raw)
	default:
	}
	if g.subscribers() != 0 {
		t.Error("subscription left after Close")
	}
	if st := p.Stats(); st.Held != 0 || st.Connections != 0 {
		t.Errorf("stats after Close %+v", st)
	}
	if code := func() int {
		_, err := http.Get(p.URL() + "/json/version")
		if err == nil {
			return 1
		}
		return 0
	}(); code != 0 {
		t.Error("still serving after Close")
	}
}

// TestBadClientInput: malformed messages reach Chromium, which answers
// them with its protocol errors; nothing panics or stalls the connection.
func TestBadClientInput(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{Controller: newGate(false)})
	cl := dialCDP(t, browserWS(t, p), nil)
	for _, raw := range []string{`not json`, `[]`, `{"id":1001}`, `{"id":"x","method":"Input.dispatchMouseEvent"}`, `{"method":5}`, `{"id":1002,"method":"Codrive.handoff","params":"x"}`, `{"id":1003,"method":"Runtime.evaluate","params":[1]}`} {
		cl.wmu.Lock()
		err := cl.conn.WriteMessage(websocket.TextMessage, []byte(raw))
		cl.wmu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Still usable, and in order: this answer comes after whatever the
	// garbage got.
	cl.call("Browser.getVersion", "", nil, nil)
	if p.Stats().Connections != 1 {
		t.Fatalf("stats %+v", p.Stats())
	}
}
