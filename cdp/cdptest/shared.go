package cdptest

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Shared is one Chromium that a test package starts on first use and its
// tests share, each in a tab of its own: on two cores one browser per
// package keeps `make test` short. The zero value is ready; TestMain calls
// Close after m.Run.
type Shared struct {
	// Options start it; set before the first Get.
	Options Options

	once sync.Once
	c    *Chromium
	err  error
}

// Get starts the Chromium on first use. Like Require, it skips (or, under
// CI=true, fails) when there is no Chromium; a start that failed fails
// every test that asks.
func (s *Shared) Get(tb testing.TB) *Chromium {
	tb.Helper()
	Require(tb)
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		s.c, s.err = Start(ctx, s.Options)
	})
	if s.err != nil {
		tb.Fatalf("shared chromium: %v", s.err)
	}
	return s.c
}

// Close stops the Chromium, if it was started.
func (s *Shared) Close() {
	if s.c != nil {
		s.c.Close()
	}
}
