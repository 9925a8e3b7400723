// Command nekotest runs the neko v3-compatible test server of package
// neko/nekotest as a standalone process, for tests in other languages or
// by hand.
//
//	nekotest --addr 127.0.0.1:8080 --user-password neko --admin-password admin \
//	    [--implicit-hosting] [--locked-controls] [--heartbeat 10s] [--cookie] [--no-plugins]
//
// Once it listens it prints exactly one line to stdout,
// "nekotest listening on http://HOST:PORT"; logs go to stderr. SIGINT or
// SIGTERM close it cleanly with exit status 0. Bad flags print one line to
// stderr and exit with status 2.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/sanitize"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks errors caused by the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// run is the whole program; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "nekotest: %s (see --help)\n", sanitize.Line(ue.err.Error()))
		return 2
	}
	fmt.Fprintf(stderr, "nekotest: %s\n", sanitize.Line(err.Error()))
	return 1
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:            "nekotest",
		Usage:           "a neko v3-compatible server for tests",
		HideVersion:     true,
		Writer:          stdout,
		ErrWriter:       stderr,
		ExitErrHandler:  func(*cli.Context, error) {}, // run decides the exit status
		OnUsageError:    func(_ *cli.Context, err error, _ bool) error { return usageError{err} },
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen address (port 0 picks a free port)"},
			&cli.StringFlag{Name: "user-password", Value: "neko", EnvVars: []string{"NEKOTEST_USER_PASSWORD"}, Usage: "password that logs in with the user profile"},
			&cli.StringFlag{Name: "admin-password", Value: "admin", EnvVars: []string{"NEKOTEST_ADMIN_PASSWORD"}, Usage: "password that logs in with the admin profile"},
			&cli.BoolFlag{Name: "implicit-hosting", Usage: "start with implicit_hosting on"},
			&cli.BoolFlag{Name: "locked-controls", Usage: "start with locked_controls on"},
			&cli.DurationFlag{Name: "heartbeat", Value: 10 * time.Second, Usage: "server heartbeat and ping period"},
			&cli.DurationFlag{Name: "delayed-disconnect", Value: 5 * time.Second, Usage: "how long an abnormally closed session stays connected"},
			&cli.BoolFlag{Name: "cookie", Usage: "put the session token in the NEKO_SESSION cookie instead of the login body"},
			&cli.BoolFlag{Name: "screencast", Usage: "enable /api/room/screen/cast.jpg"},
			&cli.BoolFlag{Name: "no-plugins", Usage: "no chat/init, filetransfer/update or chat/message (real neko always has its plugins)"},
			&cli.StringSliceFlag{Name: "cors", Usage: "allowed Origin for WebSocket and CORS (repeatable; default: any)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "stderr log level: debug, info, warn or error"},
		},
		Action: serve,
	}
}

func serve(c *cli.Context) error {
	if c.Args().Present() {
		return usageError{fmt.Errorf("unexpected argument %q", c.Args().First())}
	}
	opts, err := options(c)
	if err != nil {
		return usageError{err}
	}
	srv, err := nekotest.Start(opts)
	if err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	if _, err := fmt.Fprintf(c.App.Writer, "nekotest listening on %s\n", srv.URL); err != nil {
		srv.Close()
		return fmt.Errorf("write listening line: %w", err)
	}
	<-c.Context.Done()
	srv.Close()
	return nil
}

func options(c *cli.Context) (nekotest.Options, error) {
	heartbeat := c.Duration("heartbeat")
	if heartbeat <= 0 {
		return nekotest.Options{}, fmt.Errorf("--heartbeat must be positive, got %v", heartbeat)
	}
	delayed := c.Duration("delayed-disconnect")
	if delayed <= 0 {
		return nekotest.Options{}, fmt.Errorf("--delayed-disconnect must be positive, got %v", delayed)
	}
	if c.String("user-password") == "" || c.String("admin-password") == "" {
		return nekotest.Options{}, errors.New("passwords must not be empty")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nekotest.Options{}, fmt.Errorf("--log-level: %w", err)
	}
	settings := neko.DefaultSettings()
	settings.ImplicitHosting = c.Bool("implicit-hosting")
	settings.LockedControls = c.Bool("locked-controls")
	return nekotest.Options{
		Addr:              c.String("addr"),
		UserPassword:      c.String("user-password"),
		AdminPassword:     c.String("admin-password"),
		Settings:          &settings,
		CookieEnabled:     c.Bool("cookie"),
		HeartbeatPeriod:   heartbeat,
		DelayedDisconnect: delayed,
		ScreencastEnabled: c.Bool("screencast"),
		NoPlugins:         c.Bool("no-plugins"),
		AllowedOrigins:    c.StringSlice("cors"),
		Logger:            slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level})),
	}, nil
}
