package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/hint"
	"github.com/codrive/codrive/internal/oneshot"
)

// controlResult is what `codrive control ... --json` prints, whatever the
// outcome: a script reads it on stdout, people read the error on stderr.
type controlResult struct {
	Command  string `json:"command"`
	OK       bool   `json:"ok"`
	Message  string `json:"message,omitempty"`
	Error    string `json:"error,omitempty"`
	ExitCode int    `json:"exitCode"`
}

func controlCommand(st *appState) *cli.Command {
	op := func(name, usage, args string, nargs int, f func(ctx context.Context, o oneshot.Login, args []string) (string, error)) *cli.Command {
		return &cli.Command{
			Name:         name,
			Usage:        usage,
			ArgsUsage:    args,
			OnUsageError: usageError,
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "json", Usage: "print the outcome as one JSON object (also on failure)"},
				durationFlag("timeout", 15*time.Second, "give up after this long"),
			},
			Action: func(c *cli.Context) error {
				if c.NArg() > nargs || (nargs == 1 && args[0] != '[' && c.NArg() != 1) {
					return cli.Exit(fmt.Sprintf("usage: codrive control %s %s", name, args), exitcode.Usage)
				}
				if err := checkDurations(c, "timeout"); err != nil {
					return err
				}
				login, err := st.login(c)
				if err != nil {
					return err
				}
				ctx, stop := signalContext(c.App.ErrWriter)
				defer stop()
				ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout"))
				defer cancel()
				msg, err := f(ctx, login, c.Args().Slice())
				if err != nil {
					err = hint.Explain(ctx, err, st.hints)
				}
				if c.Bool("json") {
					r := controlResult{Command: "control " + name, OK: err == nil, Message: msg, ExitCode: exitcode.For(err)}
					if err != nil {
						r.Error = errorLine(err)
					}
					if werr := json.NewEncoder(c.App.Writer).Encode(r); werr != nil {
						return errors.Join(err, werr)
					}
				}
				if err != nil {
					return err
				}
				if !c.Bool("json") {
					fmt.Fprintln(c.App.Writer, msg)
				}
				return nil
			},
		}
	}
	first := func(a []string) string {
		if len(a) > 0 {
			return a[0]
		}
		return ""
	}
	return &cli.Command{
		Name:         "control",
		Usage:        "move neko host control by hand (each runs as a short-lived session that never keeps control)",
		OnUsageError: usageError,
		// See newApp: no urfave help command.
		HideHelpCommand: true,
		Subcommands: []*cli.Command{
			op("request", "ask for control: the current host is sent a request; if nobody hosts, says so", " ", 0,
				func(ctx context.Context, o oneshot.Login, _ []string) (string, error) {
					return oneshot.Request(ctx, o)
				}),
			op("release", "free control held by a session of --user (e.g. a bot that died); admin", " ", 0,
				func(ctx context.Context, o oneshot.Login, _ []string) (string, error) {
					return oneshot.Release(ctx, o)
				}),
			op("take", "take control from whoever hosts and give it to SESSION, or to nobody; admin", "[SESSION]", 1,
				func(ctx context.Context, o oneshot.Login, a []string) (string, error) {
					return oneshot.Take(ctx, o, first(a))
				}),
			op("give", "give control to SESSION (an id or a unique name); host or admin", "SESSION", 1,
				func(ctx context.Context, o oneshot.Login, a []string) (string, error) {
					return oneshot.Give(ctx, o, a[0])
				}),
			op("reset", "clear the host; admin", " ", 0,
				func(ctx context.Context, o oneshot.Login, _ []string) (string, error) {
					return oneshot.Reset(ctx, o)
				}),
		},
	}
}
