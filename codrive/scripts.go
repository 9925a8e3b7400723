package codrive

import (
	"context"
	"errors"
	"fmt"

	"github.com/playwright-community/playwright-go"

	"github.com/codrive/codrive/cdp"
)

// ErrNoProxy is returned by the script helpers of a Session started without
// Options.Listen.
var ErrNoProxy = errors.New("codrive: the session has no CDP proxy (set Options.Listen)")

// Chromedp attaches to the session's tab through the proxy and returns it:
// run chromedp actions on page.Context(); they wait while a person drives.
// Detach when done; the tab stays open.
func (s *Session) Chromedp(ctx context.Context) (*cdp.Page, error) {
	if s.proxy == nil {
		return nil, ErrNoProxy
	}
	return cdp.Attach(ctx, s.proxy.URL(), cdp.AttachOptions{Target: s.PageInfo().TargetID, Logger: s.opts.Logger})
}

// Playwright connects pw to the browser through the proxy. The session's
// tab is browser.Contexts()[0].Pages()[0] (with one tab open); its actions
// wait while a person drives. browser.Close only disconnects.
func (s *Session) Playwright(pw *playwright.Playwright) (playwright.Browser, error) {
	if s.proxy == nil {
		return nil, ErrNoProxy
	}
	b, err := pw.Chromium.ConnectOverCDP(s.proxy.URL())
	if err != nil {
		return nil, fmt.Errorf("codrive: playwright over the proxy: %w", err)
	}
	return b, nil
}
