package fleetview

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/fleettest"
)

var shared cdptest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	shared.Close()
	fleettest.Cleanup()
	if code == 0 {
		if err := goleak.Find(
			// teatest waits for SIGINT on a goroutine it never stops.
			goleak.IgnoreTopFunction("github.com/charmbracelet/x/exp/teatest.NewTestModel.func2"),
			goleak.IgnoreTopFunction("os/signal.signal_recv"),
		); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func chromium(t *testing.T) *cdptest.Chromium {
	t.Helper()
	return shared.Get(t)
}
