package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
)

// healthcheckCommand probes a running attach's --http endpoint: a
// container HEALTHCHECK for an image with no shell and no curl.
func healthcheckCommand() *cli.Command {
	return &cli.Command{
		Name:      "healthcheck",
		Usage:     "probe a running `codrive attach --http`: exit 0 when /healthz (or /readyz) answers 200",
		ArgsUsage: " ",
		Description: `For a container HEALTHCHECK (codrive's image has no shell and no curl). It reads the same
address as attach (--http or $CODRIVE_HTTP); an address that listens everywhere (0.0.0.0:PORT, :PORT)
is probed on 127.0.0.1. Exit 0 when the endpoint answers 200, 1 when it answers anything else,
4 when nothing answers.`,
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "http", EnvVars: []string{envHTTP}, Usage: "the address `codrive attach --http` serves on"},
			&cli.BoolFlag{Name: "ready", Usage: "probe /readyz (logged in to neko and attached to Chromium) instead of /healthz (the process lives)"},
			durationFlag("timeout", 3*time.Second, "give up after this long"),
		},
		Action: healthcheck,
	}
}

func healthcheck(c *cli.Context) error {
	addr := c.String("http")
	if addr == "" {
		return cli.Exit("healthcheck: no address: pass --http or set CODRIVE_HTTP, as for attach", exitcode.Usage)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return cli.Exit(fmt.Sprintf("healthcheck: bad --http %q: %v", addr, err), exitcode.Usage)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	if c.Duration("timeout") <= 0 {
		return cli.Exit("healthcheck: --timeout must be positive", exitcode.Usage)
	}
	path := "/healthz"
	if c.Bool("ready") {
		path = "/readyz"
	}
	url := "http://" + net.JoinHostPort(host, port) + path
	ctx, cancel := context.WithTimeout(context.Background(), c.Duration("timeout"))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return cli.Exit(fmt.Sprintf("healthcheck: %v", err), exitcode.Usage)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return cli.Exit(fmt.Sprintf("healthcheck: %s: no answer: %v", url, err), exitcode.Unreachable)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return cli.Exit(fmt.Sprintf("healthcheck: %s: %d %s", url, resp.StatusCode, msg), exitcode.Failure)
	}
	fmt.Fprintln(c.App.Writer, msg)
	return nil
}
