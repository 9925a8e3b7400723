package codrive

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"github.com/playwright-community/playwright-go"

	"github.com/codrive/codrive/cdp/cdptest"
)

// clickPage serves a page whose button counts clicks, and records every
// click server-side so tests can read the count without touching the page.
type clickPage struct {
	*httptest.Server
	clicks atomic.Int64
}

func newClickPage(t *testing.T) *clickPage {
	p := &clickPage{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/click" {
			p.clicks.Add(1)
			return
		}
		fmt.Fprint(w, `<!doctype html><title>co-drive</title>
<button id=b onclick="fetch('/click');this.textContent='clicked '+(++window.n)">click</button>
<script>window.n=0</script>`)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *clickPage) waitClicks(t *testing.T, n int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d clicks", n), func() bool { return p.clicks.Load() >= n })
}

// eventually polls cond until it holds, failing after testTimeout. For
// state that has no event to wait on (a server-side counter, proxy stats).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(testTimeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func startSession(t *testing.T, c *cdptest.Chromium, cfg Options) (*Session, <-chan Event) {
	t.Helper()
	cfg.CDPURL, cfg.Listen = c.URL, "127.0.0.1:0"
	cfg.reattachMin, cfg.reattachMax = 50*time.Millisecond, 200*time.Millisecond
	s, err := Attach(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs, unsub := s.Subscribe()
	t.Cleanup(func() {
		if err := s.Close(ctxT(t)); err != nil {
			t.Errorf("close session: %v", err)
		}
		unsub()
	})
	return s, evs
}

// waitHeld waits until the proxy holds n acting commands.
func waitHeld(t *testing.T, s *Session, n int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d held command(s)", n), func() bool { return s.proxy.Stats().Held == n })
}

// A chromedp script through the proxy: it acquires control by acting, a
// person takes over, the script's next click waits (a screenshot does not),
// and the click lands after the person releases.
func TestChromedpThroughProxyWaitsForPerson(t *testing.T) {
	t.Parallel()
	c := cdptest.StartT(t, cdptest.Options{})
	srv := newNeko(t, nil)
	site := newClickPage(t)
	s, evs := startSession(t, c, testConfig(srv, PolicyYield))

	page, err := s.Chromedp(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer page.Detach()
	run := func(a chromedp.Action[chromedp.Void]) error {
		ctx, cancel := context.WithTimeout(page.Context(), testTimeout)
		defer cancel()
		return chromedp.Do(ctx, a)
	}
	if err := run(chromedp.Navigate(site.URL)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "automation acquired by acting", isState(StateAutomation))
	if err := run(chromedp.Click(chromedp.CSS("#b"))); err != nil {
		t.Fatal(err)
	}
	site.waitClicks(t, 1)

	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "alice hosts", isState(StateHuman))

	clicked := make(chan error, 1)
	go func() { clicked <- run(chromedp.Click(chromedp.CSS("#b"))) }()
	waitHeld(t, s, 1)
	if n := site.clicks.Load(); n != 1 {
		t.Fatalf("a click went through while alice drives: %d clicks", n)
	}
	// Observing passes during the hold.
	sctx, cancel := context.WithTimeout(page.Context(), testTimeout)
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	cancel()
	if err != nil || len(png) == 0 {
		t.Fatalf("screenshot during the hold: %v", err)
	}

	if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-clicked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the held click never completed")
	}
	site.waitClicks(t, 2)
	if st := s.proxy.Stats(); st.HeldTotal < 1 || st.Held != 0 {
		t.Fatalf("proxy stats %+v", st)
	}
}

// Playwright through the proxy, and Codrive.handoff from a CDP session:
// the script asks a person for help and resumes when they release.
func TestPlaywrightHandoffThroughProxy(t *testing.T) {
	t.Parallel()
	c := cdptest.StartT(t, cdptest.Options{})
	pw := cdptest.Playwright(t)
	srv := newNeko(t, nil)
	site := newClickPage(t)
	s, evs := startSession(t, c, testConfig(srv, PolicyYield))

	browser, err := pw.Chromium.ConnectOverCDP(s.ProxyURL())
	if err != nil {
		t.Fatal(err)
	}
	defer browser.Close()
	pages := browser.Contexts()[0].Pages()
	if len(pages) != 1 {
		t.Fatalf("want the one existing tab, got %d pages", len(pages))
	}
	page := pages[0]
	if _, err := page.Goto(site.URL); err != nil {
		t.Fatal(err)
	}
	if err := page.Locator("#b").Click(); err != nil {
		t.Fatal(err)
	}
	site.waitClicks(t, 1)
	nextEvent(t, evs, "automation", isState(StateAutomation))

	cdpSession, err := page.Context().NewCDPSession(page)
	if err != nil {
		t.Fatal(err)
	}
	state, err := cdpSession.Send("Codrive.getState", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := state.(map[string]any); !ok || m["state"] != "automation" {
		t.Fatalf("Codrive.getState: %#v", state)
	}

	alice := newPerson(t, srv, "alice", false)
	handedOff := make(chan error, 1)
	go func() {
		_, err := cdpSession.Send("Codrive.handoff", map[string]any{"reason": "solve the CAPTCHA", "timeout": 30})
		handedOff <- err
	}()
	nextEvent(t, evs, "released for the handoff", isState(StateFree))
	if res, err := alice.client.RequestControl(ctxT(t)); err != nil || res.String() == "" {
		t.Fatalf("alice request: %v", err)
	}
	nextEvent(t, evs, "alice hosts", isState(StateHuman))
	select {
	case err := <-handedOff:
		t.Fatalf("handoff resolved while alice still drives: %v", err)
	default:
	}
	if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-handedOff:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Codrive.handoff did not resolve after the release")
	}
	if err := page.Locator("#b").Click(playwright.LocatorClickOptions{Timeout: playwright.Float(10000)}); err != nil {
		t.Fatal(err)
	}
	site.waitClicks(t, 2)
}

// Chromium dies: the session says so, keeps neko, and attaches again when
// a browser answers on the same port.
func TestSessionReattachesAfterChromiumRestart(t *testing.T) {
	t.Parallel()
	cdptest.Require(t)
	c, err := cdptest.Start(context.Background(), cdptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := newNeko(t, nil)
	cfg := testConfig(srv, PolicyYield)
	cfg.CDPURL = c.URL
	cfg.reattachMin, cfg.reattachMax = 50*time.Millisecond, 200*time.Millisecond
	s, err := Attach(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs, unsub := s.Subscribe()
	defer func() {
		_ = s.Close(ctxT(t))
		unsub()
	}()
	port := c.Port
	c.Kill()
	gone := nextEvent(t, evs, "chromium gone", func(ev Event) bool { return ev.Kind == "browser" })
	if !strings.Contains(gone.Reason, "re-attaching") || gone.Page == nil || gone.Page.Attached {
		t.Fatalf("gone event: %+v", gone)
	}
	if s.Status().State == StateDisconnected {
		t.Fatal("losing Chromium must not lose neko")
	}
	c2, err := cdptest.Start(context.Background(), cdptest.Options{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Port != port {
		t.Fatalf("could not restart Chromium on port %d (got %d)", port, c2.Port)
	}
	back := nextEvent(t, evs, "attached again", func(ev Event) bool { return ev.Kind == "browser" && strings.Contains(ev.Reason, "attached again") })
	if back.Page == nil || !back.Page.Attached {
		t.Fatalf("back event: %+v", back)
	}
	if p := s.currentPage(); p == nil || p.Info().TargetID == "" {
		t.Fatal("no page after re-attach")
	}
}

func TestScriptHelpersNeedProxy(t *testing.T) {
	t.Parallel()
	s := &Session{}
	if _, err := s.Chromedp(context.Background()); err != ErrNoProxy {
		t.Fatalf("Chromedp without proxy: %v", err)
	}
	if _, err := s.ProxyWSURL(context.Background()); err != ErrNoProxy {
		t.Fatalf("ProxyWSURL without proxy: %v", err)
	}
	if s.ProxyURL() != "" || s.ProxyStats() != (ProxyStats{}) {
		t.Fatalf("a session without proxy reports one: %q %+v", s.ProxyURL(), s.ProxyStats())
	}
}

// Policy finish-step with a proxied script: a command already forwarded to
// Chromium (here an evaluation awaiting a slow fetch) finishes before the
// person gets control.
func TestFinishStepWaitsForProxiedCommand(t *testing.T) {
	t.Parallel()
	c := cdptest.StartT(t, cdptest.Options{})
	srv := newNeko(t, nil)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			once.Do(func() { close(started) })
			<-release
			fmt.Fprint(w, "done")
			return
		}
		fmt.Fprint(w, `<!doctype html><title>slow</title>`)
	}))
	defer site.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	s, evs := startSession(t, c, testConfig(srv, PolicyFinishStep))

	cl := dialProxy(t, s)
	page := cl.attachPage(t)
	cl.call(t, 1, "Page.navigate", page, map[string]any{"url": site.URL})
	nextEvent(t, evs, "automation", isState(StateAutomation))
	// Forwarded at once (automation hosts), answered only once /slow returns.
	cl.send(t, 2, "Runtime.evaluate", page, map[string]any{"expression": "fetch('/slow').then(r => r.text())", "awaitPromise": true})
	select {
	case <-started:
	case <-time.After(testTimeout):
		t.Fatal("the evaluation never reached the page")
	}

	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	req := nextEvent(t, evs, "request", func(ev Event) bool { return ev.Kind == "request" })
	if req.Status.Go {
		t.Fatal("the gate must close at the request")
	}
	y := nextEvent(t, evs, "finish-step waiting", func(ev Event) bool { return ev.Kind == "yield" })
	if !strings.Contains(y.Reason, "1 automation step(s) in flight") {
		t.Fatalf("yield event: %q", y.Reason)
	}
	if st, err := alice.client.ControlStatus(ctxT(t)); err != nil || st.HostID != s.Status().Session {
		t.Fatalf("control moved while a command was in flight: %+v %v", st, err)
	}
	close(release)
	if got := cl.wait(t, 2); !strings.Contains(string(got), `"done"`) {
		t.Fatalf("evaluation result %s", got)
	}
	if err := srv.WaitHost(ctxT(t), alice.id()); err != nil {
		t.Fatal(err)
	}
}

// cdpClient is a bare CDP client over gorilla, for commands whose timing a
// test must control.
type cdpClient struct {
	ws      *websocket.Conn
	mu      sync.Mutex
	answers map[int]chan json.RawMessage
}

func dialProxy(t *testing.T, s *Session) *cdpClient {
	t.Helper()
	ws, err := s.proxy.BrowserWSURL(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &cdpClient{ws: conn, answers: map[int]chan json.RawMessage{}}
	t.Cleanup(func() { conn.Close() })
	go func() {
		for {
			var m struct {
				ID int `json:"id"`
			}
			_, raw, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if json.Unmarshal(raw, &m) != nil || m.ID == 0 {
				continue
			}
			c.mu.Lock()
			ch := c.answers[m.ID]
			c.mu.Unlock()
			if ch != nil {
				ch <- raw
			}
		}
	}()
	return c
}

func (c *cdpClient) send(t *testing.T, id int, method, session string, params any) {
	t.Helper()
	c.mu.Lock()
	c.answers[id] = make(chan json.RawMessage, 1)
	c.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	if err := c.ws.WriteJSON(msg); err != nil {
		t.Fatal(err)
	}
}

func (c *cdpClient) wait(t *testing.T, id int) json.RawMessage {
	t.Helper()
	c.mu.Lock()
	ch := c.answers[id]
	c.mu.Unlock()
	select {
	case raw := <-ch:
		return raw
	case <-time.After(testTimeout):
		t.Fatalf("no answer to command %d", id)
	}
	return nil
}

func (c *cdpClient) call(t *testing.T, id int, method, session string, params any) json.RawMessage {
	t.Helper()
	c.send(t, id, method, session, params)
	return c.wait(t, id)
}

// attachPage attaches to the first page target and returns its session id.
func (c *cdpClient) attachPage(t *testing.T) string {
	t.Helper()
	var got struct {
		Result struct {
			TargetInfos []struct{ TargetID, Type string }
		}
	}
	if err := json.Unmarshal(c.call(t, 100, "Target.getTargets", "", map[string]any{}), &got); err != nil {
		t.Fatal(err)
	}
	for _, ti := range got.Result.TargetInfos {
		if ti.Type == "page" {
			var att struct{ Result struct{ SessionID string } }
			if err := json.Unmarshal(c.call(t, 101, "Target.attachToTarget", "", map[string]any{"targetId": ti.TargetID, "flatten": true}), &att); err != nil {
				t.Fatal(err)
			}
			return att.Result.SessionID
		}
	}
	t.Fatal("no page target")
	return ""
}

// Bad options are refused before anything connects, each with a reason.
func TestAttachRefusesBadOptions(t *testing.T) {
	t.Parallel()
	ok := Options{NekoURL: "http://127.0.0.1:1", User: "bot"}
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.NekoURL = "" }, "neko URL is required"},
		{func(o *Options) { o.User = "" }, "neko user is required"},
		{func(o *Options) { o.Listen = "127.0.0.1:0" }, "needs a CDP URL"},
		{func(o *Options) { o.Policy = "sometimes" }, "unknown policy"},
		{func(o *Options) { o.HoldTimeout = -time.Second }, "HoldTimeout must not be negative"},
		{func(o *Options) { o.MaxMessage = -1 }, "MaxMessage must not be negative"},
	} {
		o := ok
		tc.edit(&o)
		s, err := Attach(ctxT(t), o)
		if s != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v (session %v)", tc.want, err, s != nil)
		}
	}
}
