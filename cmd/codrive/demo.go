package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/demo"
	"github.com/codrive/codrive/internal/eventfmt"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/sanitize"
	"github.com/codrive/codrive/tui"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "show what codrive does, on this machine alone: a script and a person share one browser",
		Description: `Starts a neko-compatible server in process, a local headless Chromium, codrive (arbiter and CDP proxy),
a short automation script filling an order on a small local site, and an emulated person who asks for control
midway, drives for a moment and releases. The terminal UI shows it live (plain lines without a TTY or with
--plain). It ends by itself with a summary. Needs Debian's chromium (make setup).`,
		ArgsUsage:    " ",
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "plain", Usage: "print events as lines instead of the terminal UI"},
			durationFlag("pace", 400*time.Millisecond, "pause between automation steps"),
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	log, err := newLogger(c)
	if err != nil {
		return cli.Exit(err.Error(), exitcode.Usage)
	}
	ctx, stop := signalContext(c.App.ErrWriter)
	defer stop()
	out := c.App.Writer
	fmt.Fprintln(out, "codrive demo: starting a neko-compatible server, Chromium and codrive on this machine...")
	d, err := demo.Start(ctx, demo.Options{Pace: c.Duration("pace"), Logger: log})
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Fprintf(out, "neko (in process) %s · CDP proxy %s · policy yield\n", d.NekoURL(), d.Session.ProxyURL())
	fmt.Fprintln(out, "a script fills an order; midway a person (alice) asks for control, drives, releases.")

	var sum demo.Summary
	if f, ok := out.(*os.File); ok && !c.Bool("plain") && isTerminal(f) {
		sum, err = playTUI(ctx, f, d)
	} else {
		sum, err = playPlain(ctx, out, d)
	}
	if err != nil {
		return err
	}
	printSummary(out, sum)
	return nil
}

// playTUI runs the demo under the monitor. The monitor closes by itself a
// moment after the scene ends, or earlier when the viewer quits (which
// stops the scene).
func playTUI(ctx context.Context, out *os.File, d *demo.Demo) (demo.Summary, error) {
	sceneCtx, stopScene := context.WithCancel(ctx)
	defer stopScene()
	tuiCtx, stopTUI := context.WithCancel(ctx)
	defer stopTUI()
	var sum demo.Summary
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sum, runErr = d.Run(sceneCtx)
		// Let the viewer see the final state before the screen goes.
		t := time.NewTimer(3 * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
		case <-tuiCtx.Done():
		}
		stopTUI()
	}()
	events, unsub := d.Session.Subscribe()
	tuiErr := tui.Run(tuiCtx, d.Session, tui.Options{
		NekoURL:  d.NekoURL(),
		ProxyURL: d.Session.ProxyURL(),
		Events:   events,
		Renderer: lipgloss.NewRenderer(out),
	}, tea.WithAltScreen(), tea.WithOutput(out))
	unsub()
	stopScene()
	<-done
	if tuiErr != nil {
		return sum, tuiErr
	}
	if runErr != nil && ctx.Err() == nil && sceneCtx.Err() != nil {
		return sum, cli.Exit("demo stopped before the end", exitcode.Failure)
	}
	return sum, runErr
}

// playPlain runs the demo printing one line per event.
func playPlain(ctx context.Context, out io.Writer, d *demo.Demo) (demo.Summary, error) {
	evs, cancel := d.Session.Subscribe()
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		var lines eventfmt.Printer
		for ev := range evs {
			fmt.Fprintln(out, lines.Line(ev))
		}
	}()
	sum, err := d.Run(ctx)
	cancel()
	<-printed
	return sum, err
}

func printSummary(out io.Writer, s demo.Summary) {
	fmt.Fprintf(out, `
demo summary
  result:        %s
  steps:         %d automation steps
  handoffs:      %d (automation yielded to a person)
  time paused:   %s (automation waited while the person drove)
  actions held:  %d (script commands the proxy held, then let through)
  took:          %s
`, sanitize.Text(s.Result), s.Steps, s.Handoffs, s.Paused.Round(10*time.Millisecond), s.Held, s.Duration.Round(10*time.Millisecond))
}
