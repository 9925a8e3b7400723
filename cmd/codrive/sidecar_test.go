package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/proctest"
	"github.com/codrive/codrive/neko/nekotest"
)

// sidecarTimeout bounds the sidecar tests' waits: the peers start 5s in.
const sidecarTimeout = 60 * time.Second

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// pollUntil polls url until ok holds, failing after sidecarTimeout.
func pollUntil(t *testing.T, what, url string, ok func(code int, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(sidecarTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		code, body := get(t, url)
		if ok(code, body) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s: last %s answered %d %q", what, url, code, body)
		}
		<-tick.C
	}
}

var soFar = regexp.MustCompile(`, ([0-9hms]+) so far;`)

// Done-when of issue 13: `codrive attach --http` starts before Chromium and
// neko exist, waits for them with progress lines and backoff, and /readyz
// turns 200 once they are up, 5s later; SIGTERM then still exits cleanly.
func TestAttachSidecarStartsBeforeItsPeers(t *testing.T) {
	t.Parallel()
	cdptest.Require(t)
	bin := binary(t)
	cdpPort := freePort(t)
	srv := newNeko(t, nil)
	srv.Stop() // its address is known; nothing listens there yet

	cmd := exec.Command(bin, "--neko", srv.URL, "--cdp", "http://127.0.0.1:"+strconv.Itoa(cdpPort),
		"attach", "--http", "127.0.0.1:0", "--listen", "127.0.0.1:0")
	cmd.Env = append(cmd.Environ(), "CODRIVE_NEKO_PASSWORD=admin")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := proctest.Read(stderr)
	base := "http://" + lines.Wait(t, sidecarTimeout, "the --http address", regexp.MustCompile(`operator endpoints on http://(\S+)`))[1]
	lines.Wait(t, sidecarTimeout, "a progress line about Chromium", regexp.MustCompile(`waiting for chromium at http://127\.0\.0\.1:`+strconv.Itoa(cdpPort)+`: .*connection refused.*\(try 1,`))

	if code, body := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz while waiting: %d %s", code, body)
	}
	// The image's HEALTHCHECK: alive while waiting, not ready.
	addr := strings.TrimPrefix(base, "http://")
	if code, out, errOut := runCLI(t, "healthcheck", "--http", addr); code != 0 || strings.TrimSpace(out) != "ok" {
		t.Fatalf("healthcheck while waiting: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "healthcheck", "--http", addr, "--ready"); code != exitcode.Failure || !strings.Contains(errOut, "503") {
		t.Fatalf("healthcheck --ready while waiting: %d %q", code, errOut)
	}
	// Five seconds of waiting, as the readiness probe reports it.
	pollUntil(t, "5s of waiting", base+"/readyz", func(code int, body string) bool {
		if code != 503 || !strings.Contains(body, "waiting for chromium") {
			t.Fatalf("readyz while Chromium is missing: %d %q", code, body)
		}
		m := soFar.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("readyz while waiting says nothing of the time so far: %q", body)
		}
		d, err := time.ParseDuration(m[1])
		return err == nil && d >= 5*time.Second
	})
	c, err := cdptest.Start(context.Background(), cdptest.Options{Port: cdpPort})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pollUntil(t, "waiting for neko", base+"/readyz", func(code int, body string) bool {
		return code == 503 && strings.Contains(body, "waiting for neko")
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "ready", base+"/readyz", func(code int, body string) bool { return code == 200 })
	lines.Wait(t, sidecarTimeout, "a progress line about neko", regexp.MustCompile(`waiting for neko at `+regexp.QuoteMeta(srv.URL)))
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "\ncodrive_ready 1\n") {
		t.Fatalf("metrics once ready: %d\n%s", code, body)
	}
	if code, body := get(t, base+"/codrive/state"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Fatalf("state once ready: %d %s", code, body)
	}

	_, port, _ := net.SplitHostPort(addr)
	if code, _, errOut := runCLI(t, "healthcheck", "--http", "0.0.0.0:"+port, "--ready"); code != 0 {
		t.Fatalf("healthcheck --ready once ready (0.0.0.0 probed on loopback): %d %q", code, errOut)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, lines)
	}
	if code, _, errOut := runCLI(t, "healthcheck", "--http", addr); code != exitcode.Unreachable {
		t.Fatalf("healthcheck after exit: %d %q", code, errOut)
	}
	for _, s := range srv.Sessions() {
		if s.Profile.Name == "codrive" && s.State.IsConnected {
			t.Fatalf("codrive still connected after SIGTERM: %+v", s)
		}
	}
}

// SIGTERM while attach still waits is a clean exit too: a pod deleted
// before its browser came up.
func TestAttachSIGTERMWhileWaiting(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	cmd := exec.Command(bin, "--neko", "http://127.0.0.1:"+strconv.Itoa(freePort(t)), "--cdp", "http://127.0.0.1:"+strconv.Itoa(freePort(t)),
		"--password", "admin", "attach")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := proctest.Read(stderr)
	lines.Wait(t, sidecarTimeout, "a progress line", regexp.MustCompile(`waiting for chromium`))
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM while waiting: %v\n%s", err, lines)
	}
}

// Bad sidecar flags are usage errors, found before any network call.
func TestSidecarFlagsAreCheckedFirst(t *testing.T) {
	t.Parallel()
	unreachable := []string{"--neko", "http://127.0.0.1:1", "--cdp", "http://127.0.0.1:2", "--password", "x", "attach"}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--http", "0.0.0.0:0"}, "token"},
		{[]string{"--http", "nonsense"}, "--http"},
		{[]string{"--wait-timeout", "-1s"}, "--wait-timeout"},
	} {
		code, _, errOut := runCLI(t, append(unreachable, c.args...)...)
		if code != exitcode.Usage || !strings.Contains(errOut, c.says) {
			t.Errorf("attach %v: exit %d %q; want %d naming %s", c.args, code, errOut, exitcode.Usage, c.says)
		}
	}
	for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "--http", "nonsense"}, {"healthcheck", "--http", "127.0.0.1:1", "--timeout", "0s"}} {
		if code, _, errOut := runCLI(t, args...); code != exitcode.Usage {
			t.Errorf("%v: exit %d %q, want %d", args, code, errOut, exitcode.Usage)
		}
	}
	// A token from --token covers --http too.
	srvBusy := nekotest.NewServer(nekotest.Options{})
	defer srvBusy.Close()
	code, _, errOut := runCLI(t, "--neko", srvBusy.URL, "--cdp", "http://127.0.0.1:2", "--password", "admin",
		"attach", "--http", "0.0.0.0:0", "--token", "t", "--wait-timeout", "300ms")
	if code != exitcode.Unreachable || !strings.Contains(errOut, "did not answer within 300ms") {
		t.Errorf("attach --http 0.0.0.0:0 --token t --wait-timeout 300ms: exit %d %q", code, errOut)
	}
}

// Only attach is a sidecar: tui --plain runs attach's code but does not
// wait for a missing Chromium.
func TestTUIPlainDoesNotWait(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	code, _, errOut := runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", "http://127.0.0.1:1", "tui", "--plain")
	if code != exitcode.Unreachable || strings.Contains(errOut, "waiting for") {
		t.Fatalf("tui --plain without Chromium: exit %d\n%s", code, errOut)
	}
}
