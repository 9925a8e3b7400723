// Command codrive lets a script and a person drive the same real browser,
// one at a time: it attaches to Chromium over CDP and to neko over its
// WebSocket, and arbitrates neko's host control between them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/oneshot"
	"github.com/codrive/codrive/neko"
)

const exitHelp = `EXIT CODES:
   0  ok
   1  failure (including a degraded status)
   2  usage: bad flags or arguments
   3  authentication: neko refused the login
   4  unreachable: neko or Chromium did not answer`

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return exitcode.OK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := strings.TrimSpace(err.Error()); msg != "" {
			fmt.Fprintln(stderr, "codrive: "+msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "codrive: "+oneLine(err.Error()))
	return exitcode.For(err)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func usageError(c *cli.Context, err error, _ bool) error {
	return cli.Exit(oneLine(err.Error())+" (see --help)", exitcode.Usage)
}

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:                  "codrive",
		Usage:                 "a script and a person drive the same browser, one at a time",
		Description:           "codrive attaches to Chromium over CDP and to neko over its WebSocket, and arbitrates neko's host control between automation and people.",
		Writer:                stdout,
		ErrWriter:             stderr,
		HideHelpCommand:       true,
		EnableBashCompletion:  false,
		CustomAppHelpTemplate: cli.AppHelpTemplate + "\n" + exitHelp + "\n",
		OnUsageError:          usageError,
		// Errors are printed once, by run, on one line.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags:          globalFlags(),
		Before:         validateGlobal,
		Commands: []*cli.Command{
			attachCommand(),
			statusCommand(),
			controlCommand(),
			tuiCommand(),
			fleetCommand(),
			waitCommand(),
			smokeCommand(),
			runCommand(),
			demoCommand(),
			healthcheckCommand(),
		},
	}
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "neko", Value: "http://127.0.0.1:8080", EnvVars: []string{"CODRIVE_NEKO_URL"}, Usage: "neko server URL"},
		&cli.StringFlag{Name: "user", Value: "codrive", EnvVars: []string{"CODRIVE_NEKO_USER"}, Usage: "neko user name for codrive's session"},
		&cli.StringFlag{Name: "password", EnvVars: []string{"CODRIVE_NEKO_PASSWORD"}, Usage: "neko password (prefer the env var or --password-file: flags show in ps)"},
		&cli.StringFlag{Name: "password-file", EnvVars: []string{"CODRIVE_NEKO_PASSWORD_FILE"}, Usage: "read the neko password from this file"},
		&cli.BoolFlag{Name: "cookies", EnvVars: []string{"CODRIVE_NEKO_COOKIES"}, Usage: "neko runs with session.cookie.enabled"},
		&cli.StringFlag{Name: "cdp", Value: "http://127.0.0.1:9222", EnvVars: []string{"CODRIVE_CDP_URL"}, Usage: "Chromium's DevTools endpoint (http://host:port or ws://.../devtools/browser/ID)"},
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"CODRIVE_LOG_FORMAT"}, Usage: "log format: text or json"},
		&cli.StringFlag{Name: "log-level", Value: "warn", EnvVars: []string{"CODRIVE_LOG_LEVEL"}, Usage: "log level: debug, info, warn, error"},
	}
}

func validateGlobal(c *cli.Context) error {
	if _, err := newLogger(c); err != nil {
		return cli.Exit(err.Error(), exitcode.Usage)
	}
	if c.IsSet("password") && c.IsSet("password-file") {
		return cli.Exit("--password and --password-file are mutually exclusive", exitcode.Usage)
	}
	// A malformed address is a usage error, not an unreachable server.
	if _, err := neko.NewClient(c.String("neko"), neko.Options{}); err != nil {
		return cli.Exit("--neko: "+err.Error(), exitcode.Usage)
	}
	if _, err := cdp.ParseEndpoint(c.String("cdp")); err != nil {
		return cli.Exit("--cdp: "+err.Error(), exitcode.Usage)
	}
	return nil
}

// noArgs is the Before hook of every command that takes no arguments.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("%s takes no arguments, got %q", c.Command.Name, c.Args().First()), exitcode.Usage)
	}
	return nil
}

func logLevel(c *cli.Context) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return 0, fmt.Errorf("bad --log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	return level, nil
}

func newLogger(c *cli.Context) (*slog.Logger, error) {
	level, err := logLevel(c)
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.String("log-format") {
	case "text":
		return slog.New(slog.NewTextHandler(c.App.ErrWriter, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(c.App.ErrWriter, opts)), nil
	default:
		return nil, fmt.Errorf("bad --log-format %q: want text or json", c.String("log-format"))
	}
}

// password reads the neko password from --password (or its env var) or
// --password-file. It is never logged or printed.
func password(c *cli.Context) (string, error) {
	if f := c.String("password-file"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", cli.Exit(fmt.Sprintf("read --password-file: %v", err), exitcode.Usage)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return c.String("password"), nil
}

// login is the neko side of the one-shot commands (status, control, wait).
func login(c *cli.Context, password string) oneshot.Login {
	return oneshot.Login{NekoURL: c.String("neko"), User: c.String("user"), Password: password, Cookies: c.Bool("cookies")}
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// exits at once, for an operator who does not want to wait for cleanup.
func signalContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
		case <-done:
			return
		}
		cancel()
		select {
		case <-ch:
			fmt.Fprintln(stderr, "codrive: second signal: exiting without cleanup")
			os.Exit(130)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

func durationFlag(name string, value time.Duration, usage string) *cli.DurationFlag {
	return &cli.DurationFlag{Name: name, Value: value, Usage: usage}
}
