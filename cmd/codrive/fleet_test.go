package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/fleettest"
)

// Without a terminal the fleet prints a line per change; --json prints
// the rooms' events with their room. The rooms come from --room or from
// $CODRIVE_FLEET_ROOMS. SIGTERM ends both with 0.
func TestFleetPlainAndJSON(t *testing.T) {
	t.Parallel()
	rooms := fleettest.Start(t, fleettest.Options{Bin: binary(t), Chromium: sharedChromium(t), Names: []string{"solo"}})
	refused := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	for _, mode := range []string{"plain", "json"} {
		t.Run(mode, func(t *testing.T) {
			// plain: the rooms from --room, which win over the variable
			// (here one that would not parse); json: from the variable.
			args := []string{"fleet", "--room", "solo=" + rooms[0].URL, "--room", "down=" + refused}
			env := append(cleanEnv(), "CODRIVE_FLEET_ROOMS=not a room")
			if mode == "json" {
				args = []string{"fleet", "--json"}
				env = append(cleanEnv(), "CODRIVE_FLEET_ROOMS=solo="+rooms[0].URL+", down="+refused)
			}
			cmd := exec.Command(binary(t), args...)
			cmd.Env = env
			out, err := cmd.StdoutPipe()
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
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var solo, down bool
			var seen []string
			deadline := time.After(testTimeout)
			for !solo || !down {
				select {
				case line, ok := <-lines:
					if !ok {
						t.Fatalf("fleet exited; printed %q; stderr %s", seen, stderr.String())
					}
					seen = append(seen, line)
					if mode == "plain" {
						solo = solo || (strings.Contains(line, " solo ○ idle state=free") && strings.Contains(line, "health=ready"))
						down = down || (strings.Contains(line, " down ✗ unreachable") && strings.Contains(line, `error="cannot connect: connection refused"`))
						continue
					}
					var ev struct {
						Room, Kind, Reason, Health, Error string
						Status                            struct{ State string }
					}
					if err := json.Unmarshal([]byte(line), &ev); err != nil {
						t.Fatalf("not JSON: %q", line)
					}
					solo = solo || (ev.Room == "solo" && ev.Kind == "state" && ev.Reason == "subscribed" && ev.Status.State == "free")
					down = down || (ev.Room == "down" && ev.Kind == "fleet" && ev.Health == "unreachable" && strings.Contains(ev.Error, "connection refused"))
				case <-deadline:
					t.Fatalf("printed %q", seen)
				}
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			for range lines {
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
			}
			if strings.Contains(strings.Join(seen, "\n"), "\x1b[") {
				t.Fatalf("escape sequences: %q", seen)
			}
		})
	}
}

func TestFleetUsageErrors(t *testing.T) {
	t.Setenv("CODRIVE_FLEET_ROOMS", "")
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"fleet"}, "no rooms"},
		{[]string{"fleet", "--room", "nonsense"}, "NAME=URL"},
		{[]string{"fleet", "--room", "a=http://a:1/?token=x"}, "never in the URL"},
		{[]string{"fleet", "--room", "a=http://a:1", "--room", "a=http://b:1"}, "named twice"},
		{[]string{"fleet", "--room", "a=http://a:1", "--plain", "--json"}, "do not go together"},
		{[]string{"fleet", "--room", "a=http://a:1", "--token-file", filepath.Join(dir, "none")}, "token file"},
		{[]string{"fleet", "--rooms", filepath.Join(dir, "none.yaml")}, "rooms file"},
		{[]string{"fleet", "--room", "a=http://a:1", "--action-timeout", "0s"}, "--action-timeout"},
		{[]string{"fleet", "extra"}, "takes no arguments"},
	} {
		code, out, errOut := runCLI(t, c.args...)
		if code != exitcode.Usage || !strings.Contains(errOut, c.says) {
			t.Errorf("%v: exit %d %q %q; want %d saying %q", c.args, code, out, errOut, exitcode.Usage, c.says)
		}
		if lines := strings.Split(strings.TrimSpace(errOut), "\n"); len(lines) != 1 {
			t.Errorf("%v: want one error line, got %q", c.args, errOut)
		}
	}
	// fleet reaches no neko and no Chromium: their variables, broken, do
	// not stop it (the usage error is fleet's own).
	broken := []string{"CODRIVE_NEKO_PASSWORD_FILE=" + filepath.Join(dir, "none"), "CODRIVE_CHROMIUM_URL=ws://nowhere", "CODRIVE_NEKO_URL=::"}
	if code, _, errOut := runBin(t, broken, "fleet", "--room", "a=http://a:1", "--plain", "--json"); code != exitcode.Usage || !strings.Contains(errOut, "do not go together") {
		t.Errorf("fleet with a broken neko environment: %d %q", code, errOut)
	}
	t.Setenv("CODRIVE_FLEET_ROOMS", "a=http://a:1 b")
	if code, _, errOut := runCLI(t, "fleet"); code != exitcode.Usage || !strings.Contains(errOut, "CODRIVE_FLEET_ROOMS") {
		t.Errorf("bad environment: %d %q", code, errOut)
	}
}
