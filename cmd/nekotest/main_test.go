package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/neko"
)

const waitTimeout = 20 * time.Second

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds the command once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "nekotest-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "nekotest")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + ": " + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer collects a stream while the process runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	lines  chan string
	done   chan struct{}
}

func startBinary(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, lines: make(chan string, 16), done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(io.TeeReader(outPipe, p.stdout))
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

func (p *proc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(waitTimeout):
		t.Fatalf("process still running after %v; stderr: %s", waitTimeout, p.stderr)
	}
	return p.cmd.ProcessState.ExitCode()
}

var listeningLine = regexp.MustCompile(`^nekotest listening on (http://127\.0\.0\.1:[0-9]+)$`)

func (p *proc) url(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			t.Fatalf("stdout closed before the listening line; stderr: %s", p.stderr)
		}
		m := listeningLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("first stdout line %q", line)
		}
		return m[1]
	case <-time.After(waitTimeout):
		t.Fatalf("no listening line within %v; stderr: %s", waitTimeout, p.stderr)
	}
	return ""
}

func TestBinaryServesAndStopsOnSignal(t *testing.T) {
	t.Parallel()
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		p := startBinary(t, []string{"NEKOTEST_USER_PASSWORD=u-secret-pw", "NEKOTEST_ADMIN_PASSWORD=a-secret-pw"},
			"--addr", "127.0.0.1:0", "--heartbeat", "1s", "--implicit-hosting", "--log-level", "debug")
		base := p.url(t)
		hc := &http.Client{Timeout: waitTimeout, Transport: &http.Transport{}}
		res, err := hc.Get(base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusOK || string(body) != "true" {
			t.Fatalf("/health: %d %q", res.StatusCode, body)
		}
		// The passwords come from the environment, and the flags reach the room.
		login := func(pw string) neko.LoginResponse {
			raw, _ := json.Marshal(neko.LoginRequest{Username: "x", Password: pw})
			res, err := hc.Post(base+"/api/login", "application/json", bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var out neko.LoginResponse
			if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&out) != nil {
				t.Fatalf("login: %d", res.StatusCode)
			}
			return out
		}
		login("u-secret-pw")
		admin := login("a-secret-pw")
		if !admin.Profile.IsAdmin {
			t.Fatal("admin password from env gave no admin")
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/api/room/settings", nil)
		req.Header.Set("Authorization", "Bearer "+admin.Token)
		res, err = hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var st neko.Settings
		_ = json.NewDecoder(res.Body).Decode(&st)
		_ = res.Body.Close()
		if !st.ImplicitHosting || st.LockedControls {
			t.Fatalf("settings from flags: %+v", st)
		}
		hc.CloseIdleConnections()

		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		if code := p.exitCode(t); code != 0 {
			t.Fatalf("%v: exit %d; stderr: %s", sig, code, p.stderr)
		}
		if out := p.stdout.String(); strings.Count(out, "\n") != 1 {
			t.Fatalf("stdout is not exactly one line: %q", out)
		}
		for _, secret := range []string{"u-secret-pw", "a-secret-pw"} {
			if strings.Contains(p.stdout.String()+p.stderr.String(), secret) {
				t.Fatalf("password %q in the output", secret)
			}
		}
	}
}

func TestBinaryBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--bogus"},
		{"--heartbeat", "abc"},
		{"--heartbeat", "-1s"},
		{"--log-level", "loud"},
		{"extra-argument"},
	} {
		p := startBinary(t, nil, args...)
		if code := p.exitCode(t); code != 2 {
			t.Errorf("%v: exit %d, want 2; stderr %q", args, code, p.stderr)
		}
		errOut := p.stderr.String()
		if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "nekotest: ") {
			t.Errorf("%v: stderr is not one clear line: %q", args, errOut)
		}
		if out := p.stdout.String(); out != "" {
			t.Errorf("%v: stdout %q", args, out)
		}
	}
}

func TestBinaryPortTaken(t *testing.T) {
	t.Parallel()
	first := startBinary(t, nil, "--addr", "127.0.0.1:0")
	addr := strings.TrimPrefix(first.url(t), "http://")
	second := startBinary(t, nil, "--addr", addr)
	if code := second.exitCode(t); code != 1 {
		t.Fatalf("second server on %s: exit %d, want 1; stderr %q", addr, code, second.stderr)
	}
	_ = first.cmd.Process.Signal(syscall.SIGTERM)
	if code := first.exitCode(t); code != 0 {
		t.Fatalf("first server: exit %d", code)
	}
}

// The command also runs in-process, which is how its options are checked
// without a build.
func TestRunHelpAndCookieFlag(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"nekotest", "--help"}, &out, &errOut); code != 0 {
		t.Fatalf("--help: exit %d, stderr %q", code, errOut.String())
	}
	if !strings.Contains(out.String(), "--implicit-hosting") {
		t.Fatalf("help text: %q", out.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"nekotest", "--addr", "127.0.0.1:0", "--cookie", "--log-level", "error"}, pw, io.Discard)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	m := listeningLine.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		t.Fatalf("line %q", line)
	}
	hc := &http.Client{Timeout: waitTimeout, Transport: &http.Transport{}}
	res, err := hc.Post(m[1]+"/api/login", "application/json", strings.NewReader(`{"username":"c","password":"neko"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	hc.CloseIdleConnections()
	if res.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"token"`)) || len(res.Cookies()) == 0 {
		t.Fatalf("cookie login: %d %s %v", res.StatusCode, body, res.Cookies())
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
	case <-time.After(waitTimeout):
		t.Fatal("run did not return after cancel")
	}
}
