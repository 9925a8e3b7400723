package main

import (
	"strings"
	"testing"

	"github.com/codrive/codrive/internal/exitcode"
)

// Item 6: exit codes disagreed between commands (Chromium down was 1 for
// status, 4 for wait and attach), usage mistakes were found after logging
// in to neko, a user login doing an admin's job got a raw "403", and errors
// read "codrive: codrive: ...". One table now, every command.
func TestExitCodesPerCommand(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	const down = "http://127.0.0.1:1"
	commands := map[string][]string{
		"status":          {"status", "--timeout", "10s"},
		"wait":            {"wait", "--timeout", "2s"},
		"attach":          {"attach", "--wait-timeout", "1s"}, // a sidecar waits for ever by default
		"tui":             {"tui", "--plain"},
		"run":             {"run", "--", "true"},
		"smoke":           {"smoke", "--check-timeout", "5s"},
		"control request": {"control", "request"},
		"control release": {"control", "release"},
		"control take":    {"control", "take"},
		"control give":    {"control", "give", "alice"},
		"control reset":   {"control", "reset"},
	}
	needsChromium := []string{"status", "wait", "attach", "tui", "run", "smoke"}
	type result struct {
		code int
		out  string
	}
	check := func(what, name string, want int, global []string, extra ...string) result {
		t.Helper()
		args := append(append(append([]string{}, global...), commands[name]...), extra...)
		code, out, errOut := runCLI(t, args...)
		if code != want {
			t.Errorf("%s, %s: exit %d, want %d\n%s%s", what, name, code, want, out, errOut)
		}
		if strings.Contains(errOut, "codrive: codrive:") || strings.Contains(errOut, "cdpproxy: cdpproxy:") {
			t.Errorf("%s, %s: stutter in %q", what, name, errOut)
		}
		return result{code, out + errOut}
	}

	for _, name := range needsChromium {
		check("chromium down", name, exitcode.Unreachable, []string{"--neko", srv.URL, "--password", "admin", "--cdp", down})
	}
	for name := range commands {
		check("neko down", name, exitcode.Unreachable, []string{"--neko", down, "--password", "admin", "--cdp", c.URL})
		r := check("wrong password", name, exitcode.Auth, []string{"--neko", srv.URL, "--password", "not-it-secret", "--cdp", c.URL})
		if strings.Contains(r.out, "not-it-secret") {
			t.Errorf("%s printed the password", name)
		}
	}
	check("handoff, proxy down", "", exitcode.Unreachable, nil, "handoff", "--proxy", down, "--timeout", "5s")

	// Policy locked and --takeover need an admin: a user login is refused
	// with the fix named, as authentication (3).
	for _, name := range []string{"attach", "tui"} {
		r := check("policy locked as user", name, exitcode.Auth, []string{"--neko", srv.URL, "--password", "neko", "--cdp", c.URL}, "--policy", "locked")
		if !strings.Contains(r.out, "policy locked changes room settings and needs an admin login") || !strings.Contains(r.out, "admin password") || strings.Contains(r.out, "403") {
			t.Errorf("%s --policy locked as user: %s", name, r.out)
		}
	}
}

// Item 6: usage mistakes are found before any network call: neko and
// Chromium are listeners that count connections and answer nothing.
func TestUsageBeforeAnyNetworkCall(t *testing.T) {
	t.Parallel()
	nekoURL, nekoCalls := silentListener(t)
	cdpURL, cdpCalls := silentListener(t)
	global := []string{"--neko", nekoURL, "--cdp", cdpURL, "--password", "admin"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--timeout", "-1s"}, "--timeout must not be negative"},
		{[]string{"wait", "--timeout", "0s"}, "--timeout must be more than 0"},
		{[]string{"attach", "--hold-timeout", "-1s"}, "--hold-timeout must not be negative"},
		{[]string{"attach", "--hold-timeout", "0s"}, "--hold-timeout must be more than 0"},
		{[]string{"attach", "--reclaim-after", "-2s"}, "--reclaim-after must not be negative"},
		{[]string{"attach", "--listen", "0.0.0.0:0"}, "--listen: listening on 0.0.0.0:0 exposes the browser"},
		{[]string{"attach", "--listen", "nonsense"}, "--listen: bad listen address"},
		{[]string{"run", "--listen", "192.0.2.1:9223", "--", "true"}, "(--token or --token-file)"},
		{[]string{"tui", "--plain", "--handoff-timeout", "-5s"}, "--handoff-timeout must not be negative"},
		{[]string{"smoke", "--check-timeout", "-1s"}, "--check-timeout must not be negative"},
		{[]string{"control", "request", "--timeout", "-1s"}, "--timeout must not be negative"},
		{[]string{"handoff", "--timeout", "-1s", "--proxy", cdpURL}, "--timeout must not be negative"},
		{[]string{"handoff", "--proxy", "ws://127.0.0.1:9223/devtools/browser/x"}, "not its WebSocket"},
		{[]string{"handoff"}, "give --proxy URL"},
		{[]string{"attach", "--policy", "sometimes"}, "--policy"},
		{[]string{"run"}, "usage: codrive run"},
	} {
		code, out, errOut := runCLI(t, append(global, tc.args...)...)
		if code != exitcode.Usage || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%v: exit %d, want 2 with %q\n%s%s", tc.args, code, tc.want, out, errOut)
		}
		if strings.Contains(errOut, "codrive: codrive:") {
			t.Errorf("%v: stutter: %q", tc.args, errOut)
		}
	}
	if n, m := nekoCalls(), cdpCalls(); n != 0 || m != 0 {
		t.Fatalf("usage errors reached neko %d times and Chromium %d times", n, m)
	}
}
