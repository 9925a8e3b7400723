package codrivepw_test

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/codrivepw"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Without Options.Listen there is no proxy to connect through: a clear
// error, before Playwright is touched (pw may be nil).
func TestConnectNeedsProxy(t *testing.T) {
	if _, err := codrivepw.Connect(&codrive.Session{}, nil); !errors.Is(err, codrive.ErrNoProxy) {
		t.Fatalf("Connect without a proxy: %v, want ErrNoProxy", err)
	}
}
