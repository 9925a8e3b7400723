package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/neko/nekotest"
)

// tuiSecret is the admin password of the tui tests' neko: distinctive, so
// finding it on the screen cannot be a coincidence (the word "admin" is on
// the screen by design).
const tuiSecret = "tui-s3cret-pw"

func newTUINeko(t *testing.T) *nekotest.Server {
	t.Helper()
	srv := nekotest.NewServer(nekotest.Options{AdminPassword: tuiSecret, HeartbeatPeriod: time.Second, DelayedDisconnect: 500 * time.Millisecond})
	t.Cleanup(srv.Close)
	return srv
}

// requireTmux finds tmux; without it the test is skipped locally and fails
// under CI, like the Chromium tests.
func requireTmux(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tmux")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("tmux not found: %v", err)
	}
	t.Skipf("tmux not found: %v", err)
	return ""
}

// tmuxSession is one private tmux server (its own socket) running one
// command in a 120x40 window.
type tmuxSession struct {
	t    *testing.T
	bin  string
	sock string
	env  []string
	// screens are every capture taken, checked for secrets at the end.
	screens []string
}

func (s *tmuxSession) run(args ...string) (string, error) {
	cmd := exec.Command(s.bin, append([]string{"-S", s.sock}, args...)...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("tmux %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (s *tmuxSession) capture() string {
	s.t.Helper()
	out, err := s.run("capture-pane", "-p", "-t", "codrive")
	if err != nil {
		s.t.Fatalf("capture-pane: %v", err)
	}
	s.screens = append(s.screens, out)
	return out
}

// waitScreen polls the pane until it shows every want, or fails with the
// last screen and codrive's stderr.
func (s *tmuxSession) waitScreen(stderrPath string, want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		screen := s.capture()
		all := true
		for _, w := range want {
			all = all && strings.Contains(screen, w)
		}
		if all {
			return screen
		}
		if time.Now().After(deadline) {
			errOut, _ := os.ReadFile(stderrPath)
			s.t.Fatalf("the screen never showed %q; last screen:\n%s\nstderr:\n%s", want, screen, errOut)
		}
		time.Sleep(100 * time.Millisecond) // polling an external process's screen
	}
}

// The real binary in a real terminal (tmux) against nekotest and Chromium:
// it takes control, l releases it, q quits and cleans up, and the password
// is never on the screen.
func TestTUIInTmux(t *testing.T) {
	t.Parallel()
	tmux := requireTmux(t)
	c := sharedChromium(t)
	srv := newTUINeko(t)
	bin := binary(t)

	dir := t.TempDir()
	stderrPath := filepath.Join(dir, "stderr")
	exitPath := filepath.Join(dir, "exit")
	s := &tmuxSession{
		t:    t,
		bin:  tmux,
		sock: filepath.Join(dir, "tmux.sock"),
		// The server takes its environment from the client that starts it,
		// so the password reaches codrive without appearing in any argv.
		env: append(os.Environ(), "CODRIVE_NEKO_PASSWORD="+tuiSecret, "TERM=xterm-256color"),
	}
	shell := fmt.Sprintf("%s --neko %s --cdp %s tui --acquire 2>%s; echo $? >%s",
		shellQuote(bin), srv.URL, c.URL, shellQuote(stderrPath), shellQuote(exitPath))
	if _, err := s.run("new-session", "-d", "-x", "120", "-y", "40", "-s", "codrive", shell); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.run("kill-server") })

	screen := s.waitScreen(stderrPath, "host     automation · codrive", "auto     running", "request: automation holds control")
	id, has := srv.Host()
	if !has || !strings.HasPrefix(id, "codrive-") {
		t.Fatalf("neko host %q (%v), want codrive's session; screen:\n%s", id, has, screen)
	}
	for _, want := range []string{"socket   connected", "▶ codrive*", "tab      attached", "q quit"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}

	if _, err := s.run("send-keys", "-t", "codrive", "l"); err != nil {
		t.Fatal(err)
	}
	if err := srv.WaitHost(ctxT(t), ""); err != nil {
		t.Fatalf("l did not release control: %v\n%s", err, s.capture())
	}
	s.waitScreen(stderrPath, "host     nobody (free)", "release: control released")

	if _, err := s.run("send-keys", "-t", "codrive", "q"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testTimeout)
	var exit []byte
	for {
		var err error
		if exit, err = os.ReadFile(exitPath); err == nil && len(exit) > 0 {
			break
		}
		if time.Now().After(deadline) {
			errOut, _ := os.ReadFile(stderrPath)
			t.Fatalf("codrive did not exit after q; stderr:\n%s", errOut)
		}
		time.Sleep(50 * time.Millisecond) // polling for an external process's exit
	}
	errOut, _ := os.ReadFile(stderrPath)
	if got := strings.TrimSpace(string(exit)); got != "0" {
		t.Fatalf("exit status %s; stderr:\n%s", got, errOut)
	}
	for _, sd := range srv.Sessions() {
		if sd.Profile.Name == "codrive" {
			t.Fatalf("codrive's neko session is still there after quitting: %+v", sd)
		}
	}
	if _, has := srv.Host(); has {
		t.Fatal("a host is left after quitting")
	}
	for _, screen := range s.screens {
		if strings.Contains(screen, tuiSecret) {
			t.Fatalf("the password is on the screen:\n%s", screen)
		}
	}
	if bytes.Contains(errOut, []byte(tuiSecret)) {
		t.Fatalf("the password is on stderr:\n%s", errOut)
	}
}

// Without a terminal on stdout, tui prints attach's lines and cleans up on
// SIGTERM like attach.
func TestTUIWithoutTerminalPrintsLines(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newTUINeko(t)
	bin := binary(t)
	cmd := exec.Command(bin, "--neko", srv.URL, "--cdp", c.URL, "tui", "--acquire")
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD="+tuiSecret)
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
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var seen []string
	deadline := time.After(testTimeout)
	for took := false; !took; {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("tui exited early; printed %q; stderr:\n%s", seen, stderr.String())
			}
			seen = append(seen, line)
			took = strings.Contains(line, "automation") && strings.Contains(line, "took control")
		case <-deadline:
			t.Fatalf("no 'took control' line; printed %q", seen)
		}
	}
	if strings.Contains(strings.Join(seen, "\n"), "\x1b[") {
		t.Fatalf("escape sequences in the plain output: %q", seen)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range lines {
		seen = append(seen, line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	if _, has := srv.Host(); has {
		t.Fatal("host left after SIGTERM")
	}
	if strings.Contains(strings.Join(seen, "\n")+stderr.String(), tuiSecret) {
		t.Fatal("the password was printed")
	}
}

func TestTUIUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"tui", "extra"},
		{"tui", "--policy", "sometimes"},
		{"tui", "--bogus"},
	} {
		code, out, errOut := runCLI(t, args...)
		if code != exitcode.Usage {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, exitcode.Usage, out, errOut)
		}
		if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "codrive: ") {
			t.Errorf("%v: want one error line, got %q", args, errOut)
		}
	}
	code, _, errOut := runCLI(t, "tui", "extra")
	if code != exitcode.Usage || !strings.Contains(errOut, "tui takes no arguments") {
		t.Errorf("tui extra: %d %q", code, errOut)
	}
}
