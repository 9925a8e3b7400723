// Package codrivepw connects Playwright for Go (playwright-go) to a codrive
// Session. It is a package of its own so that programs that drive with
// chromedp alone do not link Playwright and its driver runner.
package codrivepw

import (
	"fmt"

	"github.com/playwright-community/playwright-go"

	"github.com/codrive/codrive/codrive"
)

// Connect connects pw to the browser through the session's CDP proxy
// (Options.Listen must be set, else codrive.ErrNoProxy). The session's tab
// is browser.Contexts()[0].Pages()[0] when it is the only one; its acting
// calls wait while a person drives. browser.Close only disconnects: the
// browser and its tabs stay. With Options.Token, use
// pw.Chromium.ConnectOverCDP with the token in the URL or a header instead.
func Connect(s *codrive.Session, pw *playwright.Playwright) (playwright.Browser, error) {
	u := s.ProxyURL()
	if u == "" {
		return nil, codrive.ErrNoProxy
	}
	b, err := pw.Chromium.ConnectOverCDP(u)
	if err != nil {
		return nil, fmt.Errorf("codrivepw: connect over the proxy %s: %w", u, err)
	}
	return b, nil
}
