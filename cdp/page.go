package cdp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
)

// Why a Page ended; Page.Err wraps exactly one of these.
var (
	// ErrDetached: Detach was called.
	ErrDetached = errors.New("detached")
	// ErrBrowserGone: the DevTools connection dropped (Chromium exited,
	// crashed or was killed).
	ErrBrowserGone = errors.New("browser went away")
	// ErrTabClosed: the tab was closed while codrive was attached.
	ErrTabClosed = errors.New("tab closed")
)

// probeTimeout bounds one Target.getTargetInfo: the question "is the tab
// still there?" after the browser detached us, and each title refresh, so a
// dying browser cannot stall either.
const probeTimeout = 2 * time.Second

// refreshInterval is how often the title is re-read when no event prompts
// it. Chromium (at least headless) sends no Target.targetInfoChanged when a
// document sets its title, so events alone would leave a stale title; a
// title set by script long after load is only seen this way.
const refreshInterval = time.Second

// AttachOptions tune Attach. The zero value attaches to the first tab.
type AttachOptions struct {
	// Target selects the tab as SelectPage does: "" for the first page, an
	// exact target id, or a substring of the tab's URL.
	Target string
	// Logger receives attach/detach events and chromedp's own log lines;
	// nil discards them.
	Logger *slog.Logger
}

// PageInfo is what a person would read off the tab: where it is and what it
// is called.
type PageInfo struct {
	URL      string
	Title    string
	TargetID string
}

// Page is codrive's attachment to one existing tab. It is safe for use from
// several goroutines; the chromedp context it hands out is, as always with
// chromedp, for one action sequence at a time.
type Page struct {
	endpoint Endpoint
	version  Version
	targetID string
	log      *slog.Logger

	ctx   context.Context // chromedp context bound to the tab
	alloc chromedp.Allocator
	lost  <-chan struct{} // closed when the DevTools connection is gone

	detachReq  chan struct{}
	detachOnce sync.Once
	done       chan struct{}
	refresh    chan struct{} // one-slot: "re-read the title soon"
	refresher  sync.WaitGroup

	mu        sync.Mutex
	info      PageInfo
	gen       uint64 // bumped by every event-driven change of info
	subs      map[int]chan PageInfo
	nextSub   int
	closed    bool
	err       error
	detachErr error
}

// Attach connects to the browser at endpoint (any form ParseEndpoint
// accepts) and attaches to an existing tab chosen by opts.Target. It never
// opens a tab: if there is no page, it fails. ctx bounds the attach only;
// the returned Page lives until Detach or until the browser or tab goes away.
func Attach(ctx context.Context, endpoint string, opts AttachOptions) (*Page, error) {
	ep, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v, err := getVersion(ctx, ep)
	if err != nil {
		return nil, err
	}
	// Chromium builds webSocketDebuggerUrl from our request's Host, so a
	// given ws URL can only differ in the browser id: it is from an earlier
	// run of Chromium, and the current one is what can be dialled.
	ws := v.WebSocketDebuggerURL
	if ep.WS != "" && ep.WS != ws {
		log.Warn("given browser WebSocket URL is stale, using the current one", "given", ep.WS, "current", ws)
	}
	targets, err := listTargets(ctx, ep)
	if err != nil {
		return nil, err
	}
	tg, err := SelectPage(targets, opts.Target)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ep.HTTP, err)
	}
	// A tab that commits a navigation while we attach (a new tab's first
	// about:blank, a page that redirects) detaches the session Chromium
	// had just given us ("inspected target navigated or closed"), and a
	// tab Chromium has just listed may not take a session yet, or may
	// have closed since ("No target with given id found"): shortly after,
	// the tabs are listed and selected again, so a tab that is still there
	// is attached again and one that closed gives way to the tab
	// opts.Target selects now.
	for attempt := 1; ; attempt++ {
		p, err := attachTarget(ctx, ep, v, tg, ws, log)
		if err == nil || attempt == attachAttempts || !tabInFlux(err) {
			return p, err
		}
		log.Debug("the tab changed while attaching; again", "attempt", attempt, "err", err)
		t := time.NewTimer(time.Duration(attempt) * 100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		targets, lerr := listTargets(ctx, ep)
		if lerr != nil {
			return nil, errors.Join(err, lerr)
		}
		if tg, lerr = SelectPage(targets, opts.Target); lerr != nil {
			return nil, fmt.Errorf("%w; listed again: %s: %w", err, ep.HTTP, lerr)
		}
	}
}

// attachAttempts bounds Attach's tries on a tab that keeps changing.
const attachAttempts = 3

// tabInFlux: Chromium refused the attach because the tab was between two
// states, not because it is gone for good. Chromium says so only in words.
func tabInFlux(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "navigated or closed") || strings.Contains(msg, "No target with given id")
}

// attachTarget attaches to the tab tg of the browser at ws.
func attachTarget(ctx context.Context, ep Endpoint, v *Version, tg Target, ws string, log *slog.Logger) (*Page, error) {
	var err error
	p := &Page{
		endpoint:  ep,
		version:   *v,
		targetID:  tg.ID,
		log:       log.With("cdp", ep.HTTP, "target", tg.ID),
		detachReq: make(chan struct{}),
		done:      make(chan struct{}),
		refresh:   make(chan struct{}, 1),
		info:      PageInfo{URL: tg.URL, Title: tg.Title, TargetID: tg.ID},
		subs:      map[int]chan PageInfo{},
	}

	// The chromedp contexts must outlive ctx (the first Run binds the
	// connection's lifetime to the context it runs on), so they hang off
	// Background; ctx can only abort the attach itself, through life.
	life, lifeCancel := context.WithCancel(context.Background())
	allocCtx, allocCancel := remote.NewAllocator(life, ws, remote.NoModifyURL)
	p.alloc = chromedp.FromContext(allocCtx).Allocator
	// WithDetachOnCancel is what keeps the user's tab alive: without it,
	// cancelling a context attached with WithTargetID closes the tab
	// (TestChromedpWithoutDetachOnCancelClosesTab pins this down).
	tabCtx, tabCancel := chromedp.NewContext(allocCtx,
		chromedp.WithTargetID(target.ID(tg.ID)),
		chromedp.WithDetachOnCancel(),
		chromedp.WithListener(p.onEvent),
		chromedp.WithLogf(func(f string, a ...any) { p.log.Debug(fmt.Sprintf(f, a...)) }),
		chromedp.WithErrorf(func(f string, a ...any) { p.log.Warn(fmt.Sprintf(f, a...)) }),
	)
	p.ctx = tabCtx
	release := func() {
		tabCancel()
		p.refresher.Wait()
		allocCancel()
		lifeCancel()
		p.alloc.Wait()
		if c := chromedp.FromContext(tabCtx); c != nil && c.Browser != nil {
			waitClosed(c.Browser.LostConnection)
		}
	}

	stop := context.AfterFunc(ctx, lifeCancel)
	err = chromedp.Do(tabCtx)
	var detached <-chan struct{}
	if err == nil {
		detached, err = chromedp.Detached(tabCtx)
	}
	if !stop() && err == nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		release()
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%w)", err, cause)
		}
		return nil, fmt.Errorf("attach to tab %s (%q) at %s: %w", tg.ID, tg.URL, ep.HTTP, err)
	}
	p.lost = chromedp.FromContext(tabCtx).Browser.LostConnection
	p.log.Info("attached", "url", tg.URL, "browser", v.Browser)
	p.refresher.Go(p.refreshTitles)
	p.poke()
	go p.watch(detached, release)
	return p, nil
}

// waitClosed waits for chromedp's reader goroutine to finish after the
// connection was closed, bounded in case the socket close itself hangs.
func waitClosed(ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
	}
}

// watch turns the end of the attachment, whatever caused it, into Done/Err,
// and frees every goroutine and socket chromedp holds for it.
func (p *Page) watch(detached <-chan struct{}, release func()) {
	var err error
	select {
	case <-p.detachReq:
		err = ErrDetached
		// chromedp.Cancel detaches (leaving the tab, see WithDetachOnCancel)
		// and reports whether Target.detachFromTarget went through.
		if cerr := chromedp.Cancel(p.ctx); cerr != nil {
			p.mu.Lock()
			p.detachErr = fmt.Errorf("detach from tab %s: %w", p.targetID, cerr)
			p.mu.Unlock()
		}
	case <-p.lost:
		err = p.goneErr()
	case <-detached:
		err = p.whyDetached()
	case <-p.ctx.Done():
		// chromedp cancels the tab context itself when the connection
		// drops; otherwise someone cancelled p.Context() by hand.
		select {
		case <-p.lost:
			err = p.goneErr()
		default:
			err = fmt.Errorf("the chromedp context of tab %s was cancelled: %w", p.targetID, ErrDetached)
		}
	}
	release()

	p.mu.Lock()
	p.err = err
	p.closed = true
	for id, ch := range p.subs {
		close(ch)
		delete(p.subs, id)
	}
	p.mu.Unlock()
	if errors.Is(err, ErrDetached) {
		p.log.Info("detached")
	} else {
		p.log.Warn("attachment ended", "err", err)
	}
	close(p.done)
}

func (p *Page) goneErr() error {
	return fmt.Errorf("chromium at %s went away (DevTools connection closed): %w", p.endpoint.HTTP, ErrBrowserGone)
}

// whyDetached tells a closed tab from a dying browser: Chromium detaches its
// sessions on shutdown too, so ask the browser whether the tab still exists.
func (p *Page) whyDetached() error {
	ctx, cancel := context.WithTimeout(p.ctx, probeTimeout)
	defer cancel()
	_, err := chromedp.CallBrowser(ctx, target.GetTargetInfo, target.GetTargetInfoParams{TargetID: target.ID(p.targetID)})
	var perr *cdproto.Error
	switch {
	case err == nil:
		return fmt.Errorf("chromium at %s detached codrive from tab %s (tab still open): %w", p.endpoint.HTTP, p.targetID, ErrDetached)
	case errors.As(err, &perr):
		return fmt.Errorf("tab %s at %s was closed: %w", p.targetID, p.endpoint.HTTP, ErrTabClosed)
	default:
		return p.goneErr()
	}
}

// onEvent runs on chromedp's reader goroutine for the tab, so it only
// copies fields and pokes the refresher; it never blocks or sends commands.
func (p *Page) onEvent(ev any) {
	switch e := ev.(type) {
	case *target.EventTargetCreated:
		p.fromTargetInfo(e.TargetInfo, true)
	case *target.EventTargetInfoChanged:
		p.fromTargetInfo(e.TargetInfo, true)
	case *page.EventFrameNavigated:
		// The URL is known here first; the title only once the new
		// document has parsed one, hence the refresh.
		if e.Frame != nil && e.Frame.ParentID == "" {
			url := e.Frame.URL + e.Frame.URLFragment
			p.update(true, func(i *PageInfo) { i.URL = url })
			p.poke()
		}
	case *page.EventNavigatedWithinDocument:
		// A page target's main frame id is its target id.
		if string(e.FrameID) == p.targetID {
			p.update(true, func(i *PageInfo) { i.URL = e.URL })
			p.poke()
		}
	case *page.EventDomContentEventFired, *page.EventLoadEventFired, *page.EventFrameStoppedLoading:
		p.poke()
	}
}

// poke asks the refresher for a title refresh without ever waiting.
func (p *Page) poke() {
	select {
	case p.refresh <- struct{}{}:
	default:
	}
}

// refreshTitles re-reads the tab's URL and title from the browser when
// poked and every refreshInterval, until the tab context ends.
func (p *Page) refreshTitles() {
	tick := time.NewTicker(refreshInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.refresh:
		case <-tick.C:
		}
		p.mu.Lock()
		gen := p.gen
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(p.ctx, probeTimeout)
		res, err := chromedp.CallBrowser(ctx, target.GetTargetInfo, target.GetTargetInfoParams{TargetID: target.ID(p.targetID)})
		cancel()
		if err != nil || res.TargetInfo == nil {
			continue
		}
		p.mu.Lock()
		stale := p.gen != gen
		p.mu.Unlock()
		if stale {
			// An event moved the page on while we asked; our answer may
			// predate it. Ask again rather than step back.
			p.poke()
			continue
		}
		p.fromTargetInfo(res.TargetInfo, false)
	}
}

func (p *Page) fromTargetInfo(ti *target.Info, event bool) {
	if ti == nil || string(ti.TargetID) != p.targetID {
		return
	}
	p.update(event, func(i *PageInfo) { i.URL, i.Title = ti.URL, ti.Title })
}

// update applies f and hands the result to every subscriber; event marks
// changes that come from CDP events, which a refresh must not undo. Each
// subscription is a one-slot mailbox that keeps only the newest PageInfo:
// a slow reader skips intermediate states but never misses the latest, and
// the event loop never waits for it.
func (p *Page) update(event bool, f func(*PageInfo)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if event {
		p.gen++
	}
	next := p.info
	f(&next)
	if next == p.info {
		return
	}
	p.info = next
	for _, ch := range p.subs {
		offerLatest(ch, next)
	}
}

// offerLatest replaces whatever ch holds with v. Only callers holding p.mu
// send, so after the drain the send cannot block.
func offerLatest(ch chan PageInfo, v PageInfo) {
	select {
	case <-ch:
	default:
	}
	ch <- v
}

// Context is the chromedp context bound to the attached tab:
// chromedp.Do(p.Context(), chromedp.Navigate(u)). Derive timeouts from it
// with context.WithTimeout, never with chromedp.NewContext, which would open
// a new tab. It is cancelled when the Page is done.
func (p *Page) Context() context.Context { return p.ctx }

// TargetID is the DevTools id of the attached tab.
func (p *Page) TargetID() string { return p.targetID }

// Info is the tab's current URL and title, as last reported by Chromium.
func (p *Page) Info() PageInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info
}

// Subscribe follows the tab's URL and title. The channel starts with the
// current PageInfo and then coalesces: it holds at most one value, always
// the newest, so a slow reader sees the latest state without ever blocking
// the event loop. It is closed when the Page is done or cancel is called
// (cancel may be called more than once).
func (p *Page) Subscribe() (<-chan PageInfo, func()) {
	ch := make(chan PageInfo, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	ch <- p.info
	if p.closed {
		close(ch)
		return ch, func() {}
	}
	id := p.nextSub
	p.nextSub++
	p.subs[id] = ch
	return ch, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if c, ok := p.subs[id]; ok {
			delete(p.subs, id)
			close(c)
		}
	}
}

// Browser is what /json/version reported at attach time.
func (p *Page) Browser() *Version {
	v := p.version
	return &v
}

// Done is closed when the attachment ends: Detach, the tab was closed, or
// the browser went away. Err says which.
func (p *Page) Done() <-chan struct{} { return p.done }

// Err is nil while attached, and afterwards wraps ErrDetached,
// ErrTabClosed or ErrBrowserGone with a sentence naming the endpoint.
func (p *Page) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Detach lets go of the tab and leaves it open, then frees the connection.
// It waits until that is done and is safe to call more than once; after the
// Page ended for another reason it only returns nil.
func (p *Page) Detach() error {
	p.detachOnce.Do(func() { close(p.detachReq) })
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.detachErr
}

// String names the attachment for logs.
func (p *Page) String() string {
	return fmt.Sprintf("tab %s at %s", p.targetID, p.endpoint.HTTP)
}
