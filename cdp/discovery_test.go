package cdp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp"
)

func TestPagesKeepsOnlyPages(t *testing.T) {
	t.Parallel()
	in := []cdp.Target{
		{ID: "1", Type: "page"},
		{ID: "2", Type: "service_worker"},
		{ID: "3", Type: "iframe"},
		{ID: "4", Type: "browser_ui"},
		{ID: "5", Type: "page"},
		{ID: "6", Type: "background_page"},
		{ID: "7", Type: "worker"},
	}
	got := cdp.Pages(in)
	var ids []string
	for _, p := range got {
		ids = append(ids, p.ID)
	}
	if !slices.Equal(ids, []string{"1", "5"}) {
		t.Fatalf("Pages kept %v, want [1 5]", ids)
	}
	if cdp.Pages(nil) != nil {
		t.Fatal("Pages(nil) should be empty")
	}
}

func TestSelectPage(t *testing.T) {
	t.Parallel()
	targets := []cdp.Target{
		{ID: "SW1", Type: "service_worker", URL: "https://app.example/sw.js"},
		{ID: "AAA", Type: "page", URL: "https://app.example/inbox"},
		{ID: "IF1", Type: "iframe", URL: "https://ads.example/frame"},
		{ID: "BBB", Type: "page", URL: "https://app.example/settings"},
		{ID: "CCC", Type: "page", URL: "https://docs.example/AAA"},
	}
	tests := []struct {
		name     string
		targets  []cdp.Target
		selector string
		wantID   string
		wantErr  error  // errors.Is target, nil for "any error"
		wantMsg  string // substring of the error, "" for success
	}{
		{name: "first page", targets: targets, selector: "", wantID: "AAA"},
		{name: "exact id", targets: targets, selector: "BBB", wantID: "BBB"},
		{name: "id wins over URL substring", targets: targets, selector: "AAA", wantID: "AAA"},
		{name: "url substring", targets: targets, selector: "settings", wantID: "BBB"},
		{name: "url substring in other host", targets: targets, selector: "docs.example", wantID: "CCC"},
		{name: "no pages", targets: targets[:1], selector: "", wantErr: cdp.ErrNoPage, wantMsg: "no open tab"},
		{name: "nothing at all", targets: nil, selector: "x", wantErr: cdp.ErrNoPage, wantMsg: "targets: none"},
		{name: "no match", targets: targets, selector: "nowhere", wantErr: cdp.ErrNoMatch, wantMsg: `"nowhere"`},
		{name: "ambiguous", targets: targets, selector: "app.example", wantErr: cdp.ErrAmbiguous, wantMsg: "matches 2 pages"},
		{name: "id of a non-page", targets: targets, selector: "SW1", wantMsg: "is a service_worker, not a page"},
		{name: "url of a non-page only", targets: targets, selector: "ads.example", wantErr: cdp.ErrNoMatch},
	}
	for _, tt := range tests {
		got, err := cdp.SelectPage(tt.targets, tt.selector)
		if tt.wantID != "" {
			if err != nil || got.ID != tt.wantID {
				t.Errorf("%s: SelectPage(%q) = %q, %v; want %q", tt.name, tt.selector, got.ID, err, tt.wantID)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: SelectPage(%q) = %q, want an error", tt.name, tt.selector, got.ID)
			continue
		}
		if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: error %v is not %v", tt.name, err, tt.wantErr)
		}
		if !strings.Contains(err.Error(), tt.wantMsg) {
			t.Errorf("%s: error %q does not contain %q", tt.name, err, tt.wantMsg)
		}
	}
}

func TestDiscoveryAgainstChromium(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	v, err := cdp.GetVersion(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.Browser, "Chrome") || v.ProtocolVersion == "" || v.V8Version == "" || v.UserAgent == "" {
		t.Fatalf("incomplete version: %+v", v)
	}
	if v.WebSocketDebuggerURL != c.WebSocketURL {
		t.Fatalf("webSocketDebuggerUrl %q, cdptest saw %q", v.WebSocketDebuggerURL, c.WebSocketURL)
	}
	// The other accepted forms reach the same browser.
	for _, form := range []string{strings.TrimPrefix(c.URL, "http://"), c.WebSocketURL, fmt.Sprint(c.Port)} {
		v2, err := cdp.GetVersion(ctx, form)
		if err != nil {
			t.Fatalf("GetVersion(%q): %v", form, err)
		}
		if v2.WebSocketDebuggerURL != v.WebSocketDebuggerURL {
			t.Fatalf("GetVersion(%q) reached another browser: %+v", form, v2)
		}
	}

	id := c.NewTabT(t, "data:text/html,<title>discovery</title>")
	targets, err := cdp.ListTargets(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	var found *cdp.Target
	for i := range targets {
		if targets[i].ID == id {
			found = &targets[i]
		}
	}
	if found == nil {
		t.Fatalf("tab %s not in /json/list: %+v", id, targets)
	}
	if found.Type != "page" || !strings.HasPrefix(found.WebSocketDebuggerURL, "ws://127.0.0.1:") || !strings.HasPrefix(found.URL, "data:text/html") {
		t.Fatalf("unexpected target entry: %+v", *found)
	}
	for _, p := range cdp.Pages(targets) {
		if p.Type != "page" {
			t.Fatalf("Pages kept %+v", p)
		}
	}
	if got, err := cdp.SelectPage(targets, id); err != nil || got.ID != id {
		t.Fatalf("SelectPage by id: %+v, %v", got, err)
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNoDebuggingPort(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, port, _ := net.SplitHostPort(addr)
	want := fmt.Sprintf("no Chrome DevTools endpoint at http://%s (connection refused): start Chromium with --remote-debugging-port=%s (in the neko chromium image see compose/)", addr, port)

	_, err := cdp.GetVersion(ctx, addr)
	if err == nil || err.Error() != want || !errors.Is(err, cdp.ErrNoEndpoint) {
		t.Fatalf("GetVersion: %v\nwant: %s", err, want)
	}
	_, err = cdp.ListTargets(ctx, "http://"+addr)
	if !errors.Is(err, cdp.ErrNoEndpoint) {
		t.Fatalf("ListTargets: %v", err)
	}
	p, err := cdp.Attach(ctx, addr, cdp.AttachOptions{})
	if err == nil {
		p.Detach()
	}
	if err == nil || err.Error() != want {
		t.Fatalf("Attach: %v\nwant: %s", err, want)
	}
}

func TestNotADevToolsServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/json/version":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>hello from nginx</body></html>")
		case "/json/list":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"not":"a list"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()
	// What Chromium answers when the Host header is a name (http://neko:9222).
	hostGuard := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "Host header is specified and is not an IP address or localhost.")
	}))
	defer hostGuard.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	check := func(what string, err error, wantPrefix, wantPart string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", what)
		}
		if !errors.Is(err, cdp.ErrNotDevTools) || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), wantPart) {
			t.Fatalf("%s: %v\nwant prefix %q and %q", what, err, wantPrefix, wantPart)
		}
	}
	_, err := cdp.GetVersion(ctx, srv.URL)
	check("html", err, srv.URL+": not a Chrome DevTools endpoint: ", "text/html, not JSON")
	_, err = cdp.ListTargets(ctx, srv.URL)
	check("wrong json", err, srv.URL+": not a Chrome DevTools endpoint: ", "GET /json/list")
	_, err = cdp.GetVersion(ctx, missing.URL)
	check("404", err, missing.URL+": not a Chrome DevTools endpoint: ", "404 Not Found")
	_, err = cdp.Attach(ctx, srv.URL, cdp.AttachOptions{})
	check("attach", err, srv.URL+": not a Chrome DevTools endpoint: ", "")
	_, err = cdp.GetVersion(ctx, hostGuard.URL)
	check("host guard", err, hostGuard.URL+": Chromium refuses the host name", "use the IP address")
}

func TestDiscoveryHonoursContext(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Accept, then never answer: a wedged process on the port.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := cdp.GetVersion(ctx, srv.URL)
	if !errors.Is(err, cdp.ErrNoEndpoint) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("GetVersion on a silent server: %v", err)
	}

	done, stop := context.WithCancel(context.Background())
	stop()
	_, err = cdp.Attach(done, srv.URL, cdp.AttachOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Attach with a cancelled context: %v", err)
	}
}
