// Package cdptest starts a real, headless Debian Chromium for tests: on a free
// loopback port, with a fresh profile, and stops it on cleanup. No test in this
// repository mocks Chromium; they all go through here.
package cdptest

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/codrive/codrive/cdp"
)

// DefaultBinary is Debian's chromium. CODRIVE_CHROMIUM overrides it.
const DefaultBinary = cdp.DefaultBinary

// Options tune a started Chromium. The zero value is fine.
type Options = cdp.LaunchOptions

// Chromium is a running headless Chromium with its debugging port open.
type Chromium struct {
	*cdp.Browser
}

// Binary reports the chromium executable tests will use.
func Binary() string { return cdp.ChromiumBinary() }

// Available reports whether the chromium binary exists.
func Available() bool { return cdp.ChromiumAvailable() }

// Require is the guard every Chromium test starts with: without Chromium the
// test is skipped locally, but under CI (CI=true) it fails, because a missing
// browser there is a broken set-up, not a reason to pass.
func Require(tb testing.TB) {
	tb.Helper()
	if Available() {
		return
	}
	msg := fmt.Sprintf("chromium not found at %s (install Debian's chromium: make setup)", Binary())
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// Start launches Chromium and waits until its /json/version answers. The
// caller must Close it.
func Start(ctx context.Context, opts Options) (*Chromium, error) {
	b, err := cdp.Launch(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Chromium{Browser: b}, nil
}

// StartT starts Chromium for one test and closes it on cleanup.
func StartT(tb testing.TB, opts Options) *Chromium {
	tb.Helper()
	Require(tb)
	c, err := Start(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return c
}
