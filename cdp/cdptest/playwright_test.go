package cdptest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

const buttonPage = `<!doctype html>
<title>button</title>
<button id="go" onclick="document.getElementById('out').textContent = 'clicked ' + (++window.n)">Go</button>
<p id="out">not yet</p>
<script>window.n = 0</script>`

// TestPlaywrightOverCDP drives Debian's Chromium through playwright-go the
// way codrive's users will: connected over CDP to a browser someone else
// started, using the tab that is already open rather than a new one.
func TestPlaywrightOverCDP(t *testing.T) {
	t.Parallel()
	pw := Playwright(t) // first: without a driver, skip before starting Chromium
	c := StartT(t, Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, buttonPage)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := c.PageIDs(ctx)
	if err != nil || len(before) != 1 {
		t.Fatalf("want the one start tab, got %v, %v", before, err)
	}

	browser, err := pw.Chromium.ConnectOverCDP(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	contexts := browser.Contexts()
	if len(contexts) != 1 || len(contexts[0].Pages()) != 1 {
		t.Fatalf("want the default context with the start tab, got %d contexts", len(contexts))
	}
	page := contexts[0].Pages()[0]
	if _, err := page.Goto(srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := page.Locator("#go").Click(); err != nil {
		t.Fatal(err)
	}
	text, err := page.Locator("#out").TextContent()
	if err != nil || text != "clicked 1" {
		t.Fatalf("after the click: %q, %v", text, err)
	}
	// After ConnectOverCDP, Close only disconnects: Chromium and its tab
	// live on.
	if err := browser.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := c.PageIDs(ctx)
	if err != nil || !slices.Equal(after, before) {
		t.Fatalf("tabs after disconnect %v (%v), before %v", after, err, before)
	}
	select {
	case <-c.Exited():
		t.Fatal("chromium exited when playwright disconnected")
	default:
	}
}
