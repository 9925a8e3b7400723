package cdp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/cdp/cdptest"
)

// site serves a few small pages with distinct titles.
func site(t testing.TB) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" || name == "favicon.ico" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>Title %s</title><h1>%s</h1>", name, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func attachT(t testing.TB, endpoint string, opts cdp.AttachOptions) *cdp.Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := cdp.Attach(ctx, endpoint, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Detach() })
	return p
}

// waitInfo reads the subscription until cond holds, failing after a deadline
// (a timeout, not a timing assertion).
func waitInfo(t *testing.T, ch <-chan cdp.PageInfo, what string, cond func(cdp.PageInfo) bool) cdp.PageInfo {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var last cdp.PageInfo
	for {
		select {
		case info, ok := <-ch:
			if !ok {
				t.Fatalf("subscription closed while waiting for %s (last %+v)", what, last)
			}
			last = info
			if cond(info) {
				return info
			}
		case <-deadline:
			t.Fatalf("no %s within the deadline (last %+v)", what, last)
		}
	}
}

func waitDone(t *testing.T, p *cdp.Page, what string) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("Done not closed after %s", what)
	}
}

func pageIDs(t *testing.T, c *cdptest.Chromium) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ids, err := c.PageIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// newIDs returns the ids in after that are not in before.
func newIDs(before, after []string) []string {
	var added []string
	for _, id := range after {
		if !slices.Contains(before, id) {
			added = append(added, id)
		}
	}
	return added
}

// Not parallel: it checks that no tab appears in the whole browser, which
// tabs opened by parallel tests would disturb (parallel tests only start
// after the sequential ones are done). Tabs may disappear meanwhile: a
// closed tab leaves /json/list a little after /json/close answers.
func TestAttachUsesExistingTabAndDetachLeavesIt(t *testing.T) {
	c := sharedChromium(t)
	srv := site(t)
	id := c.NewTabT(t, srv.URL+"/start-marker")
	before := pageIDs(t, c)

	p := attachT(t, c.URL, cdp.AttachOptions{Target: "start-marker"})
	if p.TargetID() != id {
		t.Fatalf("attached to %s, want the tab %s", p.TargetID(), id)
	}
	if added := newIDs(before, pageIDs(t, c)); len(added) > 0 {
		t.Fatalf("attach opened tabs %v", added)
	}
	if v := p.Browser(); v == nil || v.WebSocketDebuggerURL != c.WebSocketURL {
		t.Fatalf("Browser() = %+v", v)
	}
	if got := p.Info(); got.TargetID != id || got.URL != srv.URL+"/start-marker" {
		t.Fatalf("initial Info %+v", got)
	}

	ch, unsubscribe := p.Subscribe()
	defer unsubscribe()
	// Readers on other goroutines while events update the info: -race
	// checks that Info is safe to read anywhere.
	stopReading := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stopReading:
				return
			default:
				_ = p.Info()
			}
		}
	})

	ctx, cancel := context.WithTimeout(p.Context(), 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/second")); err != nil {
		t.Fatal(err)
	}
	got := waitInfo(t, ch, "URL and title of /second", func(i cdp.PageInfo) bool {
		return i.URL == srv.URL+"/second" && i.Title == "Title second"
	})
	if got.TargetID != id || p.Info() != got {
		t.Fatalf("Info %+v, subscription %+v", p.Info(), got)
	}

	// Same-document navigation changes the URL only.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash = "#frag"`)); err != nil {
		t.Fatal(err)
	}
	waitInfo(t, ch, "fragment URL", func(i cdp.PageInfo) bool { return i.URL == srv.URL+"/second#frag" })

	// A data: URL, title set by the document.
	if err := chromedp.Do(ctx, chromedp.Navigate("data:text/html,<title>Inline</title>hi")); err != nil {
		t.Fatal(err)
	}
	waitInfo(t, ch, "data: URL", func(i cdp.PageInfo) bool {
		return strings.HasPrefix(i.URL, "data:text/html") && i.Title == "Inline"
	})
	close(stopReading)
	readers.Wait()

	if err := p.Detach(); err != nil {
		t.Fatalf("Detach: %v", err)
	}
	waitDone(t, p, "Detach")
	if !errors.Is(p.Err(), cdp.ErrDetached) {
		t.Fatalf("Err after Detach = %v", p.Err())
	}
	if p.Context().Err() == nil {
		t.Fatal("chromedp context still live after Detach")
	}
	if _, ok := <-ch; ok {
		// The mailbox may still hold the last value; after it, closed.
		if _, ok := <-ch; ok {
			t.Fatal("subscription not closed after Detach")
		}
	}
	if err := p.Detach(); err != nil {
		t.Fatalf("second Detach: %v", err)
	}
	after := pageIDs(t, c)
	if added := newIDs(before, after); len(added) > 0 {
		t.Fatalf("attach or detach opened tabs %v", added)
	}
	if !slices.Contains(after, id) {
		t.Fatalf("tab %s gone after Detach: %v", id, after)
	}
	// The tab is not only listed but still where the script left it.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	targets, err := cdp.ListTargets(ctx2, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := cdp.SelectPage(targets, id)
	if err != nil || tab.Title != "Inline" {
		t.Fatalf("tab after detach: %+v, %v", tab, err)
	}
}

func TestAttachByWebSocketURLAndTwice(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	id := c.NewTabT(t, "data:text/html,<title>twice</title>")

	a := attachT(t, c.WebSocketURL, cdp.AttachOptions{Target: id})
	// A browser URL from an earlier Chromium run still finds this one.
	stale := c.WebSocketURL[:strings.LastIndex(c.WebSocketURL, "/")+1] + "0000-stale"
	attachT(t, stale, cdp.AttachOptions{Target: id}).Detach()
	b := attachT(t, c.URL, cdp.AttachOptions{Target: id})
	if a.TargetID() != id || b.TargetID() != id {
		t.Fatalf("attached to %s and %s, want %s", a.TargetID(), b.TargetID(), id)
	}
	if err := a.Detach(); err != nil {
		t.Fatal(err)
	}
	// The other attachment to the same tab is unaffected.
	ctx, cancel := context.WithTimeout(b.Context(), 20*time.Second)
	defer cancel()
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || title != "twice" {
		t.Fatalf("title via the second attachment: %q, %v", title, err)
	}
	select {
	case <-b.Done():
		t.Fatalf("second attachment ended: %v", b.Err())
	default:
	}
}

func TestAttachSelectorErrors(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := cdp.Attach(ctx, c.URL, cdp.AttachOptions{Target: "no-such-tab-anywhere"})
	if !errors.Is(err, cdp.ErrNoMatch) || !strings.HasPrefix(err.Error(), c.URL+": ") {
		t.Fatalf("Attach with an unknown selector: %v", err)
	}
	_, err = cdp.Attach(ctx, "ws://127.0.0.1:1/devtools/page/X", cdp.AttachOptions{})
	if err == nil || !strings.Contains(err.Error(), "one page's WebSocket URL") {
		t.Fatalf("Attach to a page ws URL: %v", err)
	}
}

// TestAttachListsAgainWhenTheTabIsGone: the tab Attach selected closes
// before Chromium gives it a session ("No target with given id found"):
// Attach lists the tabs again and takes the one the selector picks now,
// rather than failing (seen with tabs that come and go on a shared
// Chromium). The first listing here names a tab that no longer exists.
func TestAttachListsAgainWhenTheTabIsGone(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	page := site(t).URL + "/relisted"
	id := c.NewTabT(t, page)
	var lists atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(c.URL + r.URL.Path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if r.URL.Path == "/json/list" && lists.Add(1) == 1 {
			body = bytes.ReplaceAll(body, []byte(id), []byte("0123456789ABCDEF0123456789ABCDEF"))
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer front.Close()
	p, err := cdp.Attach(ctx, front.URL, cdp.AttachOptions{Target: "/relisted"})
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	defer p.Detach()
	if p.TargetID() != id || lists.Load() != 2 {
		t.Fatalf("attached to %s after %d listings, want %s after 2", p.TargetID(), lists.Load(), id)
	}
}

func TestTabClosedEndsPage(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	id := c.NewTabT(t, "data:text/html,<title>doomed</title>")
	p := attachT(t, c.URL, cdp.AttachOptions{Target: id})
	ch, unsubscribe := p.Subscribe()
	defer unsubscribe()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.CloseTab(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitDone(t, p, "closing the tab")
	if err := p.Err(); !errors.Is(err, cdp.ErrTabClosed) || !strings.Contains(err.Error(), id) {
		t.Fatalf("Err = %v, want tab closed naming %s", err, id)
	}
	for range ch { // drains, then ends: Done closes subscriptions
	}
	if err := p.Detach(); err != nil {
		t.Fatalf("Detach after the tab closed: %v", err)
	}
	if _, err := chromedp.Run(p.Context(), chromedp.Title()); err == nil {
		t.Fatal("actions still run on a closed tab's context")
	}
}

func TestChromiumKilledEndsPage(t *testing.T) {
	t.Parallel()
	c := cdptest.StartT(t, cdptest.Options{URL: "data:text/html,<title>victim</title>"})
	p := attachT(t, c.URL, cdp.AttachOptions{})
	c.Kill()
	waitDone(t, p, "killing Chromium")
	err := p.Err()
	if !errors.Is(err, cdp.ErrBrowserGone) || !strings.Contains(err.Error(), "chromium at "+c.URL+" went away") {
		t.Fatalf("Err = %v", err)
	}
	ch, _ := p.Subscribe()
	if info, ok := <-ch; !ok || info.TargetID != p.TargetID() {
		t.Fatalf("subscribe after the end: %+v %v", info, ok)
	}
	if _, ok := <-ch; ok {
		t.Fatal("subscription after the end is not closed")
	}
	if err := p.Detach(); err != nil {
		t.Fatal(err)
	}
}

// TestChromedpWithoutDetachOnCancelClosesTab pins down why Attach uses
// chromedp.WithDetachOnCancel: chromedp's default, on cancelling a context
// attached to an existing tab with WithTargetID, is to close that tab — for
// codrive, closing the user's tab. If a chromedp upgrade changes this, the
// test says so.
func TestChromedpWithoutDetachOnCancelClosesTab(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	id := c.NewTabT(t, "data:text/html,<title>closes</title>")

	allocCtx, allocCancel := remote.NewAllocator(context.Background(), c.WebSocketURL, remote.NoModifyURL)
	defer allocCancel()
	tabCtx, tabCancel := chromedp.NewContext(allocCtx, chromedp.WithTargetID(target.ID(id)))
	if err := chromedp.Do(tabCtx); err != nil {
		t.Fatal(err)
	}
	tabCancel()
	allocCancel()
	chromedp.FromContext(allocCtx).Allocator.Wait()
	<-chromedp.FromContext(tabCtx).Browser.LostConnection

	deadline := time.After(10 * time.Second)
	for slices.Contains(pageIDs(t, c), id) {
		select {
		case <-deadline:
			t.Fatal("tab survived: chromedp no longer closes tabs on cancel; the reason for WithDetachOnCancel in Attach is gone")
		case <-time.After(20 * time.Millisecond): // polling an external process
		}
	}
}

// BenchmarkAttach measures Attach plus Detach on an existing tab: the cost
// of taking over a browser for one scripted turn.
func BenchmarkAttach(b *testing.B) {
	c := sharedChromium(b)
	id := c.NewTabT(b, "data:text/html,<title>bench</title>")
	ctx := context.Background()
	for b.Loop() {
		p, err := cdp.Attach(ctx, c.URL, cdp.AttachOptions{Target: id})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Detach(); err != nil {
			b.Fatal(err)
		}
	}
}
