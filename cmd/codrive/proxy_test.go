package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// --help states --idle-release's real default: 30s once codrive serves the
// proxy (attach --listen, and run, which always does).
func TestHelpStatesIdleReleaseDefault(t *testing.T) {
	for cmd, want := range map[string]string{
		"attach": "(default: 30s with --listen, else 0s: never)",
		"tui":    "(default: 30s with --listen, else 0s: never)",
		"run":    "(default: 30s)",
	} {
		code, out, _ := runCLI(t, cmd, "--help")
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "--idle-release") {
				line = l
			}
		}
		if code != 0 || !strings.HasSuffix(strings.TrimSpace(line), want) {
			t.Errorf("%s --help: exit %d, --idle-release line %q, want it to end with %q", cmd, code, line, want)
		}
	}
}

func TestMaxMessageFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"128MiB", 128 << 20}, {"1 GiB", 1 << 30}, {"64KiB", 64 << 10}, {"1000", 1000}} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
		if got, _ := parseSize(sizeText(tc.want)); got != tc.want {
			t.Errorf("sizeText(%d) = %q reads back as %d", tc.want, sizeText(tc.want), got)
		}
	}
	for _, bad := range []string{"", "lots", "-1", "0", "12MB", "1.5MiB", "99999999999GiB"} {
		code, _, errOut := runCLI(t, "--cdp", "http://127.0.0.1:1", "attach", "--listen", "127.0.0.1:0", "--max-message", bad)
		if code != 2 || !strings.Contains(errOut, "--max-message: bad size") {
			t.Errorf("--max-message %q: exit %d, %q; want a usage error", bad, code, errOut)
		}
	}
	code, _, errOut := runCLI(t, "--cdp", "http://127.0.0.1:1", "run", "--listen", "", "--", "true")
	if code != 2 || !strings.Contains(errOut, "--listen must not be empty") {
		t.Errorf("run --listen '': exit %d, %q; want a usage error", code, errOut)
	}
}

// topKeys counts the top-level keys of one JSON object.
func topKeys(line []byte) (map[string]int, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	keys := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys[tok.(string)]++
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// With --log-format json every stderr line of attach --listen is one JSON
// object with one "msg", the proxy's address and --log-cdp's message
// bodies included.
func TestAttachProxyLogsJSON(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	cmd := exec.Command(binary(t), "--neko", srv.URL, "--cdp", c.URL, "--log-format", "json", "--log-level", "debug",
		"attach", "--listen", "127.0.0.1:0", "--log-cdp", "--acquire")
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD=admin")
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	type record struct {
		keys map[string]int
		raw  string
	}
	records := make(chan record, 1000)
	go func() {
		defer close(records)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			keys, err := topKeys(sc.Bytes())
			if err != nil {
				t.Errorf("stderr line is not one JSON object (%v): %s", err, sc.Text())
				continue
			}
			records <- record{keys, sc.Text()}
		}
	}()
	next := func(what string, match func(record) bool) record {
		t.Helper()
		deadline := time.After(testTimeout)
		for {
			select {
			case r, ok := <-records:
				if !ok {
					t.Fatalf("attach ended before %s", what)
				}
				if r.keys["msg"] != 1 {
					t.Errorf("%d \"msg\" keys in %s", r.keys["msg"], r.raw)
				}
				if match(r) {
					return r
				}
			case <-deadline:
				t.Fatalf("no %s in stderr", what)
			}
		}
	}
	announce := next("proxy address", func(r record) bool { return strings.Contains(r.raw, `"msg":"codrive: CDP proxy listening"`) })
	var a struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(announce.raw), &a); err != nil || !strings.HasPrefix(a.URL, "http://127.0.0.1:") {
		t.Fatalf("proxy line %s: %v", announce.raw, err)
	}
	resp, err := httpGetJSON(a.URL + "/json/version")
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(resp["webSocketDebuggerUrl"].(string), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"method":"Browser.getVersion"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	body := next("a logged CDP body", func(r record) bool {
		return strings.Contains(r.raw, `"msg":"cdpproxy: chromium → client"`) && strings.Contains(r.raw, "protocolVersion")
	})
	if body.keys["cdp"] != 1 {
		t.Errorf("CDP body not under \"cdp\": %s", body.raw)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for r := range records {
		if r.keys["msg"] != 1 {
			t.Errorf("%d \"msg\" keys in %s", r.keys["msg"], r.raw)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("attach after SIGTERM: %v", err)
	}
}

func httpGetJSON(url string) (map[string]any, error) {
	// No keep-alive: no idle connection outlives the test.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: testTimeout}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v map[string]any
	return v, json.NewDecoder(resp.Body).Decode(&v)
}
