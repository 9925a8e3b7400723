package codrive

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/codrive/cdpproxy"
	"github.com/codrive/codrive/internal/pubsub"
)

// Options configures Attach: the neko side (Config) and the browser side.
type Options struct {
	Config
	// CDPURL is Chromium's debugging endpoint, e.g. http://127.0.0.1:9222.
	CDPURL string
	// Target selects the tab: "" for the first page, a target id, or a URL
	// substring.
	Target string
	// ReattachMin and ReattachMax bound the backoff between attempts to
	// attach again after Chromium went away. Defaults 500ms and 10s.
	ReattachMin, ReattachMax time.Duration

	// Listen, if set, starts the CDP gating proxy on this address (e.g.
	// 127.0.0.1:9223, or 127.0.0.1:0 for a free port). Scripts connect to it
	// instead of Chromium; their acting commands wait while a person drives.
	Listen string
	// Token is required by the proxy on a non-loopback Listen address.
	Token string
	// HoldTimeout fails a held command after this long; default 10m.
	HoldTimeout time.Duration
	// LogCDP logs proxied message bodies (they carry page data: off by
	// default).
	LogCDP bool
	// MaxMessage bounds one CDP message from a script, in bytes; default
	// cdpproxy.DefaultMaxMessage (see cdpproxy.Options.MaxMessage).
	MaxMessage int64
}

// Session is one codrive process's work: an Arbiter on the neko side and an
// attachment to the browser's tab on the other. Its events are the
// arbiter's, plus "page" (the tab's URL or title changed) and "browser"
// (Chromium went away or came back), each carrying the tab's PageInfo.
type Session struct {
	*Arbiter
	opts Options

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hub    pubsub.Hub[Event]

	proxy *cdpproxy.Proxy
	ctrl  *controller

	mu      sync.Mutex
	page    *cdp.Page
	info    PageInfo
	browser cdp.Version
}

// Attach attaches to the browser's existing tab (it never opens one) and to
// neko. Chromium is tried first so a missing debugging port fails fast,
// before any neko session exists.
func Attach(ctx context.Context, opts Options) (*Session, error) {
	if opts.CDPURL == "" {
		return nil, errors.New("codrive: CDP URL is required")
	}
	if err := opts.Config.defaults(); err != nil {
		return nil, err
	}
	if opts.ReattachMin <= 0 {
		opts.ReattachMin = 500 * time.Millisecond
	}
	if opts.ReattachMax <= 0 {
		opts.ReattachMax = 10 * time.Second
	}
	page, err := cdp.Attach(ctx, opts.CDPURL, cdp.AttachOptions{Target: opts.Target, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	arb, err := Connect(ctx, opts.Config)
	if err != nil {
		_ = page.Detach()
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Session{Arbiter: arb, opts: opts, ctx: sctx, cancel: cancel}
	if opts.Listen != "" {
		ep, _ := cdp.ParseEndpoint(opts.CDPURL) // parsed fine: Attach succeeded
		s.ctrl = newController(arb)
		s.proxy, err = cdpproxy.Listen(cdpproxy.Options{
			Upstream: ep.HTTP, Addr: opts.Listen, Token: opts.Token,
			Controller: s.ctrl, HoldTimeout: opts.HoldTimeout, MaxMessage: opts.MaxMessage, LogCDP: opts.LogCDP, Logger: opts.Logger,
		})
		if err != nil {
			s.ctrl.close()
			cancel()
			_ = page.Detach()
			_ = arb.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("codrive: CDP proxy: %w", err)
		}
	}
	s.setPage(page)
	evs, unsub := arb.Subscribe()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		defer unsub()
		for ev := range evs {
			s.publish(ev)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.followBrowser(page)
	}()
	return s, nil
}

// ProxyURL is the CDP proxy's HTTP endpoint (e.g. http://127.0.0.1:9223),
// or "" without Options.Listen. Point Playwright's ConnectOverCDP or
// chromedp's remote allocator at it.
func (s *Session) ProxyURL() string {
	if s.proxy == nil {
		return ""
	}
	return s.proxy.URL()
}

// Proxy is the CDP gating proxy, nil without Options.Listen.
func (s *Session) Proxy() *cdpproxy.Proxy { return s.proxy }

// Subscribe delivers the session's events from now on, in order, until the
// session closes or cancel is called.
func (s *Session) Subscribe() (<-chan Event, func()) { return s.hub.Subscribe() }

// Page is the current tab attachment, nil while Chromium is gone. It changes
// after a re-attach.
func (s *Session) Page() *cdp.Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.page
}

// PageInfo is the tab's last known URL and title.
func (s *Session) PageInfo() PageInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}

// Browser is what Chromium's /json/version said at the last attach.
func (s *Session) Browser() cdp.Version {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.browser
}

func (s *Session) setPage(p *cdp.Page) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.page = p
	if p == nil {
		s.info.Attached = false
		return
	}
	i := p.Info()
	s.info = PageInfo{TargetID: i.TargetID, URL: i.URL, Title: i.Title, Attached: true}
	s.browser = *p.Browser()
}

func (s *Session) publish(ev Event) {
	info := s.PageInfo()
	ev.Page = &info
	s.hub.Publish(ev)
}

func (s *Session) note(kind EventKind, reason string) {
	s.publish(Event{Time: time.Now(), Kind: kind, Reason: reason, Status: s.Status()})
}

// followBrowser tracks the tab and, when Chromium goes away, reports it and
// attaches again with backoff until the session closes.
func (s *Session) followBrowser(page *cdp.Page) {
	for {
		s.followPage(page)
		if s.ctx.Err() != nil {
			return
		}
		why := "chromium went away"
		if err := page.Err(); err != nil {
			why = err.Error()
		}
		s.setPage(nil)
		s.note(EventBrowser, why+"; re-attaching")
		page = s.reattach()
		if page == nil {
			return
		}
		s.setPage(page)
		s.note(EventBrowser, "attached again to "+page.String())
	}
}

func (s *Session) followPage(page *cdp.Page) {
	infos, cancel := page.Subscribe()
	defer cancel()
	for {
		select {
		case i, ok := <-infos:
			if !ok {
				<-page.Done()
				return
			}
			if i.URL == "" {
				// Mid-navigation Chromium reports no URL for a moment.
				continue
			}
			s.mu.Lock()
			// One event per navigation: titles settle in steps (Chromium
			// shows the URL as a title first) and only update PageInfo.
			changed := s.info.URL != i.URL
			s.info = PageInfo{TargetID: i.TargetID, URL: i.URL, Title: i.Title, Attached: true}
			s.mu.Unlock()
			if changed {
				s.note(EventPage, "navigated")
			}
		case <-page.Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}

func (s *Session) reattach() *cdp.Page {
	delay := s.opts.ReattachMin
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(jitter(delay))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		actx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		p, err := cdp.Attach(actx, s.opts.CDPURL, cdp.AttachOptions{Target: s.opts.Target, Logger: s.opts.Logger})
		cancel()
		if err == nil {
			return p
		}
		if s.ctx.Err() != nil {
			return nil
		}
		s.opts.Logger.Debug("codrive: re-attach failed", "attempt", attempt, "err", err)
		delay = min(delay*2, s.opts.ReattachMax)
	}
}

// jitter spreads d by ±20% so many codrives do not retry in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Close ends the session: the arbiter releases control and restores the
// room (see Arbiter.Close), then the tab is let go, left open.
func (s *Session) Close(ctx context.Context) error {
	var err error
	if s.proxy != nil {
		// Scripts first: nothing may act once codrive starts letting go.
		err = s.proxy.Close()
		s.ctrl.close()
	}
	err = errors.Join(err, s.Arbiter.Close(ctx))
	s.cancel()
	if p := s.Page(); p != nil {
		if derr := p.Detach(); derr != nil {
			err = errors.Join(err, fmt.Errorf("detach from the tab: %w", derr))
		}
	}
	s.wg.Wait()
	s.hub.Close()
	return err
}
