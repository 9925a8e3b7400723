package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/neko/nekotest"
)

// child is what `codrive run` runs in these tests (the test binary again,
// with CODRIVE_TEST_CHILD set). It talks CDP to the proxy it was given.
func child(mode string) int {
	switch mode {
	case "env":
		if os.Getenv("CODRIVE_CDP_URL") == "" || !strings.HasPrefix(os.Getenv("CODRIVE_CDP_WS"), "ws://127.0.0.1:") {
			return 9
		}
		return 0
	case "act-and-die":
		if err := act(os.Getenv("CODRIVE_CDP_WS")); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			return 8
		}
		fmt.Println("acted")
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	case "wait-term":
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM)
		fmt.Println("ready")
		<-ch
		return 42
	}
	return 99
}

// act sends one acting command (a mouse move on the page) through the
// proxy, which makes codrive take control first.
func act(ws string) error {
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	call := func(id int, method, session string, params any) (json.RawMessage, error) {
		msg := map[string]any{"id": id, "method": method, "params": params}
		if session != "" {
			msg["sessionId"] = session
		}
		if err := c.WriteJSON(msg); err != nil {
			return nil, err
		}
		for {
			var resp struct {
				ID     int             `json:"id"`
				Result json.RawMessage `json:"result"`
				Error  *struct{ Message string }
			}
			if err := c.ReadJSON(&resp); err != nil {
				return nil, err
			}
			if resp.ID != id {
				continue // an event
			}
			if resp.Error != nil {
				return nil, fmt.Errorf("%s: %s", method, resp.Error.Message)
			}
			return resp.Result, nil
		}
	}
	res, err := call(1, "Target.getTargets", "", map[string]any{})
	if err != nil {
		return err
	}
	var targets struct {
		TargetInfos []struct{ TargetID, Type string }
	}
	if err := json.Unmarshal(res, &targets); err != nil {
		return err
	}
	page := ""
	for _, t := range targets.TargetInfos {
		if t.Type == "page" {
			page = t.TargetID
			break
		}
	}
	res, err = call(2, "Target.attachToTarget", "", map[string]any{"targetId": page, "flatten": true})
	if err != nil {
		return err
	}
	var att struct{ SessionID string }
	if err := json.Unmarshal(res, &att); err != nil {
		return err
	}
	// A side-effect-free evaluate would not do: the proxy answers those
	// without taking control. Input always acts.
	_, err = call(3, "Input.dispatchMouseEvent", att.SessionID, map[string]any{"type": "mouseMoved", "x": 5, "y": 5})
	return err
}

func codriveRun(t *testing.T, srv *nekotest.Server, cdpURL, mode string, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"--neko", srv.URL, "--cdp", cdpURL, "run"}, extra...)
	args = append(args, "--", os.Args[0])
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD=admin", "CODRIVE_TEST_CHILD="+mode)
	return cmd
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatal(err)
	}
	return ee.ExitCode()
}

func TestRunGivesTheChildTheProxy(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	out, err := codriveRun(t, srv, c.URL, "env").CombinedOutput()
	if code := exitStatus(t, err); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// The child acts (so codrive takes control), then dies by SIGKILL: codrive
// exits like a shell would (128+9) and leaves no host and no session.
func TestRunReleasesControlWhenTheChildIsKilled(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	cmd := codriveRun(t, srv, c.URL, "act-and-die")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if code := exitStatus(t, err); code != 128+9 {
		t.Fatalf("exit %d, want 137\nstdout %s\nstderr %s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "acted") || !strings.Contains(stderr.String(), "automation") {
		t.Fatalf("the child did not act through codrive:\nstdout %s\nstderr %s", stdout.String(), stderr.String())
	}
	st := srv.State()
	if st.HasHost {
		t.Fatalf("host %q left after the child died", st.HostID)
	}
	for _, s := range st.Sessions {
		if s.Profile.Name == "codrive" {
			t.Fatalf("codrive session left: %+v", s)
		}
	}
}

// SIGTERM to codrive reaches the child, and the child's exit code is
// codrive's.
func TestRunForwardsSignalsAndExitCode(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	cmd := codriveRun(t, srv, c.URL, "wait-term")
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
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("child never got ready: %s", stderr.String())
		}
	case <-time.After(testTimeout):
		t.Fatalf("child never got ready: %s", stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitStatus(t, cmd.Wait()); code != 42 {
		t.Fatalf("exit %d, want the child's 42\n%s", code, stderr.String())
	}
}

func TestRunUsageAndMissingCommand(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	code, _, errOut := runCLI(t, "run")
	if code != 2 || !strings.Contains(errOut, "codrive run [flags] -- CMD") {
		t.Fatalf("run without a command: %d %q", code, errOut)
	}
	code, _, errOut = runCLI(t, "--neko", srv.URL, "--password", "admin", "--cdp", c.URL, "run", "--", "/nonexistent/script")
	if code != 127 || !strings.Contains(errOut, "/nonexistent/script") {
		t.Fatalf("missing command: %d %q", code, errOut)
	}
	if _, has := srv.Host(); has || len(srv.Sessions()) != 0 {
		t.Fatal("a failed run left state in neko")
	}
}
