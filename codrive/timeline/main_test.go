package timeline

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/cdp/cdptest"
)

var update = flag.Bool("update", false, "re-record the representative report, paced like a real run, and rewrite its picture in testdata/")

// shared is the one Chromium the package's tests share, each in a tab of
// its own; set in TestMain, only read after. Its window is the size the
// report's picture is taken at.
var shared = cdptest.Shared{Options: cdptest.Options{ExtraFlags: []string{"--window-size=1280,800", "--hide-scrollbars"}}}

var (
	tmpDir  string
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if tmpDir, err = os.MkdirTemp("", "codrive-timeline-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmpDir)
	code := m.Run()
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
	binOnce.Do(func() {
		binPath = filepath.Join(tmpDir, "codrive")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/codrive")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/codrive: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
