package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/neko/nekotest"
)

func TestWait(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)

	code, out, errOut := runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", c.URL, "wait", "--timeout", "10s")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"ok       neko /health", "ok       neko login", "ok       chromium /json/version", "ready: neko and Chromium answer"} {
		if !strings.Contains(out, want) {
			t.Errorf("wait output lacks %q:\n%s", want, out)
		}
	}
	if len(srv.Sessions()) != 0 {
		t.Error("wait left a session behind")
	}

	code, out, errOut = runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", "http://127.0.0.1:1", "wait", "--timeout", "700ms")
	if code != exitcode.Unreachable || !strings.Contains(errOut, "chromium /json/version never came up") {
		t.Fatalf("chromium down: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Count(out, "waiting  chromium /json/version") != 1 {
		t.Errorf("plain output should say why once:\n%s", out)
	}

	code, _, errOut = runCLI(t, "--neko", srv.URL, "--password", "nope-secret", "--cdp", c.URL, "wait", "--timeout", "30s")
	if code != exitcode.Auth || !strings.Contains(errOut, "wrong password") || strings.Contains(errOut, "nope-secret") {
		t.Fatalf("wrong password: exit %d %q", code, errOut)
	}
}

func TestSmokeCommand(t *testing.T) {
	t.Parallel()
	// Its own browser: smoke navigates the tab, and the status tests read
	// the shared one.
	c := cdptest.StartT(t, cdptest.Options{})
	srv := nekotest.NewServer(nekotest.Options{ScreencastEnabled: true})
	t.Cleanup(srv.Close)
	junit := filepath.Join(t.TempDir(), "smoke.xml")

	code, out, errOut := runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", c.URL, "smoke", "--user-password", "neko", "--junit", junit)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "smoke PASSED: 13 passed, 0 failed, 0 skipped") || !strings.Contains(out, "CHECK") {
		t.Fatalf("table:\n%s", out)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || len(doc.Suites) != 1 || doc.Suites[0].Tests != 13 || doc.Suites[0].Failures != 0 {
		t.Fatalf("junit %+v %v\n%s", doc, err, b)
	}

	code, out, _ = runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", "http://127.0.0.1:1", "smoke", "--json")
	if code != exitcode.Unreachable || !strings.Contains(out, `"passed": false`) || !strings.Contains(out, `"result": "fail"`) {
		t.Fatalf("smoke with chromium down: exit %d\n%s", code, out)
	}
}

func TestDemoPlain(t *testing.T) {
	t.Parallel()
	cdptest.Require(t)
	code, out, errOut := runCLI(t, "demo", "--plain", "--pace", "20ms")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"asked for control: pausing automation (policy yield)",
		"human        host=alice",
		"result:        Order confirmed: Ada Lovelace, 3 item(s)",
		"handoffs:      1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}
