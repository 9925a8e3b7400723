package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/hint"
	"github.com/codrive/codrive/neko"
)

// Environment variables codrive reads or sets. envVars is their one list:
// `codrive --help` prints it, and a test checks the README's list and every
// flag's EnvVars against it.
const (
	envNekoURL      = "CODRIVE_NEKO_URL"
	envUser         = "CODRIVE_NEKO_USER"
	envPassword     = "CODRIVE_NEKO_PASSWORD"
	envPasswordFile = "CODRIVE_NEKO_PASSWORD_FILE"
	envCookies      = "CODRIVE_NEKO_COOKIES"
	envChromium     = "CODRIVE_CHROMIUM_URL"
	envLogFormat    = "CODRIVE_LOG_FORMAT"
	envLogLevel     = "CODRIVE_LOG_LEVEL"
	envPolicy       = "CODRIVE_POLICY"
	envListen       = "CODRIVE_LISTEN"
	envToken        = "CODRIVE_TOKEN"
	envTokenFile    = "CODRIVE_TOKEN_FILE"
	envMaxMessage   = "CODRIVE_MAX_MESSAGE"
	envUserPassword = "CODRIVE_NEKO_USER_PASSWORD"
	envWaitTimeout  = "CODRIVE_WAIT_TIMEOUT"
	envHTTP         = "CODRIVE_HTTP"
	envHTTPToken    = "CODRIVE_HTTP_TOKEN"
	// codrive fleet's: its rooms, their file and their default token file.
	envFleetRooms     = fleet.EnvRooms
	envFleetFile      = "CODRIVE_FLEET_FILE"
	envFleetTokenFile = "CODRIVE_FLEET_TOKEN_FILE"
	// Set by `codrive run` for its script, and only by it.
	envScriptURL = "CODRIVE_CDP_URL"
	envScriptWS  = "CODRIVE_CDP_WS"
	envRun       = "CODRIVE_RUN"
)

// envVar is one environment variable and what it is for.
type envVar struct {
	Name, Flag, Meaning string
}

func envVars() []envVar {
	return []envVar{
		{envNekoURL, "--neko", "neko's URL (default http://127.0.0.1:8080)"},
		{envUser, "--user", "the neko user codrive logs in as (default codrive)"},
		{envPassword, "--password", "its password; a password file wins over it"},
		{envPasswordFile, "--password-file", "a file holding the password (a mounted secret)"},
		{envCookies, "--cookies", "prefer neko's cookie login"},
		{envChromium, "--cdp", "Chromium's DevTools endpoint (default http://127.0.0.1:9222)"},
		{envLogFormat, "--log-format", "text or json"},
		{envLogLevel, "--log-level", "debug, info, warn or error"},
		{envPolicy, "--policy", "attach, run, tui: yield, finish-step, hold or locked"},
		{envListen, "--listen", "attach, tui: serve the CDP proxy on this address"},
		{envToken, "--token", "the proxy's token; a token file wins over it"},
		{envTokenFile, "--token-file", "a file holding the proxy's token"},
		{envMaxMessage, "--max-message", "largest CDP message a script may send"},
		{envUserPassword, "--user-password", "smoke: neko's non-admin password"},
		{envWaitTimeout, "--wait-timeout", "attach: how long to wait for Chromium and neko at start (0: for ever)"},
		{envHTTP, "--http", "attach, healthcheck: the operators' address (probes, metrics, state, events, actions)"},
		{envHTTPToken, "--http-token", "attach: the token /codrive/* on --http requires (default: the proxy's)"},
		{envFleetRooms, "--room", "fleet: the rooms, NAME=URL entries separated by commas or spaces, when neither --room nor --rooms is given"},
		{envFleetFile, "--rooms", "fleet: a YAML file of rooms (name, url, tokenFile)"},
		{envFleetTokenFile, "--token-file", "fleet: the token file of the rooms that name none"},
		{envScriptURL, "", "set by `codrive run` for its script: the proxy's http URL. Read as --cdp only for one more release, with a warning: use " + envChromium},
		{envScriptWS, "", "set by `codrive run` for its script: the browser WebSocket URL through the proxy"},
		{envRun, "", "set by `codrive run` for its script: a codrive started by the script knows " + envScriptURL + " is the proxy"},
	}
}

// envHelp renders envVars for `codrive --help`.
func envHelp() string {
	var b strings.Builder
	b.WriteString("ENVIRONMENT (a flag wins over its variable):\n")
	for _, e := range envVars() {
		flag := e.Flag
		if flag == "" {
			flag = "-"
		}
		fmt.Fprintf(&b, "   %-27s %-16s %s\n", e.Name, flag, strings.ReplaceAll(e.Meaning, "`", ""))
	}
	return b.String()
}

// appState is what the app learned while parsing, for error messages.
type appState struct {
	getenv        func(string) (string, bool)
	hints         hint.Context
	passwordGiven bool
	cdpSource     string // where --cdp came from: "flag", "env", "run-proxy", "deprecated-env", "default"
}

func globalFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "neko", Value: "http://127.0.0.1:8080", EnvVars: []string{envNekoURL}, Usage: "neko server URL"},
		&cli.StringFlag{Name: "user", Value: "codrive", EnvVars: []string{envUser}, Usage: "neko user name for codrive's session"},
		// The variables of these three are read by secret() and cdpURL(),
		// not by the flag, so that a flag, a file and a variable can be
		// told apart; their help names them the way urfave does.
		&cli.StringFlag{Name: "password", Usage: "neko password (prefer --password-file or the variable: flags show in ps) [$" + envPassword + "]"},
		&cli.StringFlag{Name: "password-file", Usage: "read the neko password from this file; wins over $" + envPassword + " [$" + envPasswordFile + "]"},
		&cli.BoolFlag{Name: "cookies", EnvVars: []string{envCookies}, Usage: "neko runs with session.cookie.enabled"},
		&cli.StringFlag{Name: "cdp", Aliases: []string{"chromium"}, Value: "http://127.0.0.1:9222", Usage: "Chromium's DevTools endpoint (http://host:port or ws://.../devtools/browser/ID) [$" + envChromium + ", $" + envScriptURL + " until the next release]"},
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{envLogFormat}, Usage: "log format: text or json"},
		&cli.StringFlag{Name: "log-level", Value: "warn", EnvVars: []string{envLogLevel}, Usage: "log level: debug, info, warn, error"},
		&cli.BoolFlag{Name: "version", Usage: "print the version and exit"},
		// urfave adds its own --help only when there is no command named
		// help; codrive has one (helpCommand).
		&cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"},
	}
}

// validateGlobal checks the global flags before any command runs: every
// usage problem is found before a network call.
func (st *appState) validateGlobal(c *cli.Context) error {
	if _, err := newLogger(c); err != nil {
		return cli.Exit(err.Error(), exitcode.Usage)
	}
	switch c.Args().First() {
	case "version", "completion", "help", "h", "demo", "fleet":
		// They reach neither neko nor Chromium (fleet reaches codrives'
		// operator listeners only): the environment for those must not
		// stop them.
		return nil
	}
	// A malformed address is a usage error, not an unreachable server.
	if _, err := neko.NewClient(c.String("neko"), neko.Options{}); err != nil {
		msg := "--neko: " + strings.TrimPrefix(err.Error(), "neko: ")
		if u := c.String("neko"); strings.HasPrefix(u, "ws://") || strings.HasPrefix(u, "wss://") {
			msg += " (give neko's http URL, e.g. http://" + strings.SplitN(strings.SplitN(u, "://", 2)[1], "/", 2)[0] + ": codrive finds its WebSocket)"
		}
		return cli.Exit(msg, exitcode.Usage)
	}
	cdpURL, err := st.cdpURL(c)
	if err != nil {
		return err
	}
	if _, err := cdp.ParseEndpoint(cdpURL); err != nil {
		return cli.Exit("--cdp: "+err.Error(), exitcode.Usage)
	}
	st.hints = hint.Context{NekoURL: c.String("neko"), CDPURL: cdpURL, User: c.String("user")}
	if _, err := st.password(c); err != nil {
		return err
	}
	return nil
}

// cdpURL is Chromium's endpoint: --cdp (or --chromium, or
// $CODRIVE_CHROMIUM_URL), else the deprecated $CODRIVE_CDP_URL with a
// warning, else the default. Inside `codrive run`'s script
// $CODRIVE_CDP_URL is the proxy run started: a codrive started there
// goes through it, and says so.
func (st *appState) cdpURL(c *cli.Context) (string, error) {
	if c.IsSet("cdp") {
		st.cdpSource = "flag"
		return c.String("cdp"), nil
	}
	if v, _ := st.getenv(envChromium); v != "" {
		st.cdpSource = "env"
		return v, nil
	}
	old, ok := st.getenv(envScriptURL)
	if !ok || old == "" {
		st.cdpSource = "default"
		return c.String("cdp"), nil
	}
	if v, _ := st.getenv(envRun); v != "" {
		st.cdpSource = "run-proxy"
		return old, nil
	}
	if st.cdpSource != "deprecated-env" {
		st.cdpSource = "deprecated-env"
		fmt.Fprintf(c.App.ErrWriter, "codrive: warning: $%s as --cdp is deprecated and stops working in the next release: set $%s (%s is what `codrive run` gives scripts: the gated proxy)\n", envScriptURL, envChromium, envScriptURL)
	}
	return old, nil
}

// viaRunProxy: --cdp is the proxy of the `codrive run` this codrive runs
// under, not Chromium itself.
func (st *appState) viaRunProxy() bool { return st.cdpSource == "run-proxy" }

// password is the neko password: --password, else --password-file, else
// $CODRIVE_NEKO_PASSWORD_FILE, else $CODRIVE_NEKO_PASSWORD (a flag wins
// over a file, a file over a variable). It is never logged or printed.
func (st *appState) password(c *cli.Context) (string, error) {
	pw, given, err := st.secret(c, "password", "password-file", envPassword, envPasswordFile)
	st.passwordGiven, st.hints.PasswordGiven = given, given
	return pw, err
}

// secret reads a secret given as a flag, a file (flag or variable) or a
// variable, in that order of precedence. Both flags at once are a mistake.
func (st *appState) secret(c *cli.Context, flag, fileFlag, env, fileEnv string) (value string, given bool, err error) {
	if c.IsSet(flag) && c.IsSet(fileFlag) {
		return "", false, cli.Exit(fmt.Sprintf("--%s and --%s are mutually exclusive", flag, fileFlag), exitcode.Usage)
	}
	if c.IsSet(flag) {
		return c.String(flag), true, nil
	}
	file, from := c.String(fileFlag), "--"+fileFlag
	if !c.IsSet(fileFlag) {
		file, _ = st.getenv(fileEnv)
		from = "$" + fileEnv
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", false, cli.Exit(fmt.Sprintf("%s: %v", from, err), exitcode.Usage)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", false, cli.Exit(fmt.Sprintf("%s: %s is empty", from, file), exitcode.Usage)
		}
		return v, true, nil
	}
	v, ok := st.getenv(env)
	return v, ok && v != "", nil
}

// globalNames are the names of the global flags, with whether each takes a
// value, for moving them from after the command to before it.
func globalNames(flags []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !isBool
		}
	}
	return m
}

func flagTakesValue(flags []cli.Flag, name string) (known, takesValue bool) {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			_, isBool := f.(*cli.BoolFlag)
			return true, !isBool
		}
	}
	return false, false
}
