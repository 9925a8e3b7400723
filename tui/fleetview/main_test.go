package fleetview

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/fleettest"
)

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
	cdptest.Require(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		shared.c, shared.err = cdptest.Start(ctx, cdptest.Options{})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}
