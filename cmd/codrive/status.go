package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/oneshot"
)

func statusCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:         "status",
		Usage:        "print one snapshot of neko and Chromium and exit (0 ready, 1 degraded, 3 auth, 4 unreachable)",
		ArgsUsage:    " ",
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
			&cli.StringFlag{Name: "target", Usage: "tab to report on: target id or URL substring (default: first page)"},
			durationFlag("timeout", 15*time.Second, "give up after this long"),
		},
		Action: st.status,
	}
}

func (st *appState) status(c *cli.Context) error {
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
	r := oneshot.CollectStatus(ctx, oneshot.StatusOptions{
		Login: login, CDPURL: cdpURL, Target: c.String("target"),
		ViaProxy: st.viaRunProxy(), Hints: st.hints,
	})
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else if err := r.WriteText(c.App.Writer); err != nil {
		return err
	}
	if code := r.ExitCode(); code != exitcode.OK {
		// The report already says why; exit with its code, print nothing more.
		return cli.Exit("", code)
	}
	return nil
}
