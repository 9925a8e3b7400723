package oneshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/neko"
)

// WaitOptions configures WaitReady.
type WaitOptions struct {
	Login
	// CDPURL is Chromium's debugging endpoint.
	CDPURL string
	// Interval between attempts; default 500ms.
	Interval time.Duration
	// Progress, if set, is called when a step starts, on every failed
	// attempt, and when it succeeds.
	Progress func(WaitProgress)
}

// WaitProgress reports one step of WaitReady.
type WaitProgress struct {
	Step    string        // one of the WaitStep names
	Elapsed time.Duration // since WaitReady started
	Attempt int           // 0 when the step starts, then 1, 2, ...
	Done    bool          // the step succeeded
	Err     error         // the attempt's error
}

// The steps WaitReady goes through, in order.
const (
	WaitStepHealth = "neko /health"
	WaitStepLogin  = "neko login"
	WaitStepCDP    = "chromium /json/version"
)

// WaitReady waits until neko answers /health, accepts codrive's login and
// Chromium answers /json/version, in that order: what a CI job needs before
// it starts driving a freshly started container. A refused login ends the
// wait at once (the server is up and the password is wrong: waiting will
// not fix it). When ctx ends first, the error names the step that never came
// up and its last error.
func WaitReady(ctx context.Context, o WaitOptions) error {
	if o.Interval <= 0 {
		o.Interval = 500 * time.Millisecond
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	if _, err := cdp.ParseEndpoint(o.CDPURL); err != nil {
		return err
	}
	start := time.Now()
	steps := []struct {
		name string
		try  func(context.Context) error
	}{
		{WaitStepHealth, c.Health},
		{WaitStepLogin, func(ctx context.Context) error {
			if _, err := c.Login(ctx, o.User, o.Password); err != nil {
				return err
			}
			return c.Logout(ctx)
		}},
		{WaitStepCDP, func(ctx context.Context) error {
			_, err := cdp.GetVersion(ctx, o.CDPURL)
			return err
		}},
	}
	for _, s := range steps {
		if err := waitStep(ctx, s.name, s.try, o, start); err != nil {
			return err
		}
	}
	return nil
}

func waitStep(ctx context.Context, name string, try func(context.Context) error, o WaitOptions, start time.Time) error {
	report := func(p WaitProgress) {
		if o.Progress != nil {
			p.Step, p.Elapsed = name, time.Since(start)
			o.Progress(p)
		}
	}
	report(WaitProgress{})
	var last error
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, max(o.Interval*4, 2*time.Second))
		err := try(actx)
		cancel()
		if err == nil {
			report(WaitProgress{Attempt: attempt, Done: true})
			return nil
		}
		if errors.Is(err, neko.ErrUnauthorized) || errors.Is(err, neko.ErrLoginsLocked) {
			return fmt.Errorf("%s: %w", name, err)
		}
		if ctx.Err() == nil {
			last = err
		}
		report(WaitProgress{Attempt: attempt, Err: err})
		t := time.NewTimer(o.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				last = ctx.Err()
			}
			return &WaitError{Step: name, Elapsed: time.Since(start), Last: last}
		case <-t.C:
		}
	}
}

// WaitError says which step of WaitReady never came up.
type WaitError struct {
	Step    string        // the step that never succeeded
	Elapsed time.Duration // how long WaitReady waited in all
	Last    error         // the step's last error
}

// Error says which step never came up, after how long, and why.
func (e *WaitError) Error() string {
	return fmt.Sprintf("%s never came up (waited %s): %v", e.Step, e.Elapsed.Round(100*time.Millisecond), e.Last)
}

// Unwrap lets errors.Is see the last error (e.g. neko.ErrUnreachable).
func (e *WaitError) Unwrap() error { return e.Last }
