package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/codrive/codrive/internal/oneshot"
)

// Item 4: CODRIVE_CDP_URL meant Chromium (--cdp) and, inside codrive run,
// the proxy; a script started without codrive run drove Chromium ungated,
// and `codrive run -- codrive status` reported the proxy as "chromium".
func TestChromiumVariableAndRunsProxy(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	pw := "CODRIVE_NEKO_PASSWORD=admin"
	status := func(env ...string) (oneshot.Report, string) {
		t.Helper()
		code, out, errOut := runBin(t, append(env, pw), "--neko", srv.URL, "status", "--json")
		var r oneshot.Report
		if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("status with %v: exit %d\n%s%s", env, code, out, errOut)
		}
		return r, errOut
	}

	r, errOut := status("CODRIVE_CHROMIUM_URL=" + c.URL)
	if r.CDP.URL != c.URL || r.CDP.Proxy || errOut != "" {
		t.Errorf("CODRIVE_CHROMIUM_URL: %+v %q", r.CDP, errOut)
	}
	// The old name still works for one release, saying so.
	r, errOut = status("CODRIVE_CDP_URL=" + c.URL)
	if r.CDP.URL != c.URL || !strings.Contains(errOut, "deprecated") || !strings.Contains(errOut, "CODRIVE_CHROMIUM_URL") {
		t.Errorf("CODRIVE_CDP_URL outside codrive run: %+v %q", r.CDP, errOut)
	}
	// Both: the new one wins, silently.
	r, errOut = status("CODRIVE_CHROMIUM_URL="+c.URL, "CODRIVE_CDP_URL=http://127.0.0.1:1")
	if r.CDP.URL != c.URL || errOut != "" {
		t.Errorf("both variables: %+v %q", r.CDP, errOut)
	}

	// Inside codrive run, a codrive started by the script goes through
	// run's proxy and says it is the proxy.
	code, out, errOut := runBin(t, []string{pw}, "--neko", srv.URL, "--cdp", c.URL, "run", "--", binary(t), "--neko", srv.URL, "status", "--json")
	if code != 0 {
		t.Fatalf("codrive run -- codrive status: exit %d\n%s%s", code, out, errOut)
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.CDP.Proxy || r.CDP.URL == c.URL || !strings.HasPrefix(r.CDP.URL, "http://127.0.0.1:") || !r.CDP.Reachable {
		t.Errorf("nested status: %+v", r.CDP)
	}
	if strings.Contains(errOut, "deprecated") {
		t.Errorf("the proxy of codrive run was taken for the deprecated variable: %s", errOut)
	}
	code, out, _ = runBin(t, []string{pw}, "--neko", srv.URL, "--cdp", c.URL, "run", "--", binary(t), "--neko", srv.URL, "status")
	if code != 0 || !strings.Contains(out, "through codrive run's CDP proxy http://127.0.0.1:") {
		t.Errorf("nested status text: exit %d\n%s", code, out)
	}
}
