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

// ErrClosed is returned by calls on a Session that is closing or closed.
var ErrClosed = errors.New("codrive: session closed")

// Session is codrive at work on one room: a neko session that arbitrates
// host control, attached to the browser's tab, with the CDP proxy if
// Options.Listen asked for it. Attach makes one; Close ends it. Its methods
// are safe for concurrent use.
type Session struct {
	arb  *arbiter
	opts Options

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	hub    pubsub.Hub[Event]

	proxy  *cdpproxy.Proxy
	ctrl   *controller
	pstats *proxyStats
	rec    *recording // Options.Record; nil without

	closeOnce sync.Once

	mu   sync.Mutex
	page *cdp.Page
	info PageInfo
	// Re-attaches to Chromium, by cause (Stats.Reconnects).
	browserGone, tabClosed int64
}

// Attach starts codrive: it attaches to the browser's existing tab (it never
// opens one), logs in to neko, opens its WebSocket and, with Options.Listen,
// starts the CDP proxy. It does not take control yet: automation asks for it
// when it first acts (Begin, Do, Wait, or a script's acting command through
// the proxy), or Acquire asks at once.
//
// Chromium is tried first, so a missing debugging port fails fast, before
// any neko session exists; with Options.WaitTimeout Attach waits for each
// instead. The error wraps neko.ErrUnauthorized when neko refused the
// login, neko.ErrUnreachable or cdp.ErrNoEndpoint when a side did not
// answer. ctx bounds Attach only; the session lives until Close.
func Attach(ctx context.Context, opts Options) (*Session, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	w, stop := newStartWait(ctx, opts)
	defer stop()
	var page *cdp.Page
	if opts.CDPURL != "" {
		page, err = waitFor(w, PeerChromium, opts.CDPURL, func(ctx context.Context) (*cdp.Page, error) {
			return cdp.Attach(ctx, opts.CDPURL, cdp.AttachOptions{Target: opts.Target, Logger: opts.Logger})
		}, chromiumTransient)
		if err != nil {
			return nil, err
		}
	}
	arb, err := waitFor(w, PeerNeko, opts.NekoURL, func(ctx context.Context) (*arbiter, error) {
		return connect(ctx, opts)
	}, nekoTransient)
	if err != nil {
		if page != nil {
			_ = page.Detach()
		}
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &Session{arb: arb, opts: opts, ctx: sctx, cancel: cancel, pstats: newProxyStats()}
	// undo lets go of what Attach set up so far, when a later part fails.
	undo := func(err error) (*Session, error) {
		if s.ctrl != nil {
			s.ctrl.close()
		}
		cancel()
		if page != nil {
			_ = page.Detach()
		}
		_ = arb.Close(context.WithoutCancel(ctx))
		if s.rec != nil {
			_ = s.rec.close(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	if opts.Record != "" {
		target := ""
		if page != nil {
			target = page.TargetID() // the tab codrive attached to, whatever Target matched
		}
		if s.rec, err = startRecording(ctx, opts, target); err != nil {
			return undo(err)
		}
	}
	var onHeld func(cdpproxy.HeldCommand)
	if s.rec != nil {
		onHeld = s.rec.rec.Held
	}
	if opts.Listen != "" {
		ep, _ := cdp.ParseEndpoint(opts.CDPURL) // parsed fine: Attach succeeded
		s.ctrl = newController(arb)
		s.proxy, err = cdpproxy.Listen(cdpproxy.Options{
			Upstream: ep.HTTP, Addr: opts.Listen, Token: opts.Token,
			Controller: s.ctrl, HoldTimeout: opts.HoldTimeout, HandoffTimeout: opts.HandoffTimeout, MaxMessage: opts.MaxMessage, LogCDP: opts.LogCDP, Logger: opts.Logger,
			Observer: s.pstats, OnHeld: onHeld,
		})
		if err != nil {
			return undo(fmt.Errorf("codrive: CDP proxy: %w", err))
		}
	}
	if page != nil {
		s.setPage(page)
	}
	if s.rec != nil {
		// Subscribed before the arbiter's events are published: the
		// recording misses none of them.
		recEvs, _ := s.hub.Subscribe()
		first := Event{Time: time.Now(), Kind: EventState, Reason: "attached", Status: s.Status()}
		if page != nil {
			info := s.PageInfo()
			first.Page = &info
		}
		go s.rec.feed(first, recEvs)
	}
	evs, unsub := arb.Subscribe()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer unsub()
		for ev := range evs {
			s.publish(ev)
		}
	}()
	if page != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.followBrowser(page)
		}()
	}
	return s, nil
}

// currentPage is the tab attachment, nil while Chromium is gone (or without
// a CDP URL). It changes after a re-attach.
func (s *Session) currentPage() *cdp.Page {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.page
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
}

func (s *Session) publish(ev Event) {
	if s.opts.CDPURL != "" {
		info := s.PageInfo()
		ev.Page = &info
	}
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
		why, cause := "chromium went away", page.Err()
		if cause != nil {
			why = cause.Error()
		}
		s.setPage(nil)
		s.note(EventBrowser, why+"; re-attaching")
		page = s.reattach()
		if page == nil {
			return
		}
		s.setPage(page)
		s.countReattach(cause)
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
	delay := s.opts.reattachMin
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
		delay = min(delay*2, s.opts.reattachMax)
	}
}

// jitter spreads d by ±20% so many codrives do not retry in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// Close ends the session and leaves the room as codrive found it: it closes
// the proxy (scripts first: nothing may act once codrive lets go), restores
// every room setting it changed, releases control if it holds it, closes its
// neko socket with a normal close (so neko clears the host at once rather
// than after its 5s grace) and logs out; the tab is let go, left open.
// When ctx ends first, the neko calls still under way are abandoned and
// Close returns at once with what it has. Calling it again returns nil.
func (s *Session) Close(ctx context.Context) error {
	err := ErrClosed
	s.closeOnce.Do(func() { err = s.close(ctx) })
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}

func (s *Session) close(ctx context.Context) error {
	var err error
	if s.proxy != nil {
		err = s.proxy.Close()
		s.ctrl.close()
	}
	err = errors.Join(err, s.arb.Close(ctx))
	s.cancel()
	if p := s.currentPage(); p != nil {
		if derr := p.Detach(); derr != nil {
			err = errors.Join(err, fmt.Errorf("detach from the tab: %w", derr))
		}
	}
	s.wg.Wait()
	s.hub.Close()
	if s.rec != nil {
		err = errors.Join(err, s.rec.close(ctx))
	}
	return err
}
