package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/oneshot"
)

func controlCommand() *cli.Command {
	op := func(name, usage, args string, nargs int, f func(ctx context.Context, o oneshot.Login, args []string) (string, error)) *cli.Command {
		return &cli.Command{
			Name:         name,
			Usage:        usage,
			ArgsUsage:    args,
			OnUsageError: usageError,
			Action: func(c *cli.Context) error {
				if c.NArg() > nargs || (nargs == 1 && args[0] != '[' && c.NArg() != 1) {
					return cli.Exit(fmt.Sprintf("usage: codrive control %s %s", name, args), exitcode.Usage)
				}
				pw, err := password(c)
				if err != nil {
					return err
				}
				ctx, stop := signalContext(c.App.ErrWriter)
				defer stop()
				ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				defer cancel()
				msg, err := f(ctx, login(c, pw), c.Args().Slice())
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, msg)
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
