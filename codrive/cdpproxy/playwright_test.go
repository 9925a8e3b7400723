package cdpproxy

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/playwright-community/playwright-go"
)

// TestPlaywrightThroughProxy drives Chromium with playwright-go connected
// over CDP to the proxy. It has a Chromium of its own: Playwright attaches
// to every tab, and the shared browser's tabs come and go with other tests.
func TestPlaywrightThroughProxy(t *testing.T) {
	t.Parallel()
	pw := cdptest.Playwright(t) // first: without a driver, skip before starting Chromium
	c := cdptest.StartT(t, cdptest.Options{})
	srv := testServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := c.PageIDs(ctx)
	if err != nil || len(ids) != 1 {
		t.Fatalf("want the one start tab, got %v, %v", ids, err)
	}
	dc := dialCDP(t, pageWS(c, ids[0]), nil) // the view from outside the proxy

	// A person holds control from the start: connecting must not hang.
	g := newGate(false)
	p := listen(t, c, Options{Controller: g})
	browser, err := pw.Chromium.ConnectOverCDP(p.URL())
	if err != nil {
		t.Fatalf("connect during a hold: %v", err)
	}
	t.Cleanup(func() { _ = browser.Close() }) // disconnects only
	contexts := browser.Contexts()
	if len(contexts) != 1 || len(contexts[0].Pages()) != 1 {
		t.Fatalf("want the default context with the start tab, got %d contexts", len(contexts))
	}
	page := contexts[0].Pages()[0]
	if shot, err := page.Screenshot(); err != nil || len(shot) < 100 {
		t.Fatalf("screenshot during a hold: %d bytes, %v", len(shot), err)
	}
	cdp, err := page.Context().NewCDPSession(page)
	if err != nil {
		t.Fatal(err)
	}
	st, err := cdp.Send("Codrive.getState", nil)
	if err != nil {
		t.Fatalf("Codrive.getState: %v", err)
	}
	if m, _ := st.(map[string]any); m["state"] != StateHuman || m["hostName"] != "alice" {
		t.Fatalf("Codrive.getState: %v", st)
	}

	// The person opens a tab while holding control: Playwright attaches to
	// it (the tab waits for its debugger meanwhile) and must not freeze it.
	var newTab string
	popup, err := contexts[0].ExpectPage(func() error {
		newTab, err = c.NewTab(ctx, srv.URL)
		return err
	})
	if err != nil {
		t.Fatalf("tab opened during a hold: %v", err)
	}
	// (Not WaitForLoadState: Playwright misses the load event of a tab
	// created with a URL about one time in ten even without the proxy.)
	dc2 := dialCDP(t, pageWS(c, newTab), nil)
	if got := dc2.evaluate("", "new Promise(r => document.readyState === 'complete' ? r(location.pathname) : addEventListener('load', () => r(location.pathname)))"); got != `"/"` {
		t.Fatalf("tab opened during a hold did not load: %s", got)
	}
	if text, err := popup.Locator("#out").TextContent(); err != nil || text != "idle" {
		t.Fatalf("tab opened during a hold: %q %v", text, err)
	}

	g.Open()
	if _, err := page.Goto(srv.URL); err != nil {
		t.Fatalf("goto: %v", err)
	}
	if err := page.Locator("#b").Click(); err != nil {
		t.Fatalf("click: %v", err)
	}
	if text, err := page.Locator("#out").TextContent(); err != nil || text != "clicked 1" {
		t.Fatalf("after the click: %q, %v", text, err)
	}

	// During a hold: the click and the typing after it wait, in order; the
	// screenshot passes.
	g.Close("")
	done := make(chan error, 1)
	go func() {
		if err := page.Locator("#b").Click(); err != nil {
			done <- err
			return
		}
		done <- page.Locator("#in").Fill("hi")
	}()
	g.waitBlocked(t)
	if shot, err := page.Screenshot(); err != nil || len(shot) < 100 {
		t.Fatalf("screenshot during a hold: %d bytes, %v", len(shot), err)
	}
	select {
	case err := <-done:
		t.Fatalf("the click completed during the hold: %v", err)
	default:
	}
	if got := dc.evaluate("", "String(window.clicks) + '|' + document.getElementById('in').value"); got != `"1|"` {
		t.Fatalf("the page changed during the hold: %s", got)
	}
	g.Open()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("click and fill after release: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("click did not complete after release")
	}
	if got := dc.evaluate("", "String(window.clicks) + '|' + document.getElementById('in').value"); got != `"2|hi"` {
		t.Fatalf("after release: %s, want 2|hi", got)
	}

	// Codrive.handoff from a CDPSession resolves when the person releases.
	type result struct {
		v   any
		err error
	}
	handed := make(chan result, 1)
	go func() {
		v, err := cdp.Send("Codrive.handoff", map[string]any{"reason": "solve the captcha", "timeout": 60})
		handed <- result{v, err}
	}()
	select {
	case r := <-g.handoffs:
		if r != "solve the captcha" {
			t.Fatalf("handoff reason %q", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Codrive.handoff did not reach the controller")
	}
	if title, err := page.Title(); err != nil || title != "codrive test" {
		t.Fatalf("title during the handoff: %q %v", title, err)
	}
	select {
	case r := <-handed:
		t.Fatalf("handoff resolved before the person released: %+v", r)
	default:
	}
	g.Open()
	select {
	case r := <-handed:
		if r.err != nil {
			t.Fatalf("Codrive.handoff: %v", r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Codrive.handoff did not resolve after release")
	}
	if _, err := cdp.Send("Codrive.nope", nil); err == nil || !strings.Contains(err.Error(), "codrive proxy answers") {
		t.Fatalf("unknown Codrive method: %v", err)
	}
	var _ playwright.CDPSession = cdp
}

// TestPlaywrightWithToken: the token forms the README gives work with
// Playwright. Its connectOverCDP appends "/json/version/" to the endpoint as
// a string (playwright-core lib/server/chromium/chromium.js,
// urlToWSEndpoint), so http://ADDR?token=T arrives as
// /?token=T/json/version/.
func TestPlaywrightWithToken(t *testing.T) {
	t.Parallel()
	pw := cdptest.Playwright(t)
	c := cdptest.StartT(t, cdptest.Options{})
	const token = "s3cret/+?"
	p := listen(t, c, Options{Controller: newGate(true), Token: token})
	check := func(name string, b playwright.Browser, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer b.Close() // disconnects only
		page := b.Contexts()[0].Pages()[0]
		if v, err := page.Evaluate("6*7"); err != nil || v != 42 {
			t.Fatalf("%s: evaluate: %v %v", name, v, err)
		}
	}
	b, err := pw.Chromium.ConnectOverCDP(p.URL() + "?token=" + url.QueryEscape(token))
	check("?token=", b, err)
	b, err = pw.Chromium.ConnectOverCDP(p.URL() + "/?token=" + url.QueryEscape(token))
	check("/?token=", b, err)
	b, err = pw.Chromium.ConnectOverCDP(p.URL(), playwright.BrowserTypeConnectOverCDPOptions{
		Headers: map[string]string{"Authorization": "Bearer " + token},
	})
	check("Authorization header", b, err)
	if b, err := pw.Chromium.ConnectOverCDP(p.URL() + "?token=wrong"); err == nil {
		_ = b.Close()
		t.Fatal("a wrong token connected")
	} else if !strings.Contains(err.Error(), "401") {
		t.Fatalf("a wrong token: want a 401, got %v", err)
	}
}
