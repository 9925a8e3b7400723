package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/exitcode"
)

// attach --record, then codrive report: the person's turn, read back from
// the report's JSON and found in its HTML; the exit hint names the command
// that renders it.
func TestAttachRecordThenReport(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	tab := c.NewTabT(t, "data:text/html,<title>checkout</title>checkout")
	dir := filepath.Join(t.TempDir(), "run 1") // a space: the hint must quote it
	cmd := exec.Command(binary(t), "--neko", srv.URL, "--cdp", c.URL, "--password", "admin",
		"attach", "--acquire", "--target", tab, "--reclaim-after", "100ms", "--record", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	expect := func(parts ...string) {
		t.Helper()
		deadline := time.After(testTimeout)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("attach ended before a line with %q; stderr:\n%s", parts, stderr.String())
				}
				all := true
				for _, p := range parts {
					all = all && strings.Contains(line, p)
				}
				if all {
					return
				}
			case <-deadline:
				t.Fatalf("no line with %q", parts)
			}
		}
	}
	expect("automation", "took control")
	alice := viewer(t, srv, "alice", "neko", true)
	if _, err := alice.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	expect("human", "host=alice")
	if err := alice.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	expect("automation", "took control")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGINT: %v\n%s", err, stderr.String())
	}
	if want := "codrive report '" + dir + "' -o report.html"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
	}

	code, out, errOut := runCLI(t, "report", "--json", dir)
	if code != 0 {
		t.Fatalf("report --json: exit %d %s", code, errOut)
	}
	var rep struct {
		Title  string
		Totals struct{ PersonTurns int }
		People []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report --json: %v\n%.300s", err, out)
	}
	if rep.Title != "codrive attach" || rep.Totals.PersonTurns != 1 {
		t.Errorf("report: title %q, %d person turns; want codrive attach, 1", rep.Title, rep.Totals.PersonTurns)
	}
	html := filepath.Join(t.TempDir(), "report.html")
	if code, _, errOut := runCLI(t, "report", dir, "-o", html); code != 0 {
		t.Fatalf("report -o: exit %d %s", code, errOut)
	}
	b, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("alice")) || !bytes.Contains(b, []byte("data:image/jpeg;base64,")) {
		t.Errorf("the HTML report names no alice or embeds no screenshot (%d bytes)", len(b))
	}
}

// Bad input to report and --record: usage errors, before any work.
func TestReportUsage(t *testing.T) {
	t.Parallel()
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"report"}, "usage: codrive report DIR"},
		{[]string{"report", t.TempDir()}, "is not a codrive recording"},
		{[]string{"--neko", "http://127.0.0.1:1", "--password", "x", "attach", "--record", full}, "--record " + full + ": the directory is not empty"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code != exitcode.Usage || !strings.Contains(errOut, tc.says) {
			t.Errorf("%q: exit %d %q, want %d and %q", tc.args, code, errOut, exitcode.Usage, tc.says)
		}
	}
}
