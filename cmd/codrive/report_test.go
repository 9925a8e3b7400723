package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
	p := startLines(t, exec.Command(binary(t), "--neko", srv.URL, "--cdp", c.URL, "--password", "admin",
		"attach", "--acquire", "--target", tab, "--reclaim-after", "100ms", "--record", dir))
	p.expect("automation", "took control")
	alice := viewer(t, srv, "alice", "neko", true)
	if _, err := alice.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	p.expect("human", "host=alice")
	if err := alice.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	p.expect("automation", "took control")
	p.stop(syscall.SIGINT)
	stderr := p.errOut.String()
	if want := "codrive report '" + dir + "' -o report.html"; !strings.Contains(stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, stderr)
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
