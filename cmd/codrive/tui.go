package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/tui"
)

func tuiCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:      "tui",
		Usage:     "full-screen monitor of who drives the browser, with keys to request, release, take, give, pause and hand off control",
		ArgsUsage: " ",
		Description: `Panes: the neko connection, who holds control and why, the room's sessions, the attached tab, and a log of events.
Keys: r request, l release, t take (admin), g give, p pause/resume, h handoff, ? help, q quit.
Without a terminal on stdout, or with --plain, it prints one line per event like attach.
On quit (q, ctrl+c, SIGINT or SIGTERM) it releases control, restores any room setting it changed and closes its neko socket cleanly.`,
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: append(append(arbiterFlags(idleWithListen), proxyFlags("")...),
			&cli.BoolFlag{Name: "plain", Usage: "print events as lines (like attach) instead of the full-screen monitor"},
			&cli.BoolFlag{Name: "acquire", Usage: "request host control at start (without stealing from a person unless --takeover)"},
		),
		Action: st.runTUI,
	}
}

func (st *appState) runTUI(c *cli.Context) error {
	out, isFile := c.App.Writer.(*os.File)
	if c.Bool("plain") || !isFile || !isTerminal(out) {
		return st.attach(c)
	}
	opts, err := st.options(c)
	if err != nil {
		return err
	}
	// Logs written while the screen is up would tear it: they go to the
	// event log pane then, and to stderr before and after.
	sink := tui.NewLogSink(0)
	sink.SetOutput(c.App.ErrWriter)
	if opts.Logger, err = tuiLogger(c, sink); err != nil {
		return err
	}
	ctx, stop := signalContext(c.App.ErrWriter)
	defer stop()
	s, err := codrive.Attach(ctx, opts)
	if err != nil {
		return err
	}
	events, unsubscribe := s.Subscribe()
	sink.SetOutput(nil)
	runErr := tui.Run(ctx, s, tui.Options{
		NekoURL:        c.String("neko"),
		ProxyURL:       s.ProxyURL(),
		Events:         events,
		Logs:           sink.Lines(),
		AcquireOnStart: c.Bool("acquire"),
		HandoffTimeout: opts.HandoffTimeout,
		Renderer:       lipgloss.NewRenderer(out),
	}, tea.WithAltScreen(), tea.WithOutput(out))
	unsubscribe()
	sink.SetOutput(c.App.ErrWriter)

	sctx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
	defer cancel()
	closeErr := s.Close(sctx)
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return fmt.Errorf("cleanup: %w", closeErr)
	}
	return nil
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// tuiLogger is newLogger writing to the sink, without the time: the event
// log stamps each line itself.
func tuiLogger(c *cli.Context, sink *tui.LogSink) (*slog.Logger, error) {
	level, err := logLevel(c)
	if err != nil {
		return nil, cli.Exit(err.Error(), exitcode.Usage)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	if c.String("log-format") == "json" {
		return slog.New(slog.NewJSONHandler(sink, opts)), nil
	}
	return slog.New(slog.NewTextHandler(sink, opts)), nil
}
