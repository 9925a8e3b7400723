package timeline

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/proctest"
)

var update = flag.Bool("update", false, "re-record the representative report, paced like a real run, and rewrite its picture in testdata/")

// shared is the one Chromium the package's tests share, each in a tab of
// its own; set in TestMain, only read after. Its window is the size the
// report's picture is taken at.
var shared = cdptest.Shared{Options: cdptest.Options{ExtraFlags: []string{"--window-size=1280,800", "--hide-scrollbars"}}}

// bin is the codrive binary the tests run as a process.
var bin = proctest.Binary{NoRace: true} // the representative recording is paced like a real run

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	code := m.Run()
	bin.Remove()
	shared.Close()
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.CloseIdleConnections() // chromedp's remote allocator uses the default client
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak after the tests: %v\n", err)
			return 1
		}
	}
	return code
}

// chromium returns the shared Chromium, skipping (or failing under CI)
// when there is none.
func chromium(tb testing.TB) *cdptest.Chromium {
	tb.Helper()
	return shared.Get(tb)
}

// codriveBin builds cmd/codrive once. The timeline tests drive the real
// binary, as a user runs `codrive attach --json`, rather than the Go API.
func codriveBin(t *testing.T) string {
	t.Helper()
	return bin.Path(t)
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
