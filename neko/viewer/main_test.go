package viewer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/neko"
)

// deadline bounds each wait; generous, the machines are shared.
const deadline = 60 * time.Second

// stack is one real neko with a headful Chromium on its display showing
// testPage, shared by the tests that take turns on it (none runs in
// parallel: they would fight over host control).
var stack struct {
	once   sync.Once
	srv    nekoserver.Server
	chrome *cdptest.Chromium
	web    *httptest.Server
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if stack.chrome != nil {
		stack.chrome.Close()
	}
	if stack.srv != nil {
		stack.srv.Close()
	}
	if stack.web != nil {
		stack.web.Close()
	}
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

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}

// requireNeko skips (locally) or fails (CI=true) without real neko and
// Chromium; these tests need both.
func requireNeko(t *testing.T) {
	t.Helper()
	if !nekoserver.Selected(nekoserver.KindNeko) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s=%q leaves real neko out; CI must run the real tier", nekoserver.ServersEnv, os.Getenv(nekoserver.ServersEnv))
		}
		t.Skipf("%s=%s", nekoserver.ServersEnv, os.Getenv(nekoserver.ServersEnv))
	}
	nekoserver.Require(t, nekoserver.KindNeko)
	cdptest.Require(t)
}

// sharedStack starts the package's neko and Chromium on first use.
func sharedStack(t *testing.T) (nekoserver.Server, *cdptest.Chromium) {
	t.Helper()
	requireNeko(t)
	stack.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		stack.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, testPage)
		}))
		if stack.srv, stack.err = nekoserver.New(ctx, nekoserver.KindNeko, nekoserver.Options{}); stack.err != nil {
			return
		}
		stack.chrome, stack.err = cdptest.Start(ctx, cdptest.Options{
			Display:    stack.srv.Display(),
			URL:        stack.web.URL,
			ExtraFlags: []string{"--window-size=1280,720"},
		})
	})
	if stack.err != nil {
		t.Fatalf("shared neko and chromium: %v", stack.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("neko log (tail):\n%s", tail(stack.srv.Log(), 6000))
		}
	})
	return stack.srv, stack.chrome
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// login logs a user in (password for a user, or nekoserver.AdminPassword).
func login(t *testing.T, srv nekoserver.Server, name, password string) *neko.Client {
	t.Helper()
	c, err := neko.NewClient(srv.URL(), neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctxT(t), name, password); err != nil {
		t.Fatal(err)
	}
	return c
}

// join makes name a viewer and closes it on cleanup.
func join(t *testing.T, srv nekoserver.Server, name string) *Viewer {
	t.Helper()
	v, err := Join(ctxT(t), login(t, srv, name, nekoserver.UserPassword), Options{})
	if err != nil {
		t.Fatalf("%s joins: %v", name, err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}
