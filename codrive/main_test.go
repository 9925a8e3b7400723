package codrive

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
)

// shared is one Chromium for the tests that can work in a tab of their own;
// tests that need the whole browser (Playwright sees every tab, a restart
// kills it) start their own.
var shared cdptest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections() // chromedp's remote allocator uses the default client
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// sharedChromium starts the package's Chromium on first use, skipping (or
// failing under CI) where there is none.
func sharedChromium(t testing.TB) *cdptest.Chromium {
	t.Helper()
	return shared.Get(t)
}
