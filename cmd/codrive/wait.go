package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/hint"
	"github.com/codrive/codrive/internal/oneshot"
	"github.com/codrive/codrive/internal/sanitize"
)

func waitCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:         "wait",
		Usage:        "wait until neko answers /health, the login works and Chromium answers /json/version",
		ArgsUsage:    " ",
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: []cli.Flag{
			durationFlag("timeout", 60*time.Second, "give up after this long, naming what never came up"),
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object at the end instead of progress lines"},
		},
		Action: st.wait,
	}
}

// waitResult is what `codrive wait --json` prints.
type waitResult struct {
	Ready    bool       `json:"ready"`
	Seconds  float64    `json:"seconds"`
	Steps    []waitStep `json:"steps"`
	Error    string     `json:"error,omitempty"`
	ExitCode int        `json:"exitCode"`
}

type waitStep struct {
	Step     string  `json:"step"`
	OK       bool    `json:"ok"`
	Seconds  float64 `json:"seconds"` // since wait started, when it came up or wait gave up
	Attempts int     `json:"attempts"`
	Error    string  `json:"error,omitempty"` // the last attempt's
}

func (st *appState) wait(c *cli.Context) error {
	if err := checkDurations(c, "timeout"); err != nil {
		return err
	}
	login, err := st.login(c)
	if err != nil {
		return err
	}
	cdpURL, err := st.cdpURL(c)
	if err != nil {
		return err
	}
	ctx, stop := signalContext(c.App.ErrWriter)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
	defer cancel()
	start := time.Now()
	var res waitResult
	p := newProgress(c.App.Writer)
	report := func(ev oneshot.WaitProgress) {
		if c.Bool("json") {
			res.record(ev)
		} else {
			p.report(ev)
		}
	}
	err = oneshot.WaitReady(ctx, oneshot.WaitOptions{Login: login, CDPURL: cdpURL, Progress: report})
	p.finish()
	if err != nil {
		err = hint.Explain(context.WithoutCancel(ctx), err, st.hints)
		var we *oneshot.WaitError
		if errors.As(err, &we) {
			// Not reachable in time is what wait is about: exit 4.
			err = cli.Exit(err.Error(), exitcode.Unreachable)
		}
	}
	if c.Bool("json") {
		res.Ready, res.Seconds = err == nil, seconds(time.Since(start))
		if err != nil {
			res.Error, res.ExitCode = errorLine(err), exitcode.For(err)
			var ec cli.ExitCoder
			if errors.As(err, &ec) {
				res.ExitCode = ec.ExitCode()
			}
		}
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(res); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "ready: neko and Chromium answer")
	return nil
}

func (r *waitResult) record(ev oneshot.WaitProgress) {
	if n := len(r.Steps); n == 0 || r.Steps[n-1].Step != ev.Step {
		r.Steps = append(r.Steps, waitStep{Step: ev.Step})
	}
	s := &r.Steps[len(r.Steps)-1]
	s.Seconds, s.Attempts, s.OK = seconds(ev.Elapsed), ev.Attempt, ev.Done
	if ev.Err != nil {
		s.Error = sanitize.Line(ev.Err.Error())
	} else if ev.Done {
		s.Error = ""
	}
}

// seconds is a duration as JSON prints it everywhere: seconds, to the
// millisecond.
func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// progressEvery is how often plain output says a step is still not up:
// a CI log must show the wait is alive.
const progressEvery = 5 * time.Second

// progress shows WaitReady's progress: one line rewritten in place on a
// terminal, plain lines otherwise (each step's start, its first failure
// with the reason, then a line every progressEvery, and its outcome).
type progress struct {
	w         io.Writer
	tty       bool
	last      string
	lastShown time.Duration // elapsed at the last plain "waiting" line
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
	why := ""
	if ev.Err != nil {
		why = sanitize.Text(sanitize.Line(ev.Err.Error()))
	}
	switch {
	case ev.Done:
		p.line(fmt.Sprintf("ok       %s (%s)", ev.Step, elapsed), true)
	case ev.Err != nil && p.tty:
		p.line(fmt.Sprintf("waiting  %s (%s, attempt %d): %s", ev.Step, elapsed, ev.Attempt, why), false)
	case ev.Err != nil && ev.Attempt == 1:
		p.lastShown = ev.Elapsed
		p.line(fmt.Sprintf("waiting  %s: %s", ev.Step, why), true)
	case ev.Err != nil && ev.Elapsed-p.lastShown >= progressEvery:
		p.lastShown = ev.Elapsed
		p.line(fmt.Sprintf("waiting  %s (%s, attempt %d): %s", ev.Step, elapsed, ev.Attempt, why), true)
	case ev.Err == nil && p.tty:
		p.line(fmt.Sprintf("waiting  %s (%s)", ev.Step, elapsed), false)
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
