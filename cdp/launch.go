package cdp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultBinary is Debian's chromium. CODRIVE_CHROMIUM overrides it.
const DefaultBinary = "/usr/bin/chromium"

// LaunchOptions tune a launched Chromium. The zero value is fine.
type LaunchOptions struct {
	// Binary is the chromium executable; default $CODRIVE_CHROMIUM or DefaultBinary.
	Binary string
	// StartTimeout bounds the wait for /json/version; default 30s.
	StartTimeout time.Duration
	// ExtraFlags are appended to the standard flag set.
	ExtraFlags []string
	// Port is the debugging port; 0 lets Chromium pick a free one. A fixed
	// port is for restarting a browser where a client expects it.
	Port int
	// URL is the page the first tab opens; default about:blank.
	URL string
	// Display, an X display such as ":3", runs Chromium headful on it (as
	// neko's image does: --display, window at 0,0) instead of headless, so
	// that the page is a real window what captures the display sees.
	Display string
}

// Browser is a headless Chromium that Launch started, with its debugging
// port open on 127.0.0.1.
type Browser struct {
	// URL is the HTTP debugging endpoint, e.g. http://127.0.0.1:41234.
	URL string
	// WebSocketURL is the browser target's WebSocket endpoint.
	WebSocketURL string
	// Port is the debugging port.
	Port int

	cmd     *exec.Cmd
	dir     string
	stderr  *lockedBuffer
	exited  chan struct{}
	closeMu sync.Once
}

// ChromiumBinary reports the chromium executable Launch uses by default.
func ChromiumBinary() string {
	if b := os.Getenv("CODRIVE_CHROMIUM"); b != "" {
		return b
	}
	return DefaultBinary
}

// ChromiumAvailable reports whether the chromium binary exists.
func ChromiumAvailable() bool {
	_, err := exec.LookPath(ChromiumBinary())
	return err == nil
}

// Launch starts a headless Chromium on a free loopback port with a fresh
// profile and waits until its /json/version answers. The caller must Close
// it. codrive attaches to the Chromium it is given; Launch exists for the
// demo and for tests, which need a browser of their own.
func Launch(ctx context.Context, opts LaunchOptions) (*Browser, error) {
	bin := opts.Binary
	if bin == "" {
		bin = ChromiumBinary()
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	dir, err := os.MkdirTemp("", "codrive-chromium-")
	if err != nil {
		return nil, fmt.Errorf("chromium profile dir: %w", err)
	}
	page := opts.URL
	if page == "" {
		page = "about:blank"
	}
	var args []string
	if opts.Display == "" {
		args = append(args, "--headless")
	} else {
		args = append(args, "--display="+opts.Display, "--window-position=0,0")
	}
	args = append(args,
		"--no-sandbox",
		"--disable-gpu",
		"--disable-dev-shm-usage",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-quic",
		"--remote-debugging-address=127.0.0.1",
		// Port 0: Chromium picks a free port and writes it to
		// DevToolsActivePort in the profile, so no port can be stolen
		// between choosing it and binding it.
		"--remote-debugging-port="+strconv.Itoa(opts.Port),
		"--user-data-dir="+dir,
	)
	args = append(args, opts.ExtraFlags...)
	args = append(args, page)

	cmd := exec.Command(bin, args...)
	if opts.Display != "" {
		// GTK reads the variable, Chromium's X11 code the flag.
		cmd.Env = append(os.Environ(), "DISPLAY="+opts.Display)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	// Own process group, so Close can take Chromium's helpers down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	c := &Browser{
		cmd:    cmd,
		dir:    dir,
		stderr: stderr,
		exited: make(chan struct{}),
	}
	if opts.Port != 0 {
		// Chromium writes DevToolsActivePort only for a port it picked.
		c.Port = opts.Port
		c.URL = fmt.Sprintf("http://127.0.0.1:%d", opts.Port)
	}
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()

	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ws, err := c.waitReady(wctx)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("chromium did not come up (port %d): %w\nstderr:\n%s", c.Port, err, tail(stderr.String(), 2000))
	}
	c.WebSocketURL = ws
	return c, nil
}

// waitReady polls for DevToolsActivePort, then /json/version, until both
// answer or ctx ends.
func (c *Browser) waitReady(ctx context.Context) (string, error) {
	// No keep-alive: a pooled idle connection would keep goroutines alive
	// after start-up (goleak checks for such leaks in tests).
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if c.Port == 0 {
			c.Port = readActivePort(filepath.Join(c.dir, "DevToolsActivePort"))
			if c.Port != 0 {
				c.URL = fmt.Sprintf("http://127.0.0.1:%d", c.Port)
			}
		}
		if c.Port != 0 {
			if ws := browserWS(ctx, client, c.URL); ws != "" {
				return ws, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-c.exited:
			return "", errors.New("chromium exited")
		case <-tick.C:
		}
	}
}

// Exited is closed when the Chromium process has ended.
func (c *Browser) Exited() <-chan struct{} { return c.exited }

// Kill ends Chromium abruptly (SIGKILL to its process group), as a crash
// would, and waits for it to be gone. The profile stays until Close.
func (c *Browser) Kill() {
	if c.cmd.Process != nil {
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	}
	select {
	case <-c.exited:
	case <-time.After(10 * time.Second):
	}
}

// Stderr returns what Chromium printed so far, for test failure messages.
func (c *Browser) Stderr() string { return c.stderr.String() }

// Close stops Chromium and removes its profile. Safe to call twice.
func (c *Browser) Close() {
	c.closeMu.Do(func() {
		if c.cmd.Process != nil {
			_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-c.exited:
			case <-time.After(5 * time.Second):
				c.Kill()
			}
		}
		os.RemoveAll(c.dir)
	})
}

// browserWS asks /json/version for the browser's WebSocket URL; "" while
// Chromium does not answer yet.
func browserWS(ctx context.Context, client *http.Client, base string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/json/version", nil)
	if err != nil {
		return ""
	}
	resp, err := client.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var v struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return ""
	}
	return v.WebSocketDebuggerURL
}

// readActivePort reads the port Chromium wrote to DevToolsActivePort; 0 while
// the file is missing or half written.
func readActivePort(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	port, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || port <= 0 {
		return 0
	}
	return port
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Chromium can be chatty; keep the last 64 KiB at most.
	if l.b.Len() > 64<<10 {
		rest := l.b.Bytes()[l.b.Len()-32<<10:]
		keep := append([]byte(nil), rest...)
		l.b.Reset()
		l.b.Write(keep)
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
