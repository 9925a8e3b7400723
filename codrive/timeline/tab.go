package timeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
)

// Defaults of ShotOptions.
const (
	DefaultShotWidth   = 960
	DefaultShotQuality = 60
)

// ShotOptions shape a screenshot.
type ShotOptions struct {
	// MaxWidth scales the visible part of the page down to at most this
	// many pixels wide (never up); default DefaultShotWidth.
	MaxWidth int
	// Quality is the JPEG quality, 1 to 100; default DefaultShotQuality.
	Quality int
}

func (o ShotOptions) withDefaults() (ShotOptions, error) {
	if o.MaxWidth < 0 || o.Quality < 0 || o.Quality > 100 {
		return o, fmt.Errorf("timeline: bad ShotOptions %+v (MaxWidth ≥ 0, Quality 0 to 100)", o)
	}
	if o.MaxWidth == 0 {
		o.MaxWidth = DefaultShotWidth
	}
	if o.Quality == 0 {
		o.Quality = DefaultShotQuality
	}
	return o, nil
}

// Screenshot takes a JPEG of what the tab shows now: its visible part,
// scaled down to o.MaxWidth. ctx is a chromedp context bound to the tab,
// such as cdp.Page.Context() (with a deadline of the caller's). It talks to
// Chromium directly, never through codrive's proxy and its gate: reading
// the screen is not acting on the page.
func Screenshot(ctx context.Context, o ShotOptions) ([]byte, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	m, err := chromedp.Call(ctx, page.GetLayoutMetrics, struct{}{})
	if err != nil {
		return nil, fmt.Errorf("page layout: %w", err)
	}
	vp := m.CSSVisualViewport
	if vp == nil || vp.ClientWidth <= 0 || vp.ClientHeight <= 0 {
		return nil, errors.New("page layout: the tab has no visible area")
	}
	scale := math.Min(1, float64(o.MaxWidth)/vp.ClientWidth)
	q := int64(o.Quality)
	fast := true
	res, err := chromedp.Call(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:  page.CaptureScreenshotFormatJpeg,
		Quality: &q,
		// The visible part, where it is scrolled to, at the scale wanted:
		// Chromium scales while it renders, cheaper than a full-size shot.
		Clip:             &page.Viewport{X: vp.PageX, Y: vp.PageY, Width: vp.ClientWidth, Height: vp.ClientHeight, Scale: scale},
		OptimizeForSpeed: &fast,
	})
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if len(res.Data) == 0 {
		return nil, errors.New("capture: Chromium returned no image")
	}
	return res.Data, nil
}

// TabOptions configure AttachTab.
type TabOptions struct {
	// Target selects the tab as codrive does: "" for the first page, a
	// target id, or a substring of its URL.
	Target string
	Shot   ShotOptions
	Logger *slog.Logger
}

// Tab takes screenshots of one tab over a DevTools connection of its own.
// Its Capture is a CaptureFunc. When the tab or the browser goes away it
// attaches again, to the same Target, on the next Capture.
type Tab struct {
	cdpURL string
	opts   TabOptions

	mu     sync.Mutex
	page   *cdp.Page
	closed bool
}

// AttachTab attaches to the tab at cdpURL (Chromium's debugging endpoint,
// in any form codrive accepts). Close it when done; the tab stays open.
func AttachTab(ctx context.Context, cdpURL string, o TabOptions) (*Tab, error) {
	var err error
	if o.Shot, err = o.Shot.withDefaults(); err != nil {
		return nil, err
	}
	t := &Tab{cdpURL: cdpURL, opts: o}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.attached(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// attached is the live attachment, made again if it ended. Called with
// t.mu held.
func (t *Tab) attached(ctx context.Context) (*cdp.Page, error) {
	if t.page != nil {
		select {
		case <-t.page.Done():
			t.page = nil
		default:
			return t.page, nil
		}
	}
	p, err := cdp.Attach(ctx, t.cdpURL, cdp.AttachOptions{Target: t.opts.Target, Logger: t.opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("timeline: attach for screenshots: %w", err)
	}
	t.page = p
	return p, nil
}

// Capture takes a screenshot of the tab now (see Screenshot). A screenshot
// that a navigation overtakes fails or never completes in Chromium (the
// page it was taken of is gone), so one that sees the tab navigate, fail
// or stall is taken again, within ctx.
func (t *Tab) Capture(ctx context.Context) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("timeline: tab capturer closed")
	}
	var err error
	failures, navigations := 0, 0
	for {
		var p *cdp.Page
		if p, err = t.attached(ctx); err != nil {
			return nil, err
		}
		var img []byte
		if img, err = t.captureOnce(ctx, p); err == nil {
			return img, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		// A navigation is the page moving on, not the screenshot failing:
		// one navigation reports its URL in several steps (about:blank, the
		// request, the commit, a redirect) and each overtakes a shot that a
		// loaded machine was slow to take.
		if errors.Is(err, errNavigated) {
			navigations++
		} else {
			failures++
		}
		if failures == captureAttempts || navigations == navigationAttempts {
			return nil, fmt.Errorf("%w (%d attempts)", err, failures+navigations)
		}
	}
}

// captureAttempts bounds the retries of one Capture; attemptTimeout one
// attempt: a screenshot takes tens of milliseconds, a few hundred on a
// loaded machine, and one that stalls is overtaken by a navigation that
// did not change the URL (a reload).
const (
	captureAttempts = 3
	attemptTimeout  = 3 * time.Second
	// navigationAttempts bounds the shots a navigating tab overtakes: a
	// tab that never stops navigating gets no screenshot.
	navigationAttempts = 10
)

var errNavigated = errors.New("the tab navigated during the screenshot")

// captureOnce takes one screenshot, abandoned when the tab's URL changes
// meanwhile.
func (t *Tab) captureOnce(ctx context.Context, p *cdp.Page) ([]byte, error) {
	infos, unsubscribe := p.Subscribe()
	defer unsubscribe()
	before := (<-infos).URL
	// A context of the tab's, bounded by ctx: a chromedp action only runs
	// on a context derived from the one bound to the tab.
	tctx, cancel := context.WithTimeout(p.Context(), attemptTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	type result struct {
		img []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		img, err := Screenshot(tctx, t.opts.Shot)
		done <- result{img, err}
	}()
	for {
		select {
		case r := <-done:
			return r.img, r.err
		case info, ok := <-infos:
			if ok && (info.URL == before || info.URL == "") {
				// A title changed, or Chromium is between two pages (it
				// reports no URL for a moment): the commit comes next.
				continue
			}
			cancel()
			<-done
			return nil, errNavigated
		}
	}
}

// Close lets go of the tab, leaving it open.
func (t *Tab) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.page == nil {
		return nil
	}
	err := t.page.Detach()
	t.page = nil
	return err
}
