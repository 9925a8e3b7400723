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

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/hint"
	"github.com/codrive/codrive/internal/oneshot"
	"github.com/codrive/codrive/internal/sanitize"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	st := &appState{getenv: os.LookupEnv}
	app := newApp(stdout, stderr, st)
	args, err := normalizeArgs(app, args)
	if err == nil {
		err = app.Run(args)
	}
	return st.exit(err, stderr)
}

// exit prints err as codrive's one error line and returns the exit code.
func (st *appState) exit(err error, stderr io.Writer) int {
	if err == nil {
		return exitcode.OK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := errorLine(err); msg != "" {
			fmt.Fprintln(stderr, "codrive: "+msg)
		}
		return ec.ExitCode()
	}
	code := exitcode.For(err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	fmt.Fprintln(stderr, "codrive: "+errorLine(hint.Explain(ctx, err, st.hints)))
	return code
}

// errorLine is an error as one line, without the "codrive: " its layers
// may each have put in front.
func errorLine(err error) string {
	s := sanitize.Line(err.Error())
	for {
		t := strings.TrimPrefix(s, "codrive: ")
		if t == s {
			return s
		}
		s = t
	}
}

func usageError(c *cli.Context, err error, _ bool) error {
	return cli.Exit(sanitize.Line(err.Error())+" (see --help)", exitcode.Usage)
}

const helpExtra = `
Global options may come before or after the command. Secrets: a flag wins over a file
(--password-file, $CODRIVE_NEKO_PASSWORD_FILE), a file over a variable ($CODRIVE_NEKO_PASSWORD).

`

func newApp(stdout, stderr io.Writer, st *appState) *cli.App {
	app := &cli.App{
		Name:        "codrive",
		Usage:       "a script and a person drive the same browser, one at a time",
		Description: "codrive attaches to Chromium over CDP and to neko over its WebSocket, and arbitrates neko's host control between automation and people.",
		Writer:      stdout,
		ErrWriter:   stderr,
		// `codrive version` and --version are codrive's own (version.go).
		HideVersion:          true,
		EnableBashCompletion: true,
		// urfave's own help command is one package-level value that each
		// run links into itself; codrive has its own (helpCommand).
		HideHelpCommand:       true,
		CustomAppHelpTemplate: strings.Replace(cli.AppHelpTemplate, "GLOBAL OPTIONS:", "GLOBAL OPTIONS (before or after the command):", 1) + helpExtra + exitcode.Help() + "\n" + envHelp(),
		OnUsageError:          usageError,
		// Errors are printed once, by run, on one line.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags:          globalFlags(),
		Before:         st.validateGlobal,
		Action:         rootAction,
		Commands: []*cli.Command{
			attachCommand(st),
			statusCommand(st),
			controlCommand(st),
			tuiCommand(st),
			fleetCommand(st),
			waitCommand(st),
			smokeCommand(st),
			runCommand(st),
			handoffCommand(st),
			demoCommand(),
			reportCommand(),
			healthcheckCommand(),
			versionCommand(),
			completionCommand(),
			helpCommand(),
		},
	}
	return app
}

// rootAction runs without a command: --version, or the help.
func rootAction(c *cli.Context) error {
	if c.Bool("version") {
		return printVersion(c.App.Writer, false)
	}
	if c.NArg() > 0 {
		return unknownCommand(c.App.Commands, c.Args().First(), "")
	}
	return cli.ShowAppHelp(c)
}

// helpCommand is `codrive help [COMMAND [SUBCOMMAND]]`.
func helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Aliases:   []string{"h"},
		Usage:     "show the commands, or the help of one",
		ArgsUsage: "[COMMAND [SUBCOMMAND]]",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			cmds, path := c.App.Commands, "codrive"
			var cmd *cli.Command
			for _, a := range c.Args().Slice() {
				if cmd = findCommand(cmds, a); cmd == nil {
					return unknownCommand(cmds, a, strings.TrimPrefix(path, "codrive "))
				}
				path += " " + cmd.Name
				cmds = cmd.Subcommands
			}
			if cmd.HelpName == "" {
				cmd.HelpName = path
			}
			tmpl := cli.CommandHelpTemplate
			if len(cmd.Subcommands) > 0 {
				tmpl = cli.SubcommandHelpTemplate
			}
			cli.HelpPrinter(c.App.Writer, tmpl, cmd)
			return nil
		},
	}
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

// login is the neko side of the one-shot commands (status, control, wait).
func (st *appState) login(c *cli.Context) (oneshot.Login, error) {
	pw, err := st.password(c)
	if err != nil {
		return oneshot.Login{}, err
	}
	return oneshot.Login{NekoURL: c.String("neko"), User: c.String("user"), Password: pw, Cookies: c.Bool("cookies")}, nil
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

// durationFlag is a flag for a duration that must not be negative; the
// commands check it (checkDurations) before any network call.
func durationFlag(name string, value time.Duration, usage string) *cli.DurationFlag {
	return &cli.DurationFlag{Name: name, Value: value, Usage: usage}
}

// checkDurations refuses negative values of the command's duration flags,
// and zero where a zero would make no sense (positive).
func checkDurations(c *cli.Context, positive ...string) error {
	for _, f := range c.Command.Flags {
		df, ok := f.(*cli.DurationFlag)
		if !ok {
			continue
		}
		d := c.Duration(df.Name)
		if d < 0 {
			return cli.Exit(fmt.Sprintf("--%s must not be negative (got %s)", df.Name, d), exitcode.Usage)
		}
		for _, p := range positive {
			if p == df.Name && d == 0 {
				return cli.Exit(fmt.Sprintf("--%s must be more than 0", df.Name), exitcode.Usage)
			}
		}
	}
	return nil
}
