package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/cdpproxy"
	"github.com/codrive/codrive/internal/eventfmt"
	"github.com/codrive/codrive/internal/exitcode"
)

func policyNames() string {
	s := ""
	for i, p := range codrive.Policies() {
		if i > 0 {
			s += ", "
		}
		s += string(p)
	}
	return s
}

// arbiterFlags are the arbiter's flags; idleDefault is what --help shows as
// --idle-release's default, which depends on the proxy (see sessionOptions).
func arbiterFlags(idleDefault string) []cli.Flag {
	idle := durationFlag("idle-release", 0, "release control after this long without acting commands from scripts (0: never)")
	idle.DefaultText = idleDefault
	return []cli.Flag{
		&cli.StringFlag{Name: "policy", Value: string(codrive.PolicyYield), EnvVars: []string{envPolicy}, Usage: "what to do when a person asks for control while automation holds it: " + policyNames()},
		durationFlag("reclaim-after", 2*time.Second, "after a person releases, take control back once the room had no host this long"),
		&cli.BoolFlag{Name: "no-reclaim", Usage: "never take control back automatically after yielding"},
		durationFlag("step-timeout", 30*time.Second, "policy finish-step: longest wait for the step in flight"),
		idle,
		&cli.BoolFlag{Name: "takeover", Usage: "take control from a person when acquiring (admin login only)"},
		durationFlag("handoff-timeout", 15*time.Minute, "bound on every handoff asked for without a timeout (Codrive.handoff, POST /codrive/handoff, the tui's h)"),
		durationFlag("shutdown-timeout", 5*time.Second, "bound on releasing control and restoring settings at exit"),
		&cli.StringFlag{Name: "target", Usage: "tab to attach to: target id or URL substring (default: first page)"},
	}
}

// proxyFlags configure the CDP gating proxy of attach --listen and run.
func proxyFlags(listenDefault string) []cli.Flag {
	listenUsage := "serve the CDP gating proxy on this address (scripts connect here instead of Chromium)"
	return []cli.Flag{
		&cli.StringFlag{Name: "listen", Value: listenDefault, EnvVars: []string{envListen}, Usage: listenUsage},
		// The token's variables are read by secret(), like the password's.
		&cli.StringFlag{Name: "token", Usage: "token the proxy requires (?token= or Authorization: Bearer); mandatory on a non-loopback --listen [$" + envToken + "]"},
		&cli.StringFlag{Name: "token-file", Usage: "read the proxy's token from this file; wins over $" + envToken + " [$" + envTokenFile + "]"},
		durationFlag("hold-timeout", 10*time.Minute, "fail a script's held command after this long"),
		&cli.StringFlag{Name: "max-message", Value: sizeText(cdpproxy.DefaultMaxMessage), EnvVars: []string{envMaxMessage}, Usage: "largest CDP message a script may send through the proxy, in bytes or with KiB, MiB or GiB; a larger one gets a CDP error (or, if it was already being relayed, the connection closes with code 1009)"},
		&cli.BoolFlag{Name: "log-cdp", Usage: "log proxied CDP messages at debug level, bodies included (they carry page data)"},
	}
}

// Defaults of --idle-release as --help shows them.
const (
	idleWithListen = "30s with --listen, else 0s: never"
	idleWithProxy  = "30s"
)

// sessionOptions are the Session options of attach, tui and run: the
// arbiter's (arbiterOptions), the browser side and the proxy, all checked
// before any network call. With a proxy, idle release defaults to 30s so
// viewers get the browser back when a script goes quiet.
func (st *appState) sessionOptions(c *cli.Context, o codrive.Options) (codrive.Options, error) {
	cdpURL, err := st.cdpURL(c)
	if err != nil {
		return o, err
	}
	o.CDPURL, o.Target = cdpURL, c.String("target")
	o.Listen = c.String("listen")
	token, _, err := st.secret(c, "token", "token-file", envToken, envTokenFile)
	if err != nil {
		return o, err
	}
	o.Token = token
	o.HoldTimeout = c.Duration("hold-timeout")
	o.LogCDP = c.Bool("log-cdp")
	max, err := parseSize(c.String("max-message"))
	if err != nil {
		return o, cli.Exit("--max-message: "+err.Error(), exitcode.Usage)
	}
	o.MaxMessage = max
	if o.Listen != "" {
		if err := cdpproxy.CheckAddr(o.Listen, o.Token); err != nil {
			msg := strings.TrimPrefix(err.Error(), "cdpproxy: ")
			if o.Token == "" {
				msg += " (--token or --token-file)"
			}
			return o, cli.Exit("--listen: "+msg, exitcode.Usage)
		}
		if !c.IsSet("idle-release") {
			o.IdleRelease = 30 * time.Second
		}
	}
	return o, nil
}

// parseSize reads a byte count: a number, or one with KiB, MiB or GiB.
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("bad size %q: want a positive number of bytes, or one with KiB, MiB or GiB, e.g. 128MiB", s)
	}
	return n * mult, nil
}

// sizeText writes a size the way parseSize reads it.
func sizeText(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}

// announceProxy tells the operator where scripts connect, at any log
// level: a plain line in text mode, a record of the configured logger in
// JSON mode (handed to its handler directly, past the level filter).
func (st *appState) announceProxy(c *cli.Context, log *slog.Logger, proxyURL, upstream string) {
	if c.String("log-format") != "json" {
		fmt.Fprintf(c.App.ErrWriter, "codrive: CDP proxy on %s (point scripts here instead of %s)\n", proxyURL, upstream)
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "codrive: CDP proxy listening", 0)
	r.AddAttrs(slog.String("url", proxyURL), slog.String("upstream", upstream))
	_ = log.Handler().Handle(context.Background(), r)
}

// arbiterOptions are the neko side of the Session options: login, policy
// and timings.
func (st *appState) arbiterOptions(c *cli.Context) (codrive.Options, error) {
	log, err := newLogger(c)
	if err != nil {
		return codrive.Options{}, cli.Exit(err.Error(), exitcode.Usage)
	}
	if err := checkDurations(c, "hold-timeout", "handoff-timeout", "shutdown-timeout", "step-timeout"); err != nil {
		return codrive.Options{}, err
	}
	pw, err := st.password(c)
	if err != nil {
		return codrive.Options{}, err
	}
	policy, err := codrive.ParsePolicy(c.String("policy"))
	if err != nil {
		return codrive.Options{}, cli.Exit("--policy: "+err.Error(), exitcode.Usage)
	}
	return codrive.Options{
		NekoURL:        c.String("neko"),
		User:           c.String("user"),
		Password:       pw,
		Cookies:        c.Bool("cookies"),
		Policy:         policy,
		ReclaimAfter:   c.Duration("reclaim-after"),
		NoReclaim:      c.Bool("no-reclaim"),
		StepTimeout:    c.Duration("step-timeout"),
		IdleRelease:    c.Duration("idle-release"),
		HandoffTimeout: c.Duration("handoff-timeout"),
		Takeover:       c.Bool("takeover"),
		Logger:         log,
	}, nil
}

// options are the Session options of attach, tui and run, checked.
func (st *appState) options(c *cli.Context) (codrive.Options, error) {
	cfg, err := st.arbiterOptions(c)
	if err != nil {
		return cfg, err
	}
	return st.sessionOptions(c, cfg)
}

func attachCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:      "attach",
		Usage:     "attach to Chromium and neko and arbitrate host control until interrupted",
		ArgsUsage: " ",
		Description: `Prints one line per change: who holds control, why, and the page URL (--json: one JSON object per line).
At start it waits for Chromium and neko to answer (--wait-timeout, for ever by default), so it can start beside them in any order; afterwards it reconnects by itself.
On SIGINT or SIGTERM it releases control, restores any room setting it changed and closes its neko socket cleanly; a second signal exits at once.`,
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: append(append(append(arbiterFlags(idleWithListen), proxyFlags("")...), sidecarFlags()...),
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object per event"},
			&cli.BoolFlag{Name: "acquire", Usage: "take host control at start (without stealing from a person unless --takeover)"},
		),
		Action: st.attach,
	}
}

func (st *appState) attach(c *cli.Context) error {
	opts, err := st.options(c)
	if err != nil {
		return err
	}
	if err := checkSidecarFlags(c); err != nil {
		return err
	}
	ctx, stop := signalContext(c.App.ErrWriter)
	defer stop()
	sc, err := startSidecar(c, opts.Logger)
	if err != nil {
		return err
	}
	defer sc.close()
	s, err := codrive.Attach(ctx, sc.waitOptions(c, opts.Logger, opts))
	if err != nil {
		if ctx.Err() != nil {
			return nil // SIGINT or SIGTERM while waiting: nothing to clean up
		}
		return err
	}
	sc.op.SetSession(s)
	if u := s.ProxyURL(); u != "" {
		st.announceProxy(c, opts.Logger, u, opts.CDPURL)
	}
	events, cancel := s.Subscribe()
	defer cancel()
	var lines eventfmt.Printer
	print := func(ev codrive.Event) {
		if c.Bool("json") {
			_ = eventfmt.WriteJSON(c.App.Writer, ev)
		} else {
			fmt.Fprintln(c.App.Writer, lines.Line(ev))
		}
	}
	// The first line comes before the printer starts: one writer at a time,
	// and the events meanwhile wait in the subscription, in order.
	first := codrive.Event{Time: time.Now(), Kind: codrive.EventState, Reason: "attached", Status: s.Status()}
	info := s.PageInfo()
	first.Page = &info
	print(first)
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for ev := range events {
			print(ev)
		}
	}()

	var runErr error
	if c.Bool("acquire") {
		runErr = s.Acquire(ctx)
		if ctx.Err() != nil {
			runErr = nil
		}
	}
	if runErr == nil {
		select {
		case <-ctx.Done():
		case <-s.Done():
			// neko refused codrive for good: reconnecting cannot help.
			runErr = fmt.Errorf("neko connection ended: %w", s.Err())
		}
	}
	sctx, scancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
	defer scancel()
	closeErr := s.Close(sctx)
	<-printed
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		return fmt.Errorf("cleanup: %w", closeErr)
	}
	return nil
}
