package codrive

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
)

// shared is one Chromium for the tests that can work in a tab of their own;
// tests that need the whole browser (Playwright sees every tab, a restart
// kills it) start their own.
var shared struct {
	once sync.Once
	c    *cdptest.Chromium
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		shared.c.Close()
	}
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
	cdptest.Require(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		shared.c, shared.err = cdptest.Start(ctx, cdptest.Options{})
	})
	if shared.err != nil {
		t.Fatalf("shared chromium: %v", shared.err)
	}
	return shared.c
}
