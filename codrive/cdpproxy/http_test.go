package cdpproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func getJSON(t testing.TB, url, host string, v any) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: decode %s: %v", url, body, err)
		}
	}
	if v != nil && resp.StatusCode != http.StatusOK {
		if e, ok := v.(*map[string]any); ok {
			_ = json.Unmarshal(body, e)
		}
	}
	return resp.StatusCode
}

func TestJSONEndpointsRewritten(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{})
	hp := hostport(p)
	upstreamHP := strings.TrimPrefix(c.URL, "http://")

	for _, path := range []string{"/json/version", "/json/version/"} {
		var v map[string]any
		if code := getJSON(t, p.URL()+path, "", &v); code != http.StatusOK {
			t.Fatalf("%s: status %d", path, code)
		}
		ws, _ := v["webSocketDebuggerUrl"].(string)
		if !strings.HasPrefix(ws, "ws://"+hp+"/devtools/browser/") {
			t.Errorf("%s: webSocketDebuggerUrl %q does not point at the proxy %s", path, ws, hp)
		}
		if v["Browser"] == nil || v["Protocol-Version"] == nil {
			t.Errorf("%s: Chromium's fields lost: %v", path, v)
		}
	}
	for _, path := range []string{"/json/list", "/json/list/", "/json", "/json/"} {
		var list []map[string]any
		if code := getJSON(t, p.URL()+path, "", &list); code != http.StatusOK {
			t.Fatalf("%s: status %d", path, code)
		}
		pages := 0
		for _, tg := range list {
			ws, _ := tg["webSocketDebuggerUrl"].(string)
			if !strings.HasPrefix(ws, "ws://"+hp+"/devtools/") {
				t.Errorf("%s: webSocketDebuggerUrl %q does not point at the proxy", path, ws)
			}
			fe, _ := tg["devtoolsFrontendUrl"].(string)
			if tg["type"] == "page" {
				pages++
				if !strings.Contains(fe, "ws="+hp+"/devtools/page/"+tg["id"].(string)) {
					t.Errorf("%s: devtoolsFrontendUrl %q: ws= not rewritten to %s", path, fe, hp)
				}
			}
			if strings.Contains(fe, upstreamHP) || strings.Contains(ws, upstreamHP) {
				t.Errorf("%s: Chromium's own address %s leaked: %v", path, upstreamHP, tg)
			}
		}
		if pages == 0 {
			t.Errorf("%s: no page target in %v", path, list)
		}
	}
	var proto struct {
		Domains []json.RawMessage `json:"domains"`
	}
	if code := getJSON(t, p.URL()+"/json/protocol", "", &proto); code != http.StatusOK || len(proto.Domains) == 0 {
		t.Errorf("/json/protocol: status %d, %d domains", code, len(proto.Domains))
	}

	// The DevTools frontend's own files are relayed too.
	if code := getJSON(t, p.URL()+"/devtools/inspector.html", "", nil); code != http.StatusOK {
		t.Errorf("/devtools/inspector.html: status %d", code)
	}
	// A WebSocket to a target that does not exist: Chromium's refusal, relayed.
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+hp+"/devtools/page/NOSUCHTARGET", nil); err == nil || resp == nil || resp.StatusCode < 400 {
		t.Errorf("WebSocket to a missing target: err %v resp %v", err, resp)
	} else {
		t.Logf("missing target: %s", resp.Status)
	}

	// Like Chromium, the URLs use the Host the client used.
	_, port, _ := strings.Cut(hp, ":")
	var v map[string]any
	if code := getJSON(t, p.URL()+"/json/version", "localhost:"+port, &v); code != http.StatusOK {
		t.Fatalf("Host localhost: status %d", code)
	}
	if ws, _ := v["webSocketDebuggerUrl"].(string); !strings.HasPrefix(ws, "ws://localhost:"+port+"/devtools/browser/") {
		t.Errorf("Host localhost:%s: webSocketDebuggerUrl %q", port, ws)
	}
}

func TestHostHeaderChecked(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{})
	_, port, _ := strings.Cut(hostport(p), ":")
	var e map[string]any
	if code := getJSON(t, p.URL()+"/json/version", "evil.example:"+port, &e); code != http.StatusForbidden {
		t.Fatalf("Host evil.example: status %d, want 403", code)
	}
	if msg, _ := e["error"].(string); !strings.Contains(msg, "not an IP address or localhost") {
		t.Errorf("refusal says %q", msg)
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "LOCALHOST"} {
		if code := getJSON(t, p.URL()+"/json/version", host, nil); code != http.StatusOK {
			t.Errorf("Host %s: status %d, want 200", host, code)
		}
	}
	// WebSockets too.
	_, resp, err := websocket.DefaultDialer.Dial(browserWS(t, p), http.Header{"Host": {"evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("WebSocket with Host evil.example: err %v resp %v, want 403", err, resp)
	}
}

func TestOriginRefusedWithoutToken(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{})
	ws := browserWS(t, p)
	for _, origin := range []string{"https://evil.example", "null", "http://localhost:1"} {
		_, resp, err := websocket.DefaultDialer.Dial(ws, http.Header{"Origin": {origin}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("WebSocket with Origin %s: err %v resp %v, want 403", origin, err, resp)
		}
	}
	// The DevTools frontend relayed from the proxy itself is same-origin.
	cl := dialCDP(t, ws, http.Header{"Origin": {"http://" + hostport(p)}})
	cl.call("Browser.getVersion", "", nil, nil)
}

func TestTokenRequiredOffLoopback(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	if _, err := Listen(Options{Upstream: c.URL, Addr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "Token") {
		t.Fatalf("Listen on 0.0.0.0 without a token: err %v, want one asking for a Token", err)
	}
	if _, err := Listen(Options{Upstream: c.URL, Addr: ":0"}); err == nil {
		t.Fatal("Listen on :0 without a token: no error")
	}
	p := listen(t, c, Options{Addr: "0.0.0.0:0", Token: "s3cr+t"})
	if !strings.HasPrefix(p.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s", p.URL())
	}
	var e map[string]any
	if code := getJSON(t, p.URL()+"/json/version", "", &e); code != http.StatusUnauthorized {
		t.Fatalf("no token: status %d, want 401", code)
	}
	if code := getJSON(t, p.URL()+"/json/version?token=wrong", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: status %d, want 401", code)
	}
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+hostport(p)+"/devtools/browser/x", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("WebSocket without token: err %v resp %v, want 401", err, resp)
	}
	var v map[string]any
	if code := getJSON(t, p.URL()+"/json/version?token=s3cr%2Bt", "", &v); code != http.StatusOK {
		t.Fatalf("?token=: status %d", code)
	}
	ws, _ := v["webSocketDebuggerUrl"].(string)
	if !strings.HasSuffix(ws, "?token=s3cr%2Bt") {
		t.Fatalf("webSocketDebuggerUrl %q does not carry the token", ws)
	}
	cl := dialCDP(t, ws, nil)
	cl.call("Browser.getVersion", "", nil, nil)
	// Playwright's form of http://ADDR?token=T (see unmangle): read as
	// meant with the right token only, and nowhere but at the root.
	v = nil
	if code := getJSON(t, p.URL()+"/?token=s3cr%2Bt/json/version/", "", &v); code != http.StatusOK || !strings.HasSuffix(fmt.Sprint(v["webSocketDebuggerUrl"]), "?token=s3cr%2Bt") {
		t.Fatalf("Playwright's ?token=T/json/version/: status %d, %v", code, v)
	}
	for _, u := range []string{"/?token=s3cr%2Bx/json/version/", "/?token=s3cr%2B/json/version/", "/json/?token=s3cr%2Bt/json/version/", "/?token=s3cr%2Bt/json/version/&token=x"} {
		if code := getJSON(t, p.URL()+u, "", nil); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", u, code)
		}
	}

	req, _ := http.NewRequest(http.MethodGet, p.URL()+"/json/list", nil)
	req.Header.Set("Authorization", "Bearer s3cr+t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Bearer: status %d", resp.StatusCode)
	}
	// With a token, a browser's Origin is no longer the question.
	bws, err := p.BrowserWSURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cl2 := dialCDP(t, bws, http.Header{"Origin": {"https://devtools.example"}})
	cl2.call("Browser.getVersion", "", nil, nil)
}

func TestListenValidates(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{},
		{Upstream: "ftp://127.0.0.1:9222"},
		{Upstream: "http://"},
		{Upstream: "http://127.0.0.1:9222", Addr: "nonsense"},
		{Upstream: "http://127.0.0.1:9222", HoldTimeout: -time.Second},
	} {
		if p, err := Listen(o); err == nil {
			p.Close()
			t.Errorf("Listen(%+v): no error", o)
		}
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: bind one and close it.
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := ln.URL
	ln.Close()
	p, err := Listen(Options{Upstream: dead})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var e map[string]any
	if code := getJSON(t, p.URL()+"/json/version", "", &e); code != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", code)
	}
	if msg, _ := e["error"].(string); !strings.Contains(msg, "not reachable") {
		t.Errorf("error %q", msg)
	}
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+hostport(p)+"/devtools/browser/x", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Errorf("WebSocket: err %v resp %v, want 502", err, resp)
	}
	if _, err := p.BrowserWSURL(context.Background()); err == nil {
		t.Error("BrowserWSURL: no error")
	}
}

func TestHTTPCodrive(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g})
	var st Status
	if code := getJSON(t, p.URL()+"/codrive/state", "", &st); code != http.StatusOK || st.State != StateAutomation {
		t.Fatalf("state: %d %+v", code, st)
	}
	post := func(body string) (int, string) {
		resp, err := http.Post(p.URL()+"/codrive/handoff", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	type result struct {
		code int
		body string
	}
	done := make(chan result, 1)
	go func() {
		code, body := post(`{"reason":"login","timeout":"30s"}`)
		done <- result{code, body}
	}()
	if r := <-g.handoffs; r != "login" {
		t.Fatalf("reason %q", r)
	}
	select {
	case r := <-done:
		t.Fatalf("handoff answered before release: %+v", r)
	default:
	}
	g.Open()
	r := <-done
	if r.code != http.StatusOK || !strings.Contains(r.body, `"state":"automation"`) {
		t.Fatalf("handoff: %+v", r)
	}
	go func() {
		code, body := post(`{"reason":"x","timeout":"100ms"}`)
		done <- result{code, body}
	}()
	<-g.handoffs
	r = <-done
	if r.code != http.StatusGatewayTimeout || !strings.Contains(r.body, "timed out") {
		t.Fatalf("handoff timeout: %+v", r)
	}
	g.Open()
	if code, body := post(`{"reason":`); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d %s", code, body)
	}
	if code, body := post(`{"timeout":"soon"}`); code != http.StatusBadRequest {
		t.Fatalf("bad timeout: %d %s", code, body)
	}
}

// Issue 12 item 9: a handoff asked for without a timeout blocked for ever
// when nobody came. Both paths end after Options.HandoffTimeout, saying so.
func TestHandoffWithoutTimeoutIsBounded(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g, HandoffTimeout: 300 * time.Millisecond})

	resp, err := http.Post(p.URL()+"/codrive/handoff", "application/json", strings.NewReader(`{"reason":"nobody comes"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if r := <-g.handoffs; r != "nobody comes" {
		t.Fatalf("reason %q", r)
	}
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(b), "timed out after 300ms") {
		t.Fatalf("POST /codrive/handoff without a timeout: %d %s", resp.StatusCode, b)
	}
	g.Open()

	bws, err := p.BrowserWSURL(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ws := dialCDP(t, bws, nil)
	m := ws.send("Codrive.handoff", "", map[string]any{"reason": "nobody comes either"})
	<-g.handoffs
	if m.Error == nil || !strings.Contains(m.Error.Message, "timed out after 300ms") {
		t.Fatalf("Codrive.handoff without a timeout: %s", m.raw)
	}
}
