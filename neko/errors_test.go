package neko

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// These tests cover what nekotest cannot produce: no server at all, and a
// server that is not neko. Everything neko-shaped is tested against nekotest.

func TestNewClientValidatesURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"ftp://x", "scheme must be http or https"},
		{"::", "invalid base URL"},
		{"127.0.0.1:8080", "scheme must be http or https"},
		{"http://", "no host"},
		{"http://:8080", "no host"},
		{"http://user:pw@host", "user info"},
		{"http://host/?token=x", "query"},
	} {
		_, err := NewClient(tc.in, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewClient(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("NewClient(%q) error leaks the password: %v", tc.in, err)
		}
	}
	c, err := NewClient("https://neko.example.com/prefix/", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != "https://neko.example.com/prefix" {
		t.Fatalf("BaseURL = %q", c.BaseURL())
	}
}

func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	base := closedPortURL(t)
	c, err := NewClient(base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Login(ctx, "bot", "s3cret-pw")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Login error = %v, want ErrUnreachable", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "neko unreachable at "+base+": ") || !strings.Contains(msg, "connection refused") {
		t.Fatalf("message = %q", msg)
	}
	if strings.Contains(msg, "s3cret-pw") {
		t.Fatalf("message leaks the password: %q", msg)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 0 || ae.Op != "login" || ae.Err == nil {
		t.Fatalf("APIError = %+v", ae)
	}
	if err := c.Health(ctx); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Health = %v", err)
	}
	// Cancellation is the caller's doing, not neko's state.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Health(cctx); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) {
		t.Fatalf("Health(cancelled) = %v", err)
	}
}

func TestConnectWithoutLogin(t *testing.T) {
	t.Parallel()
	c, err := NewClient(closedPortURL(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Connect(context.Background(), ConnOptions{}); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("Connect = %v, want ErrNotLoggedIn", err)
	}
}

func garbageServer(t *testing.T, status int, contentType, body string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGarbageServer500HTML(t *testing.T) {
	t.Parallel()
	srv := garbageServer(t, 500, "text/html; charset=utf-8", "<html><body><h1>502 Bad Gateway</h1> nginx</body></html>")
	c, err := NewClient(srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Login(ctx, "bot", "s3cret-pw")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 {
		t.Fatalf("Login = %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"neko: POST /api/login: 500 Internal Server Error", "text/html", "502 Bad Gateway"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cret-pw") {
		t.Fatalf("message leaks the password: %q", msg)
	}
	for _, s := range []error{ErrUnauthorized, ErrForbidden, ErrUnreachable, ErrNotFound} {
		if errors.Is(err, s) {
			t.Errorf("a 500 matches %v", s)
		}
	}
	if _, err := c.Stats(ctx); err == nil || !strings.Contains(err.Error(), "GET /api/stats: 500") {
		t.Fatalf("Stats = %v", err)
	}
	if err := c.Health(ctx); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("Health = %v", err)
	}
}

func TestGarbageServer200HTML(t *testing.T) {
	t.Parallel()
	srv := garbageServer(t, 200, "text/html", "<!DOCTYPE html><title>Some other app</title>")
	c, err := NewClient(srv.URL+"/neko", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = c.Login(ctx, "bot", "pw")
	if err == nil || !strings.Contains(err.Error(), "POST /neko/api/login: expected JSON, got text/html") {
		t.Fatalf("Login = %v", err)
	}
	if err := c.Health(ctx); err == nil || !strings.Contains(err.Error(), "expected JSON") {
		t.Fatalf("Health = %v", err)
	}
	if _, err := c.ScreenCast(ctx); err == nil || !strings.Contains(err.Error(), "not a JPEG") {
		t.Fatalf("ScreenCast = %v", err)
	}
}

// A server that answers the WebSocket path with plain HTTP must give a clear
// Connect error, not a hang.
func TestGarbageServerWebSocket(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/login" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"bot-1","token":"tok-secret","profile":{"name":"bot"}}`))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(404)
		_, _ = w.Write([]byte("<html>not here</html>"))
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Login(ctx, "bot", "pw"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Connect(ctx, ConnOptions{})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "GET /api/ws: 404") {
		t.Fatalf("Connect = %v", err)
	}
	if strings.Contains(err.Error(), "tok-secret") {
		t.Fatalf("error leaks the token: %v", err)
	}
}

func TestAPIErrorMessages(t *testing.T) {
	t.Parallel()
	mk := func(op, method string, status int, msg string) *APIError {
		return &APIError{Op: op, Method: method, URL: "http://h:1/api/x", Status: status, Message: msg,
			sentinel: classify(op, status, msg), user: "bot"}
	}
	for _, tc := range []struct {
		err      *APIError
		text     string
		sentinel error
	}{
		{mk("login", "POST", 401, "Unauthorized"), `unauthorized: wrong password for user "bot"`, ErrUnauthorized},
		{mk("login", "POST", 403, "logins are locked"), "logins are locked", ErrLoginsLocked},
		{mk("login", "POST", 422, "session already connected"), "session already connected", ErrAlreadyConnected},
		{mk("control/request", "POST", 403, "controls are locked"), "controls are locked", ErrControlsLocked},
		{mk("control/release", "POST", 422, "session is not the host"), "not the host", ErrNotHost},
		{mk("control/give", "POST", 403, "session is not host or admin"), "not the host", ErrNotHost},
		{mk("control/give", "POST", 404, "target session was not found"), "neko: POST /api/x: 404 target session was not found", ErrNotFound},
		{mk("settings", "GET", 403, "session is not admin"), "neko: GET /api/x: 403 session is not admin", ErrNotAdmin},
		{mk("control", "GET", 403, "session cannot host"), "neko: GET /api/x: 403 session cannot host", ErrForbidden},
		{mk("whoami", "GET", 401, ""), "neko: GET /api/x: 401 Unauthorized", ErrUnauthorized},
	} {
		if got := tc.err.Error(); got != tc.text {
			t.Errorf("Error() = %q, want %q", got, tc.text)
		}
		if !errors.Is(tc.err, tc.sentinel) {
			t.Errorf("%q does not match %v", tc.text, tc.sentinel)
		}
		if tc.err.Status == 403 && !errors.Is(tc.err, ErrForbidden) {
			t.Errorf("%q: a 403 must match ErrForbidden", tc.text)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	lowest, highest := 100*time.Millisecond, time.Second
	for attempt := 1; attempt < 70; attempt++ {
		base := lowest << min(attempt-1, 20)
		if base > highest {
			base = highest
		}
		lo, hi := base*8/10, min(base*12/10, highest)
		d := backoff(attempt, lowest, highest)
		if d < lo || d > hi {
			t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, lo, hi)
		}
	}
}

// A server that upgrades the WebSocket and then says nothing: Connect must
// give up after InitTimeout with a clear error.
func TestConnectInitTimeout(t *testing.T) {
	t.Parallel()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/login" {
			_, _ = w.Write([]byte(`{"id":"bot-1","token":"tok","profile":{"name":"bot"}}`))
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Login(ctx, "bot", "pw"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Connect(ctx, ConnOptions{InitTimeout: 200 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no system/init within 200ms") {
		t.Fatalf("Connect = %v", err)
	}
}
