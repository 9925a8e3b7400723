package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/smoke"
)

func smokeCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:  "smoke",
		Usage: "check a neko + Chromium pair end to end; exit 0 only when every check passed",
		Description: `Checks, each timed: neko health, admin and user login, WebSocket init, settings, a control round trip,
CDP version, attaching to the page, navigating (to --url or a built-in page) and reading the title, a CDP screenshot,
neko's cast.jpg (skipped when screencast is off), a handoff to an emulated person, and a cleanup that must leave no
codrive host and the original settings; with --viewer, also a person's WebRTC viewer receiving video. The page people watch is left
alone: smoke navigates a background tab of its own and closes it. Use an admin password (--password-file or
$CODRIVE_NEKO_PASSWORD). Exit 0 when every check passed, 4 when neko or Chromium did not answer, 3 when the
login was refused or not an admin's, 1 for any other failure.`,
		ArgsUsage:    " ",
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "junit", Usage: "also write the report as JUnit XML to this file"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON instead of a table"},
			&cli.StringFlag{Name: "url", Usage: "page to navigate to (default: a built-in data: page, no network needed)"},
			&cli.StringFlag{Name: "user-password", EnvVars: []string{"CODRIVE_NEKO_USER_PASSWORD"}, Usage: "neko's non-admin password, for the user login check (skipped without it)"},
			&cli.StringFlag{Name: "target", Usage: "tab to use: target id or URL substring (default: first page)"},
			&cli.BoolFlag{Name: "viewer", Usage: "also join as a WebRTC viewer and receive video (catches NAT1TO1 and port misconfiguration)"},
			durationFlag("check-timeout", 30*time.Second, "bound on each check"),
		},
		Action: st.smoke,
	}
}

func (st *appState) smoke(c *cli.Context) error {
	if err := checkDurations(c, "check-timeout"); err != nil {
		return err
	}
	pw, err := st.password(c)
	if err != nil {
		return err
	}
	cdpURL, err := st.cdpURL(c)
	if err != nil {
		return err
	}
	log, err := newLogger(c)
	if err != nil {
		return cli.Exit(err.Error(), exitcode.Usage)
	}
	// The report file is opened before any check runs: a path that cannot
	// be written is a usage error, found in a second, not after a minute of
	// checks.
	var junit *os.File
	if f := c.String("junit"); f != "" {
		if junit, err = os.Create(f); err != nil {
			return cli.Exit("--junit: "+err.Error(), exitcode.Usage)
		}
		defer junit.Close()
	}
	ctx, stop := signalContext(c.App.ErrWriter)
	defer stop()
	r := smoke.Run(ctx, smoke.Options{
		NekoURL: c.String("neko"), User: c.String("user"), Password: pw,
		UserPassword: c.String("user-password"), Cookies: c.Bool("cookies"),
		CDPURL: cdpURL, Target: c.String("target"), URL: c.String("url"),
		CheckTimeout: c.Duration("check-timeout"), Logger: log, Viewer: c.Bool("viewer"),
	})
	if c.Bool("json") {
		err = r.WriteJSON(c.App.Writer)
	} else {
		err = r.WriteTable(c.App.Writer)
	}
	if err != nil {
		return err
	}
	if junit != nil {
		if err := r.WriteJUnit(junit); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
		if err := junit.Close(); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if code := r.ExitCode(); code != exitcode.OK {
		// The report says why.
		return cli.Exit("", code)
	}
	return nil
}
