package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
	"github.com/codrive/codrive/internal/exitcode"
)

// sidecarFlags make attach a sidecar: it waits for its peers at start, and
// serves probes, metrics and control to operators.
func sidecarFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "wait-timeout", EnvVars: []string{envWaitTimeout}, DefaultText: "0s: for ever",
			Usage: "at start, wait this long for Chromium and neko to answer, printing progress, before giving up with exit 4; 0 waits for ever (containers start in any order); afterwards codrive rides out outages by itself"},
		&cli.StringFlag{Name: "http", EnvVars: []string{envHTTP},
			Usage: "serve operators on this address: /healthz, /readyz, /metrics (Prometheus), /codrive/state, /codrive/events (SSE) and POST /codrive/{request,release,take,give,pause,resume,handoff}; a non-loopback address needs --http-token"},
		&cli.StringFlag{Name: "http-token", EnvVars: []string{envHTTPToken}, DefaultText: "--token's value",
			Usage: "token /codrive/* on --http requires (?token= or Authorization: Bearer); /healthz, /readyz and /metrics never need it"},
	}
}

// httpToken is --http-token, or the proxy's --token when it is not set: one
// secret covers both unless the operator wants two.
func httpToken(c *cli.Context) string {
	if c.IsSet("http-token") {
		return c.String("http-token")
	}
	return c.String("token")
}

// checkSidecarFlags finds bad sidecar flags before any network call.
func checkSidecarFlags(c *cli.Context) error {
	if c.Duration("wait-timeout") < 0 {
		return cli.Exit("--wait-timeout must not be negative (0 waits for ever)", exitcode.Usage)
	}
	if addr := c.String("http"); addr != "" {
		if err := operator.CheckAddr(addr, httpToken(c)); err != nil {
			return cli.Exit(fmt.Sprintf("--http %s: %v", addr, err), exitcode.Usage)
		}
	}
	return nil
}

// sidecar is attach's operator endpoint and its start-up wait.
type sidecar struct {
	op  *operator.Operator
	srv *http.Server
}

// startSidecar serves --http, if asked, at once: probes answer while
// codrive still waits for its peers.
func startSidecar(c *cli.Context, log *slog.Logger) (*sidecar, error) {
	sc := &sidecar{op: operator.New(operator.Options{Token: httpToken(c), Logger: log})}
	addr := c.String("http")
	if addr == "" {
		return sc, nil
	}
	ln, err := operator.Listen(addr, httpToken(c))
	if err != nil {
		return nil, err
	}
	sc.srv = &http.Server{Handler: sc.op, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := sc.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("codrive: --http stopped", "err", err)
		}
	}()
	notice(c, log, "codrive: operator endpoints on http://"+ln.Addr().String()+" (/healthz, /readyz, /metrics, /codrive/...)", slog.String("url", "http://"+ln.Addr().String()))
	return sc, nil
}

// waitOptions make Attach wait as --wait-timeout says, telling the probes
// and the operator what it waits for.
func (sc *sidecar) waitOptions(c *cli.Context, log *slog.Logger, o codrive.Options) codrive.Options {
	if !definesFlag(c, "wait-timeout") {
		return o // tui --plain runs attach's code, not as a sidecar: no waiting
	}
	o.WaitTimeout = c.Duration("wait-timeout")
	if o.WaitTimeout == 0 {
		o.WaitTimeout = -1 // for ever: until SIGTERM
	}
	o.OnWait = func(p codrive.WaitProgress) {
		sc.op.SetWaiting(p.String())
		if p.Notable {
			notice(c, log, "codrive: "+p.String(), slog.String("peer", p.Peer), slog.Int("attempt", p.Attempt))
		}
	}
	return o
}

// close ends the event streams and the listener; the Session is closed
// before, so the last events have gone out.
func (sc *sidecar) close() {
	sc.op.Close()
	if sc.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = sc.srv.Shutdown(ctx)
}

// notice tells the operator something at any log level: a plain line in
// text mode, a record of the configured logger in JSON mode (handed to its
// handler directly, past the level filter).
func notice(c *cli.Context, log *slog.Logger, msg string, attrs ...slog.Attr) {
	if c.String("log-format") != "json" {
		fmt.Fprintln(c.App.ErrWriter, msg)
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	_ = log.Handler().Handle(context.Background(), r)
}

// definesFlag tells whether the running command has the flag at all.
func definesFlag(c *cli.Context, name string) bool {
	if c.Command == nil {
		return false
	}
	for _, f := range c.Command.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}
