package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/eventfmt"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/sanitize"
)

func runCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a script against the browser through codrive's CDP proxy, then release control",
		ArgsUsage: "-- CMD [ARGS...]",
		Description: `Starts the arbiter and the CDP gating proxy on a free loopback port, runs CMD with
CODRIVE_CDP_URL (the proxy's http URL, for Playwright's connectOverCDP or chromedp's remote allocator),
CODRIVE_CDP_WS (the browser WebSocket URL through the proxy) and CODRIVE_RUN=1 in its environment,
forwards SIGINT and SIGTERM to it, and exits with its exit code after releasing control and restoring
settings. While a person holds control, the script's acting commands wait; it only sees delay.
codrive's own lines go to stderr ("codrive: ..."; --json: one JSON event a line).
A codrive started by the script (codrive handoff, codrive status) uses the proxy.

   codrive run -- npx playwright test
   codrive run -- go run ./myscript`,
		OnUsageError: usageError,
		Flags: append(append(arbiterFlags(idleWithProxy), proxyFlags("127.0.0.1:0")...),
			&cli.BoolFlag{Name: "json", Usage: "print codrive's own events as JSON lines (on stderr)"}, recordFlag()),
		Action: st.runScript,
	}
}

func (st *appState) runScript(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return cli.Exit("usage: codrive run [flags] -- CMD [ARGS...]", exitcode.Usage)
	}
	opts, err := st.options(c)
	if err != nil {
		return err
	}
	if opts.Listen == "" {
		return cli.Exit("--listen must not be empty: run gives the script codrive's proxy", exitcode.Usage)
	}
	if opts, err = recordOptions(c, opts, "codrive run "+strings.Join(args, " ")); err != nil {
		return err
	}

	// Until the child runs, a signal aborts codrive itself; from then on it
	// goes to the child, and codrive ends when the child does.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	actx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-actx.Done():
		}
	}()
	s, err := codrive.Attach(actx, opts)
	if err != nil {
		return err
	}
	shutdown := func() error {
		sctx, scancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
		defer scancel()
		err := s.Close(sctx)
		recordedHint(c, s)
		return err
	}
	ws, err := s.ProxyWSURL(actx)
	if err != nil {
		return errors.Join(fmt.Errorf("proxy: %w", err), shutdown())
	}
	if actx.Err() != nil {
		return errors.Join(cli.Exit("interrupted", 130), shutdown())
	}
	cancel()

	errOut := serialized(c.App.ErrWriter)
	events, unsub := s.Subscribe()
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		var lines eventfmt.Printer
		for ev := range events {
			switch ev.Kind {
			case codrive.EventState, codrive.EventRequest, codrive.EventHandoff, codrive.EventError:
				if c.Bool("json") {
					_ = eventfmt.WriteJSON(errOut, ev)
				} else {
					fmt.Fprintln(errOut, "codrive: "+lines.Line(ev))
				}
			}
		}
	}()

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, c.App.Writer, errOut
	// The only place these are set: a script started any other way never
	// finds a CODRIVE_CDP_URL that could be Chromium itself, ungated.
	cmd.Env = append(os.Environ(), envScriptURL+"="+s.ProxyURL(), envScriptWS+"="+ws, envRun+"=1")
	// Its own process group: a terminal's Ctrl-C reaches codrive only, and
	// codrive passes it on once, so the child does not get it twice.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		unsub()
		<-printed
		return errors.Join(cli.Exit(fmt.Sprintf("run %s: %v", args[0], err), 127), shutdown())
	}
	exited := make(chan struct{})
	go func() {
		forwarded := 0
		for {
			select {
			case sig := <-sigs:
				forwarded++
				if forwarded > 1 {
					// A second signal: the operator means it.
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					continue
				}
				_ = syscall.Kill(-cmd.Process.Pid, sig.(syscall.Signal))
			case <-exited:
				return
			}
		}
	}()
	waitErr := cmd.Wait()
	close(exited)
	code := exitCode(cmd.ProcessState, waitErr)
	closeErr := shutdown()
	// Close drained the session's events into the printer; wait for it.
	<-printed
	unsub()
	if closeErr != nil {
		fmt.Fprintln(errOut, "codrive: cleanup: "+sanitize.Line(closeErr.Error()))
		if code == 0 {
			code = exitcode.Failure
		}
	}
	if code != 0 {
		return cli.Exit("", code)
	}
	return nil
}

// exitCode is the child's status as a shell reports it: its exit code, or
// 128+N when signal N killed it.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return exitcode.Failure
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	if c := ps.ExitCode(); c >= 0 {
		return c
	}
	if err != nil {
		return exitcode.Failure
	}
	return 0
}

// serialized lets codrive's event printer and the child share a writer. A
// file is left as it is: exec hands its descriptor to the child (which then
// still sees a terminal), and single writes to it do not interleave.
func serialized(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return w
	}
	return &lockedWriter{w: w}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
