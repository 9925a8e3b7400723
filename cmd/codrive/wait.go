package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/oneshot"
)

func waitCommand() *cli.Command {
	return &cli.Command{
		Name:         "wait",
		Usage:        "wait until neko answers /health, the login works and Chromium answers /json/version",
		ArgsUsage:    " ",
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: []cli.Flag{
			durationFlag("timeout", 60*time.Second, "give up after this long, naming what never came up"),
		},
		Action: func(c *cli.Context) error {
			pw, err := password(c)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(c.App.ErrWriter)
			defer stop()
			ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
			defer cancel()
			p := newProgress(c.App.Writer)
			err = oneshot.WaitReady(ctx, oneshot.WaitOptions{
				Login: login(c, pw), CDPURL: c.String("cdp"), Progress: p.report,
			})
			p.finish()
			if err != nil {
				var we *oneshot.WaitError
				if errors.As(err, &we) {
					// Not reachable in time is what wait is about: exit 4.
					return cli.Exit(err.Error(), exitcode.Unreachable)
				}
				return err
			}
			fmt.Fprintln(c.App.Writer, "ready: neko and Chromium answer")
			return nil
		},
	}
}

// progress shows WaitReady's progress: one line rewritten in place on a
// terminal, plain lines (one per step and outcome) otherwise.
type progress struct {
	w    io.Writer
	tty  bool
	last string
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	return &progress{w: w, tty: tty}
}

func (p *progress) report(ev oneshot.WaitProgress) {
	elapsed := ev.Elapsed.Round(100 * time.Millisecond)
	switch {
	case ev.Done:
		p.line(fmt.Sprintf("ok       %s (%s)", ev.Step, elapsed), true)
	case ev.Err != nil:
		if p.tty {
			p.line(fmt.Sprintf("waiting  %s (%s, attempt %d): %v", ev.Step, elapsed, ev.Attempt, ev.Err), false)
		} else if ev.Attempt == 1 {
			// Plain output: say why once, not on every attempt.
			p.line(fmt.Sprintf("waiting  %s: %v", ev.Step, ev.Err), true)
		}
	default:
		if p.tty {
			p.line(fmt.Sprintf("waiting  %s (%s)", ev.Step, elapsed), false)
		}
	}
}

func (p *progress) line(s string, final bool) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
		if final {
			fmt.Fprintln(p.w)
		}
		p.last = s
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *progress) finish() {
	if p.tty && p.last != "" {
		fmt.Fprintln(p.w)
	}
}
