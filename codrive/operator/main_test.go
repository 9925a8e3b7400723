package operator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

const testTimeout = 30 * time.Second

var shared cdptest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// chromium is the package's one real Chromium; each test works in a tab of
// its own.
func chromium(t *testing.T) *cdptest.Chromium {
	t.Helper()
	return shared.Get(t)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// rig is a Session on nekotest and a tab of the shared Chromium, with its
// CDP proxy, served by the operator endpoints on a loopback test server.
type rig struct {
	srv  *nekotest.Server
	s    *codrive.Session
	http *httptest.Server
	tab  string
}

func newRig(t *testing.T, opts operator.Options, mod func(*codrive.Options)) *rig {
	t.Helper()
	c := chromium(t)
	srv := nekotest.NewServer(nekotest.Options{HeartbeatPeriod: time.Second, DelayedDisconnect: 300 * time.Millisecond})
	t.Cleanup(srv.Close)
	tab := c.NewTabT(t, "about:blank")
	o := codrive.Options{
		NekoURL: srv.URL, User: "codrive", Password: "admin", CDPURL: c.URL, Target: tab,
		Listen: "127.0.0.1:0", ReclaimAfter: 50 * time.Millisecond, HandoffTimeout: testTimeout,
	}
	if mod != nil {
		mod(&o)
	}
	s, err := codrive.Attach(ctxT(t), o)
	if err != nil {
		t.Fatal(err)
	}
	opts.NoRuntimeMetrics = true
	h := httptest.NewServer(operator.Handler(s, opts))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
		h.Close()
	})
	return &rig{srv: srv, s: s, http: h, tab: tab}
}

// person is a viewer of the room with a socket, as a neko client is.
func person(t *testing.T, srv *nekotest.Server, name, password string) *neko.Client {
	t.Helper()
	c, err := neko.NewClient(srv.URL, neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctxT(t), name, password); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	conn, err := c.Connect(ctxT(t), neko.ConnOptions{NoReconnect: true})
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

// call makes one request and returns the status and body.
func call(t *testing.T, method, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// status decodes an action's answer.
func status(t *testing.T, body string) codrive.Status {
	t.Helper()
	var st codrive.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("not a Status: %v\n%s", err, body)
	}
	return st
}

// waitState waits until the session's status satisfies ok.
func waitState(t *testing.T, s *codrive.Session, what string, ok func(codrive.Status) bool) codrive.Status {
	t.Helper()
	st, err := s.WaitState(ctxT(t), ok)
	if err != nil {
		t.Fatalf("waiting for %s: %v (last status %+v)", what, err, st)
	}
	return st
}
