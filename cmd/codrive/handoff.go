package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/sanitize"
)

func handoffCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:      "handoff",
		Usage:     "ask a person to take over (a CAPTCHA, a login) through a running codrive, and wait until they release control",
		ArgsUsage: " ",
		Description: `Talks to the CDP proxy of a running codrive (codrive run, or codrive attach --listen): automation lets go
of control, everyone in the neko room is told why (neko's chat too, when it is on), and this command returns
once a person took control and released it again. Inside codrive run's script the proxy is found by itself
($CODRIVE_CDP_URL); elsewhere give --proxy.

Exit 0 when the person released control, 5 when --timeout ran out first, 4 when the proxy did not answer,
3 when it refused the token.

   codrive run -- sh -c 'npx playwright test login.spec.ts && codrive handoff --reason "solve the CAPTCHA" --timeout 10m'`,
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "what the person should do; shown to everyone in the room"},
			durationFlag("timeout", 15*time.Minute, "give up when the person has not released control by then (exit 5)"),
			&cli.StringFlag{Name: "proxy", Usage: "the running codrive's CDP proxy URL (default inside codrive run: $" + envScriptURL + ")"},
			&cli.StringFlag{Name: "token", Usage: "the proxy's token [$" + envToken + "]"},
			&cli.StringFlag{Name: "token-file", Usage: "read the proxy's token from this file; wins over $" + envToken + " [$" + envTokenFile + "]"},
			&cli.BoolFlag{Name: "json", Usage: "print the outcome as one JSON object (also on failure)"},
		},
		Action: st.handoff,
	}
}

// handoffResult is what `codrive handoff --json` prints.
type handoffResult struct {
	Released bool            `json:"released"`
	TimedOut bool            `json:"timedOut"`
	Reason   string          `json:"reason"`
	Seconds  float64         `json:"seconds"`
	Status   json.RawMessage `json:"status,omitempty"` // the arbitration after it (Codrive.getState's)
	Error    string          `json:"error,omitempty"`
	ExitCode int             `json:"exitCode"`
}

func (st *appState) handoff(c *cli.Context) error {
	if err := checkDurations(c, "timeout"); err != nil {
		return err
	}
	endpoint, err := st.handoffURL(c)
	if err != nil {
		return err
	}
	token, _, err := st.secret(c, "token", "token-file", envToken, envTokenFile)
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(c.String("reason"))
	body, _ := json.Marshal(map[string]string{"reason": reason, "timeout": c.Duration("timeout").String()})

	ctx, stop := signalContext(c.App.ErrWriter)
	defer stop()
	// The proxy answers when the timeout runs out; the grace covers the
	// answer's way back.
	ctx, cancel := context.WithTimeout(ctx, c.Duration("timeout")+30*time.Second)
	defer cancel()
	start := time.Now()
	res := handoffResult{Reason: reason}
	status, err := postHandoff(ctx, endpoint, token, body)
	res.Seconds = seconds(time.Since(start))
	switch {
	case err == nil:
		res.Released, res.Status = true, status
	case errors.Is(err, errHandoffTimeout):
		res.TimedOut = true
	}
	if err != nil {
		res.Error = errorLine(err)
		res.ExitCode = exitOf(err)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(res); werr != nil {
			return errors.Join(err, werr)
		}
	} else if err == nil {
		fmt.Fprintf(c.App.Writer, "handoff done: the person released control after %s\n", time.Since(start).Round(time.Second))
	}
	if err != nil {
		return cli.Exit(errorLine(err), res.ExitCode)
	}
	return nil
}

// handoffURL is POST /codrive/handoff of the proxy: --proxy, or inside
// `codrive run` the proxy it gave the script.
func (st *appState) handoffURL(c *cli.Context) (*url.URL, error) {
	raw := c.String("proxy")
	if raw == "" {
		if v, _ := st.getenv(envRun); v != "" {
			raw, _ = st.getenv(envScriptURL)
		}
	}
	if raw == "" {
		return nil, cli.Exit("no proxy to ask: give --proxy URL (codrive attach --listen's address), or run inside codrive run", exitcode.Usage)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		hint := ""
		if u != nil && (u.Scheme == "ws" || u.Scheme == "wss") {
			hint = " (give the proxy's http URL, not its WebSocket)"
		}
		return nil, cli.Exit(fmt.Sprintf("--proxy %q: want the proxy's http URL, e.g. http://127.0.0.1:9223%s", sanitize.URL(raw), hint), exitcode.Usage)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/codrive/handoff"
	return u, nil
}

var (
	errHandoffTimeout = errors.New("handoff timed out")
	errProxyDown      = errors.New("proxy unreachable")
	errProxyToken     = errors.New("proxy refused the token")
)

func exitOf(err error) int {
	switch {
	case errors.Is(err, errHandoffTimeout):
		return exitcode.Timeout
	case errors.Is(err, errProxyDown):
		return exitcode.Unreachable
	case errors.Is(err, errProxyToken):
		return exitcode.Auth
	}
	return exitcode.Failure
}

// postHandoff asks the proxy for the handoff and waits for its answer: the
// status after it, or why it did not happen.
func postHandoff(ctx context.Context, u *url.URL, token string, body []byte) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// No environment proxy: codrive's proxy is local to the script.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	shown := sanitize.URL(u.String())
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return nil, fmt.Errorf("handoff: interrupted; codrive takes control back: %w", ctx.Err())
		}
		return nil, fmt.Errorf("%w: POST %s: %v", errProxyDown, shown, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var msg struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &msg)
	text := strings.TrimPrefix(sanitize.Text(msg.Error), "codrive: ")
	if text == "" {
		text = strings.TrimSpace(sanitize.Text(string(b)))
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return json.RawMessage(b), nil
	case http.StatusGatewayTimeout:
		if !strings.HasPrefix(text, "handoff timed out") {
			text = "handoff timed out: " + text
		}
		return nil, kindError{text, errHandoffTimeout}
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("%w: %s: %s (--token, --token-file or $%s)", errProxyToken, shown, text, envToken)
	case http.StatusNotFound:
		return nil, fmt.Errorf("%s is not a codrive proxy (%s): give codrive's proxy address as --proxy", shown, resp.Status)
	}
	return nil, fmt.Errorf("handoff failed (%s): %s", resp.Status, text)
}

// kindError is a message of its own that errors.Is still classifies.
type kindError struct {
	msg  string
	kind error
}

func (e kindError) Error() string { return e.msg }
func (e kindError) Unwrap() error { return e.kind }
