package operator_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
)

// Probes and scrapes never need the token; everything under /codrive/
// does, by query or by header, and a wrong one is refused.
func TestTokenRules(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	r := newRig(t, operator.Options{Token: token}, nil)
	u := r.http.URL
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := call(t, "GET", u+path, ""); code != 200 {
			t.Errorf("GET %s without a token: %d %s", path, code, body)
		}
	}
	for _, c := range []struct {
		method, path string
		header       []string
		want         int
	}{
		{"GET", "/codrive/state", nil, 401},
		{"GET", "/codrive/state?token=wrong", nil, 401},
		{"GET", "/codrive/state", []string{"Authorization", "Bearer wrong"}, 401},
		{"GET", "/codrive/events", nil, 401},
		{"POST", "/codrive/pause", nil, 401},
		{"POST", "/codrive/take", []string{"Authorization", "Basic " + token}, 401},
		{"GET", "/codrive/state?token=" + token, nil, 200},
		{"GET", "/codrive/state", []string{"Authorization", "Bearer " + token}, 200},
		{"GET", "/codrive/state", []string{"Authorization", "bearer " + token}, 200},
		// A token makes the Host and Origin checks moot: a page cannot know it.
		{"GET", "/codrive/state?token=" + token, []string{"Host", "codrive.example"}, 200},
	} {
		code, body := call(t, c.method, u+c.path, "", c.header...)
		if code != c.want {
			t.Errorf("%s %s %v: %d, want %d\n%s", c.method, c.path, c.header, code, c.want, body)
		}
		if code == 401 && strings.Contains(body, token) {
			t.Errorf("the refusal shows the token: %s", body)
		}
	}
	code, body := call(t, "GET", u+"/codrive/state?token="+token, "")
	var st operator.State
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("state: %d %v\n%s", code, err, body)
	}
	if !st.Ready || st.Status.Session == "" || !st.Connection.Connected || !st.Page.Attached || len(st.Participants) == 0 {
		t.Fatalf("state of a ready session: %+v", st)
	}
}

// Without a token (loopback only) /codrive/* refuses what a web page in a
// local browser could send; the probes still answer anything.
func TestNoTokenRefusesWebPages(t *testing.T) {
	t.Parallel()
	r := newRig(t, operator.Options{}, nil)
	u := r.http.URL
	host := strings.TrimPrefix(u, "http://")
	for _, c := range []struct {
		header []string
		want   int
	}{
		{nil, 200},
		{[]string{"Host", "localhost"}, 200},
		{[]string{"Origin", "http://" + host}, 200},
		{[]string{"Host", "rebound.example:80"}, 403},
		{[]string{"Origin", "http://evil.example"}, 403},
		{[]string{"Origin", "null"}, 403},
	} {
		if code, body := call(t, "GET", u+"/codrive/state", "", c.header...); code != c.want {
			t.Errorf("GET /codrive/state %v: %d, want %d\n%s", c.header, code, c.want, body)
		}
	}
	if code, _ := call(t, "POST", u+"/codrive/pause", "", "Origin", "http://evil.example"); code != 403 {
		t.Errorf("a cross-site POST /codrive/pause: %d, want 403", code)
	}
	if st := r.s.Status(); st.Paused {
		t.Fatal("a refused request paused automation")
	}
	if code, _ := call(t, "GET", u+"/readyz", "", "Host", "codrive.default.svc:8081"); code != 200 {
		t.Errorf("GET /readyz by a service name: %d, want 200", code)
	}
}

func TestListenNeedsATokenBeyondLoopback(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:0", "", true},
		{"localhost:0", "", true},
		{"[::1]:0", "", true},
		{"0.0.0.0:0", "", false},
		{":0", "", false},
		{"0.0.0.0:0", "t", true},
		{"no-port", "t", false},
	} {
		err := operator.CheckAddr(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, token %v): %v", c.addr, c.token != "", err)
		}
		if c.ok && strings.HasPrefix(c.addr, "[::1]") {
			continue // the machine may have no IPv6 loopback
		}
		ln, err := operator.Listen(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("Listen(%q, token %v): %v", c.addr, c.token != "", err)
		}
		if err == nil {
			ln.Close()
		} else if c.token == "" && !strings.Contains(err.Error(), "token") {
			t.Errorf("Listen(%q) refused without saying a token is needed: %v", c.addr, err)
		}
	}
}

// Before its Session exists (a sidecar waiting for Chromium and neko) the
// Operator answers its probes: alive, not ready and why, codrive_ready 0.
func TestStartingOperator(t *testing.T) {
	t.Parallel()
	o := operator.New(operator.Options{NoRuntimeMetrics: true})
	h := httptest.NewServer(o)
	defer h.Close()
	defer o.Close()
	o.SetWaiting("waiting for chromium at http://127.0.0.1:9222: connection refused")
	if code, body := call(t, "GET", h.URL+"/healthz", ""); code != 200 {
		t.Errorf("healthz while starting: %d %s", code, body)
	}
	code, body := call(t, "GET", h.URL+"/readyz", "")
	if code != 503 || !strings.Contains(body, "waiting for chromium") {
		t.Errorf("readyz while starting: %d %q", code, body)
	}
	if code, body := call(t, "GET", h.URL+"/codrive/state", ""); code != 503 || !strings.Contains(body, "waiting for chromium") {
		t.Errorf("state while starting: %d %s", code, body)
	}
	if code, _ := call(t, "POST", h.URL+"/codrive/request", ""); code != 503 {
		t.Errorf("request while starting: %d", code)
	}
	fams := scrape(t, h.URL)
	if got := value(fams, "codrive_ready"); got != 0 {
		t.Errorf("codrive_ready while starting = %v", got)
	}
	for name := range fams {
		if name != "codrive_ready" {
			t.Errorf("while starting /metrics has %s: only codrive_ready is known", name)
		}
	}
	if code, body := call(t, "GET", h.URL+"/nope", ""); code != 404 || !strings.Contains(body, "/readyz") {
		t.Errorf("unknown path: %d %s", code, body)
	}
	if code, _ := call(t, "DELETE", h.URL+"/readyz", ""); code != 405 {
		t.Errorf("DELETE /readyz: %d, want 405", code)
	}
}

// /readyz follows the Session: 503 with the reason once neko is gone,
// 200 again once codrive is back.
func TestReadyzFollowsNeko(t *testing.T) {
	t.Parallel()
	r := newRig(t, operator.Options{}, nil)
	if code, body := call(t, "GET", r.http.URL+"/readyz", ""); code != 200 || strings.TrimSpace(body) != "ready" {
		t.Fatalf("readyz: %d %q", code, body)
	}
	r.srv.Stop()
	waitState(t, r.s, "disconnected", func(st codrive.Status) bool { return st.State == codrive.StateDisconnected })
	code, body := call(t, "GET", r.http.URL+"/readyz", "")
	if code != 503 || !strings.Contains(body, "not connected to neko") {
		t.Fatalf("readyz without neko: %d %q", code, body)
	}
	if code, _ := call(t, "GET", r.http.URL+"/healthz", ""); code != 200 {
		t.Fatalf("healthz while reconnecting: %d (a reconnecting codrive is alive)", code)
	}
	if err := r.srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitState(t, r.s, "back", func(st codrive.Status) bool { return st.State != codrive.StateDisconnected })
	eventually(t, "ready again", func() bool { return r.s.Ready() == nil })
	if code, body := call(t, "GET", r.http.URL+"/readyz", ""); code != 200 {
		t.Fatalf("readyz after neko came back: %d %q", code, body)
	}
	fams := scrape(t, r.http.URL)
	if got := value(fams, "codrive_reconnects_total", "peer", "neko", "cause", "restarted"); got != 1 {
		t.Errorf("reconnects{neko,restarted} = %v after a neko restart", got)
	}
}
