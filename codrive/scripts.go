package codrive

import (
	"context"
	"errors"

	"github.com/codrive/codrive/cdp"
)

// ErrNoProxy is returned by the script helpers of a Session started without
// Options.Listen.
var ErrNoProxy = errors.New("codrive: the session has no CDP proxy (set Options.Listen)")

// ProxyURL is the CDP proxy's HTTP endpoint, e.g. http://127.0.0.1:9223, or
// "" without Options.Listen. Scripts use it where they would use Chromium's:
// Playwright's connectOverCDP, chromedp's remote allocator. It carries no
// token: with Options.Token, scripts add ?token= or an Authorization header.
func (s *Session) ProxyURL() string {
	if s.proxy == nil {
		return ""
	}
	return s.proxy.URL()
}

// ProxyWSURL is the browser's WebSocket URL through the proxy
// (ws://127.0.0.1:9223/devtools/browser/ID, with ?token= when Options.Token
// is set): what puppeteer's browserWSEndpoint and tools that want a WebSocket
// take. It asks Chromium, hence the context.
func (s *Session) ProxyWSURL(ctx context.Context) (string, error) {
	if s.proxy == nil {
		return "", ErrNoProxy
	}
	return s.proxy.BrowserWSURL(ctx)
}

// ProxyStats counts what the CDP proxy did with scripts' commands since
// Attach.
type ProxyStats struct {
	// Scripts is the number of script connections open now.
	Scripts int64 `json:"scripts"`
	// Held is the number of acting commands waiting for control now.
	Held int64 `json:"held"`
	// HeldTotal counts the acting commands that had to wait.
	HeldTotal int64 `json:"heldTotal"`
	// Passed counts the commands forwarded to Chromium, acting or not.
	Passed int64 `json:"passed"`
	// TimedOut counts held commands failed after Options.HoldTimeout.
	TimedOut int64 `json:"timedOut"`
}

// ProxyStats returns the proxy's counters; zero without Options.Listen.
func (s *Session) ProxyStats() ProxyStats {
	if s.proxy == nil {
		return ProxyStats{}
	}
	st := s.proxy.Stats()
	return ProxyStats{Scripts: st.Connections, Held: st.Held, HeldTotal: st.HeldTotal, Passed: st.Passed, TimedOut: st.TimedOut}
}

// Chromedp attaches to the session's tab through the proxy and returns it:
// run chromedp actions on page.Context(); acting ones wait while a person
// drives. Detach the page when done; the tab stays open.
func (s *Session) Chromedp(ctx context.Context) (*cdp.Page, error) {
	if s.proxy == nil {
		return nil, ErrNoProxy
	}
	return cdp.Attach(ctx, s.proxy.URL(), cdp.AttachOptions{Target: s.PageInfo().TargetID, Logger: s.opts.Logger})
}
