package nekoserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codrive/codrive/internal/proctest"
	"github.com/codrive/codrive/neko"
)

// ErrNoRealNeko means the real neko server cannot run here: no binary or no
// Xvfb. NekoAvailable says which and how to fix it.
var ErrNoRealNeko = errors.New("real neko unavailable")

const (
	startTimeout = 60 * time.Second
	// gracefulWait is how long a SIGINT'ed neko may take before it is
	// killed: the image's supervisord gives neko stopsignal=INT and
	// stopwaitsecs=3 (runtime-supervisord.conf). It is needed: v3.1.5 never
	// exits on SIGINT while a WebSocket was connected (its websocket
	// manager's reader goroutine blocks on an unread channel, so Shutdown
	// waits forever: internal/websocket/manager.go handle).
	gracefulWait = 3 * time.Second
	// abruptWait bounds the wait for a SIGTERM'ed neko, which exits at once.
	abruptWait = 10 * time.Second
	// screen is the desktop neko captures and Chromium windows fill; also
	// neko's own default (internal/config/desktop.go desktop.screen).
	screenW, screenH = 1280, 720
)

// Binary returns the real neko executable tests use: $CODRIVE_NEKO_BIN, else
// .cache/neko/bin/neko in the module root (where scripts/build-neko.sh
// builds it). It does not check that the file exists.
func Binary() string {
	if b := os.Getenv("CODRIVE_NEKO_BIN"); b != "" {
		return b
	}
	root, err := proctest.ModuleRoot()
	if err != nil {
		return filepath.Join(".cache", "neko", "bin", "neko")
	}
	return filepath.Join(root, ".cache", "neko", "bin", "neko")
}

// NekoAvailable reports why real neko cannot run here, or nil if it can.
func NekoAvailable() error {
	bin := Binary()
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%w: no neko binary at %s (build it: make neko, or scripts/build-neko.sh; CODRIVE_NEKO_BIN overrides the path)", ErrNoRealNeko, bin)
	}
	if _, err := exec.LookPath("Xvfb"); err != nil {
		return fmt.Errorf("%w: Xvfb not found (make neko installs it)", ErrNoRealNeko)
	}
	return nil
}

// Neko is a real neko v3.1.5 process behind the Server interface, on its own
// Xvfb display, in its own temporary directory.
type Neko struct {
	admin
	opts    Options
	bin     string
	dir     string
	port    int
	udpPort int // the first of udpPorts WebRTC ports (NEKO_WEBRTC_EPR)
	iceIP   string
	xvfb    *process
	display string
	log     *logBuffer

	mu     sync.Mutex
	proc   *process // nil while stopped
	paused bool
	closed bool
}

var _ Server = (*Neko)(nil)

// StartNeko starts Xvfb on a free display and real neko on free loopback
// ports, and waits until neko's /health answers.
func StartNeko(ctx context.Context, opts Options) (*Neko, error) {
	if err := NekoAvailable(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "codrive-neko-")
	if err != nil {
		return nil, fmt.Errorf("nekoserver: temp dir: %w", err)
	}
	n := &Neko{opts: opts, bin: Binary(), dir: dir, log: newLogBuffer()}
	if err := n.setup(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Neko) setup(ctx context.Context) error {
	// neko reads ./neko.yaml or /etc/neko/neko.yaml when it finds one; an
	// explicit empty file keeps a machine's own config out. Everything is
	// set through NEKO_* variables instead.
	conf := filepath.Join(n.dir, "neko.yaml")
	if err := os.WriteFile(conf, []byte("# codrive tests: configured by NEKO_* variables\n{}\n"), 0o600); err != nil {
		return fmt.Errorf("nekoserver: write %s: %w", conf, err)
	}
	xvfb, display, err := startXvfb(ctx, n.log)
	if err != nil {
		return err
	}
	n.xvfb, n.display = xvfb, display
	if n.port, err = freePort("tcp"); err != nil {
		return err
	}
	if n.udpPort, err = freeUDPRange(udpPorts); err != nil {
		return err
	}
	n.iceIP = iceAddress()
	n.admin = admin{url: fmt.Sprintf("http://127.0.0.1:%d", n.port)}
	return n.Start(ctx)
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before neko binds it; neko then fails to start, and says so in
// its log.
func freePort(network string) (int, error) {
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("nekoserver: free udp port: %w", err)
		}
		defer pc.Close()
		return pc.LocalAddr().(*net.UDPAddr).Port, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("nekoserver: free tcp port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// env is the image's configuration (shared/third_party/neko/README.md,
// image-config.yml) with test ports, as NEKO_* variables; nothing of the
// caller's NEKO_* environment leaks in.
func (n *Neko) env() []string {
	st := neko.DefaultSettings()
	if n.opts.Settings != nil {
		st = *n.opts.Settings
	}
	b := strconv.FormatBool
	env := []string{
		"DISPLAY=" + n.display,
		"HOME=" + n.dir,
		"NEKO_CONFIG=" + filepath.Join(n.dir, "neko.yaml"),
		"NEKO_LOG_NOCOLOR=true",
		"NEKO_SERVER_BIND=" + strings.TrimPrefix(n.url, "http://"),
		"NEKO_MEMBER_PROVIDER=multiuser",
		"NEKO_MEMBER_MULTIUSER_USER_PASSWORD=" + UserPassword,
		"NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD=" + AdminPassword,
		"NEKO_SESSION_PRIVATE_MODE=" + b(st.PrivateMode),
		"NEKO_SESSION_LOCKED_LOGINS=" + b(st.LockedLogins),
		"NEKO_SESSION_LOCKED_CONTROLS=" + b(st.LockedControls),
		"NEKO_SESSION_CONTROL_PROTECTION=" + b(st.ControlProtection),
		"NEKO_SESSION_INACTIVE_CURSORS=" + b(st.InactiveCursors),
		"NEKO_SESSION_MERCIFUL_RECONNECT=" + b(st.MercifulReconnect),
		"NEKO_SESSION_HEARTBEAT_INTERVAL=" + strconv.Itoa(st.HeartbeatInterval),
		"NEKO_DESKTOP_SCREEN=" + fmt.Sprintf("%dx%d@30", screenW, screenH),
		// The image's xf86 input driver does not exist here; XTEST is used.
		"NEKO_DESKTOP_INPUT_ENABLED=false",
		"NEKO_WEBRTC_ICELITE=true",
		// Without it neko looks its public IP up at start, which fails
		// without internet. See iceAddress for why it is not 127.0.0.1.
		"NEKO_WEBRTC_NAT1TO1=" + n.iceIP,
		// Bound only while WebRTC peers (neko/viewer) are connected: one
		// port per peer, a few so that a viewer can join while neko
		// still closes the previous one.
		fmt.Sprintf("NEKO_WEBRTC_EPR=%d-%d", n.udpPort, n.udpPort+udpPorts-1),
	}
	if !n.opts.BinaryDefaults {
		// The image's /etc/neko/neko.yaml sets both (image-config.yml).
		env = append(env,
			"NEKO_SESSION_IMPLICIT_HOSTING="+b(st.ImplicitHosting),
			"NEKO_SESSION_COOKIE_ENABLED="+b(n.opts.Cookies))
	}
	// Last wins for a repeated key (os/exec).
	env = append(env, n.opts.Env...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NEKO_") && !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// Kind is KindNeko.
func (n *Neko) Kind() Kind { return KindNeko }

// URL is neko's base URL.
func (n *Neko) URL() string { return n.url }

// Display is the Xvfb display neko captures, e.g. ":3".
func (n *Neko) Display() string { return n.display }

// PID is the neko process id, 0 while stopped.
func (n *Neko) PID() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return 0
	}
	return n.proc.cmd.Process.Pid
}

// Start runs a new neko process on the same port and display and waits for
// /health; initial plugin settings are then posted.
func (n *Neko) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return errors.New("nekoserver: start: server is closed")
	}
	if n.proc != nil {
		n.mu.Unlock()
		return errors.New("nekoserver: start: neko is already running")
	}
	fmt.Fprintf(n.log, "---- nekoserver: starting %s serve on %s, display %s\n", n.bin, n.url, n.display)
	cmd := exec.Command(n.bin, "serve")
	cmd.Dir = n.dir
	cmd.Env = n.env()
	p, err := startProcess(cmd, n.log)
	if err != nil {
		n.mu.Unlock()
		return fmt.Errorf("nekoserver: start neko: %w", err)
	}
	n.proc, n.paused = p, false
	n.mu.Unlock()
	n.forget()

	if err := waitHealth(ctx, n.url, p); err != nil {
		_ = n.Stop(context.Background(), Abrupt)
		return fmt.Errorf("nekoserver: neko did not come up on %s: %w\n%s", n.url, err, tail(n.log.String(), 4000))
	}
	if st := n.opts.Settings; st != nil && st.Plugins != nil {
		if err := n.UpdateSettings(ctx, neko.SettingsPatch{Plugins: st.Clone().Plugins}); err != nil {
			return fmt.Errorf("nekoserver: initial plugin settings: %w", err)
		}
	}
	return nil
}

// waitHealth polls GET /health until it answers true, the process exits or
// ctx ends.
func waitHealth(ctx context.Context, base string, p *process) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.exited:
			return fmt.Errorf("neko exited: %v", p.err)
		case <-tick.C:
		}
	}
}

// Stop signals neko (SIGINT for Graceful, SIGTERM for Abrupt) and waits for
// it to exit; a graceful neko still running after gracefulWait is killed,
// as supervisord does in the image.
func (n *Neko) Stop(ctx context.Context, how Shutdown) error {
	n.mu.Lock()
	p, paused := n.proc, n.paused
	n.proc, n.paused = nil, false
	n.mu.Unlock()
	if p == nil {
		return nil
	}
	defer n.forget()
	sig, wait := syscall.SIGTERM, abruptWait
	if how == Graceful {
		sig, wait = syscall.SIGINT, gracefulWait
	}
	fmt.Fprintf(n.log, "---- nekoserver: stopping neko: %v\n", how)
	_ = p.cmd.Process.Signal(sig)
	if paused {
		// A stopped process acts on the signal only once continued.
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	case <-ctx.Done():
	}
	if how == Graceful {
		fmt.Fprintf(n.log, "---- nekoserver: neko still running %v after SIGINT: SIGKILL\n", wait)
	}
	p.kill()
	if how != Graceful && ctx.Err() == nil {
		return fmt.Errorf("nekoserver: neko ignored SIGTERM for %v; killed", wait)
	}
	return nil
}

// Restart stops neko the way how says and starts a new process.
func (n *Neko) Restart(ctx context.Context, how Shutdown) error {
	if err := n.Stop(ctx, how); err != nil {
		return err
	}
	return n.Start(ctx)
}

// Pause sends SIGSTOP: neko's sockets stay open but nothing is answered.
func (n *Neko) Pause() error { return n.signalPaused(syscall.SIGSTOP, true) }

// Resume sends SIGCONT.
func (n *Neko) Resume() error { return n.signalPaused(syscall.SIGCONT, false) }

func (n *Neko) signalPaused(sig syscall.Signal, paused bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return errors.New("nekoserver: neko is not running")
	}
	if err := n.proc.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("nekoserver: %v: %w", sig, err)
	}
	n.paused = paused
	return nil
}

// Log is neko's and Xvfb's output (tail).
func (n *Neko) Log() string { return n.log.String() }

// Close kills neko and Xvfb and removes the temporary directory.
func (n *Neko) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	p := n.proc
	n.proc = nil
	n.mu.Unlock()
	if p != nil {
		p.kill()
	}
	if n.xvfb != nil {
		n.xvfb.stop(syscall.SIGTERM, 5*time.Second)
	}
	os.RemoveAll(n.dir)
}
