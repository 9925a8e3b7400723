package cdp_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
)

// shared is the one Chromium that the tests which do not kill or close the
// browser share; each of them works in a tab of its own (cdptest NewTabT).
// It is set once in TestMain, before any test runs, and only read after.
var shared *cdptest.Chromium

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if cdptest.Available() {
		c, err := cdptest.Start(context.Background(), cdptest.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, "start shared chromium:", err)
			return 1
		}
		shared = c
	}
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			return 1
		}
	}
	return code
}

// sharedChromium returns the package's Chromium, skipping (or failing
// under CI) when there is none, as cdptest.Require does.
func sharedChromium(tb testing.TB) *cdptest.Chromium {
	tb.Helper()
	cdptest.Require(tb)
	if shared == nil {
		tb.Fatal("shared chromium did not start")
	}
	return shared
}
