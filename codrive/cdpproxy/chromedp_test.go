package cdpproxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
)

// chromedpOn attaches chromedp, through the proxy, to an existing tab (a
// connection of its own), leaving the tab open on cancel.
func chromedpOn(t *testing.T, p *Proxy, targetID string) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := remote.NewAllocator(context.Background(), p.URL())
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithTargetID(target.ID(targetID)), chromedp.WithDetachOnCancel())
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

func withTimeout(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestChromedpThroughProxy: chromedp drives a page through the proxy; with a
// person in control its click waits (page unchanged, as seen directly),
// attaching, reads, screenshots and events keep working, and the click (and
// what follows it) completes after release.
func TestChromedpThroughProxy(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, dc := openPage(t, c)
	pageURL := strings.Trim(dc.evaluate("", "location.href"), `"`)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g})
	ctx := chromedpOn(t, p, id)
	tctx := withTimeout(t, ctx)

	if err := chromedp.Do(tctx, chromedp.Navigate(pageURL), chromedp.Click(chromedp.CSS("#b"))); err != nil {
		t.Fatalf("navigate and click: %v", err)
	}
	if out, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS("#out"))); err != nil || out != "clicked 1" {
		t.Fatalf("after the click: %q %v", out, err)
	}

	consoleSeen := make(chan struct{}, 1)
	chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventConsoleAPICalled); ok && len(e.Args) > 0 && strings.Contains(string(e.Args[0].Value), "while-held") {
			select {
			case consoleSeen <- struct{}{}:
			default:
			}
		}
	})

	g.Close("")
	done := make(chan error, 1)
	go func() {
		done <- chromedp.Do(tctx, chromedp.Click(chromedp.CSS("#b")), chromedp.SendKeys(chromedp.CSS("#in"), "hi"))
	}()
	g.waitBlocked(t)
	select {
	case err := <-done:
		t.Fatalf("the click completed during the hold: %v", err)
	default:
	}
	if got := dc.evaluate("", "String(window.clicks) + '|' + document.getElementById('in').value"); got != `"1|"` {
		t.Fatalf("the page changed during the hold: %s", got)
	}
	// Observing keeps working on the same connection.
	if shot, err := chromedp.Run(tctx, chromedp.CaptureScreenshot()); err != nil || len(shot) < 100 {
		t.Fatalf("screenshot during the hold: %d bytes, %v", len(shot), err)
	}
	if title, err := chromedp.Run(tctx, chromedp.Title()); err != nil || title != "codrive test" {
		t.Fatalf("title during the hold: %q %v", title, err)
	}
	dc.evaluate("", "console.log('while-held'); 0")
	select {
	case <-consoleSeen:
	case <-time.After(30 * time.Second):
		t.Fatal("no console event through the proxy during the hold")
	}
	// A second script attaches to another tab during the hold.
	id2, _ := openPage(t, c)
	ctx2 := withTimeout(t, chromedpOn(t, p, id2))
	if title, err := chromedp.Run(ctx2, chromedp.Title()); err != nil || title != "codrive test" {
		t.Fatalf("attach during the hold: %q %v", title, err)
	}

	g.Open()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("click after release: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("click did not complete after release")
	}
	if got := dc.evaluate("", "String(window.clicks) + '|' + document.getElementById('in').value"); got != `"2|hi"` {
		t.Fatalf("after release: %s, want 2|hi", got)
	}
}

// TestChromedpTwoClients: two automation clients, each with a connection of
// its own, click at once; both wait during a hold and both complete after.
func TestChromedpTwoClients(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g})
	type client struct {
		ctx context.Context
		dc  *cdpClient
	}
	var clients []client
	for range 2 {
		id, dc := openPage(t, c)
		clients = append(clients, client{withTimeout(t, chromedpOn(t, p, id)), dc})
	}
	errs := make(chan error, 2)
	for _, cl := range clients {
		go func() { errs <- chromedp.Do(cl.ctx, chromedp.Click(chromedp.CSS("#b"))) }()
	}
	for range clients {
		if err := <-errs; err != nil {
			t.Fatalf("click: %v", err)
		}
	}
	g.Close("")
	for _, cl := range clients {
		go func() { errs <- chromedp.Do(cl.ctx, chromedp.Click(chromedp.CSS("#b"))) }()
	}
	g.waitBlocked(t)
	g.waitBlocked(t)
	for _, cl := range clients {
		if got := cl.dc.evaluate("", "window.clicks"); got != "1" {
			t.Fatalf("clicks during the hold: %s", got)
		}
	}
	if st := p.Stats(); st.Connections != 2 || st.Held != 2 {
		t.Fatalf("stats during the hold %+v", st)
	}
	g.Open()
	for range clients {
		if err := <-errs; err != nil {
			t.Fatalf("click after release: %v", err)
		}
	}
	for _, cl := range clients {
		if got := cl.dc.evaluate("", "window.clicks"); got != "2" {
			t.Fatalf("clicks after release: %s", got)
		}
	}
}
