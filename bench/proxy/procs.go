package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

type binaries struct {
	codrive, nekotest string
	codriveLabel      string
}

// build compiles the real binaries, without -race, as users run them.
func build(ctx context.Context, dir string, cfg config) (binaries, error) {
	b := binaries{nekotest: filepath.Join(dir, "nekotest"), codrive: cfg.codrive, codriveLabel: cfg.codrive}
	jobs := [][]string{{"build", "-o", b.nekotest, "./cmd/nekotest"}}
	if b.codrive == "" || cfg.profile != "" {
		if cfg.codrive != "" {
			return b, errors.New("-profile builds codrive from this tree: it cannot be combined with -codrive")
		}
		b.codrive = filepath.Join(dir, "codrive")
		b.codriveLabel = "built from this tree"
		args := []string{"build", "-o", b.codrive}
		if cfg.profile != "" {
			overlay, err := profileOverlay(dir)
			if err != nil {
				return b, err
			}
			args = append(args, "-overlay", overlay)
			b.codriveLabel += " with profiling"
		}
		jobs = append(jobs, append(args, "./cmd/codrive"))
	}
	for _, args := range jobs {
		cmd := exec.CommandContext(ctx, "go", args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return b, nil
}

// profileOverlay adds one file to package main of cmd/codrive (go build
// -overlay, the tree is untouched): with CODRIVE_BENCH_PROFILE=DIR it
// profiles CPU, mutex contention and blocking from start, and on SIGUSR1
// writes them to DIR and then DIR/done.
func profileOverlay(dir string) (string, error) {
	src := filepath.Join(dir, "zz_benchprofile.go")
	if err := os.WriteFile(src, []byte(profileSource), 0o644); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(filepath.Join("cmd", "codrive", "zz_benchprofile.go"))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]map[string]string{"Replace": {abs: src}})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(dir, "overlay.json")
	return overlay, os.WriteFile(overlay, b, 0o644)
}

const profileSource = `package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
)

func init() {
	dir := os.Getenv("CODRIVE_BENCH_PROFILE")
	if dir == "" {
		return
	}
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1000)
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		panic(err)
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	go func() {
		<-ch
		pprof.StopCPUProfile()
		cpu.Close()
		for _, name := range []string{"mutex", "block", "heap", "allocs"} {
			f, err := os.Create(filepath.Join(dir, name+".pprof"))
			if err == nil {
				_ = pprof.Lookup(name).WriteTo(f, 0)
				f.Close()
			}
		}
		_ = os.WriteFile(filepath.Join(dir, "done"), nil, 0o644)
	}()
}
`

// proc is a started binary with its output kept for error messages.
type proc struct {
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
}

func (p *proc) stop() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail keeps the last lines a process wrote, and can echo them.
type tail struct {
	mu    sync.Mutex
	lines []string
	echo  string // prefix when echoing to stderr; "" for quiet
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
	if len(t.lines) > 50 {
		t.lines = t.lines[len(t.lines)-50:]
	}
	if t.echo != "" {
		fmt.Fprintln(os.Stderr, t.echo+line)
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// start runs cmd and feeds each line of its stdout and stderr to out, and
// to match until match returns true.
func start(cmd *exec.Cmd, out *tail, match func(string) bool) (*proc, <-chan struct{}, error) {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	p := &proc{cmd: cmd, out: out, done: make(chan struct{})}
	matched := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	read := func(r io.Reader) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			out.add(line)
			if match(line) {
				once.Do(func() { close(matched) })
			}
		}
	}
	wg.Add(2)
	go read(stdout)
	go read(stderr)
	go func() {
		wg.Wait()
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, matched, nil
}

type nekoProc struct {
	*proc
	url string
}

func startNekotest(ctx context.Context, bin string, verbose bool) (*nekoProc, error) {
	out := &tail{}
	if verbose {
		out.echo = "nekotest: "
	}
	var url string
	var mu sync.Mutex
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0", "--log-level", "warn")
	p, ready, err := start(cmd, out, func(line string) bool {
		if u, ok := strings.CutPrefix(line, "nekotest listening on "); ok {
			mu.Lock()
			url = u
			mu.Unlock()
			return true
		}
		return false
	})
	if err != nil {
		return nil, fmt.Errorf("start nekotest: %w", err)
	}
	if err := waitFor(ctx, p, ready, 30*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("nekotest: %w\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	return &nekoProc{proc: p, url: url}, nil
}

type codriveProc struct {
	*proc
	proxy   string
	profile string
}

var proxyLine = regexp.MustCompile(`CDP proxy on (http://[0-9.:]+)|"url":"(http://[0-9.:]+)"`)

// startCodrive runs `codrive attach --listen 127.0.0.1:0 --acquire` and
// waits until automation holds control through it. Idle release keeps its
// default (30 s), as users run it: no phase goes that long without an
// acting command.
func startCodrive(ctx context.Context, bin, nekoURL, cdpURL string, cfg config) (*codriveProc, error) {
	out := &tail{}
	if cfg.log {
		out.echo = "codrive: "
	}
	var proxy string
	var mu sync.Mutex
	args := []string{"--neko", nekoURL, "--cdp", cdpURL, "--user", "bench", "--log-level", "warn",
		"attach", "--listen", "127.0.0.1:0", "--acquire"}
	if cfg.idle != "" {
		args = append(args, "--idle-release", cfg.idle)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD=admin")
	if cfg.env != "" {
		cmd.Env = append(cmd.Env, strings.Split(cfg.env, ",")...)
	}
	if cfg.profile != "" {
		if err := os.MkdirAll(cfg.profile, 0o755); err != nil {
			return nil, err
		}
		_ = os.Remove(filepath.Join(cfg.profile, "done"))
		cmd.Env = append(cmd.Env, "CODRIVE_BENCH_PROFILE="+cfg.profile)
	}
	p, ready, err := start(cmd, out, func(line string) bool {
		m := proxyLine.FindStringSubmatch(line)
		if m == nil {
			return false
		}
		mu.Lock()
		proxy = m[1] + m[2]
		mu.Unlock()
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("start codrive: %w", err)
	}
	if err := waitFor(ctx, p, ready, 30*time.Second); err != nil {
		p.stop()
		return nil, fmt.Errorf("codrive: %w\n%s", err, out)
	}
	mu.Lock()
	c := &codriveProc{proc: p, proxy: proxy, profile: cfg.profile}
	mu.Unlock()
	if err := c.waitAutomation(ctx); err != nil {
		p.stop()
		return nil, fmt.Errorf("codrive: %w\n%s", err, out)
	}
	return c, nil
}

func waitFor(ctx context.Context, p *proc, ready <-chan struct{}, d time.Duration) error {
	select {
	case <-ready:
		return nil
	case <-p.done:
		return errors.New("exited")
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return fmt.Errorf("not ready after %v", d)
	}
}

// waitAutomation polls /codrive/state (there is no event to wait on from
// outside the process) until automation holds control.
func (c *codriveProc) waitAutomation(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(c.proxy + "/codrive/state")
		if err == nil {
			var st struct {
				State string `json:"state"`
			}
			err = json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			last = st.State
			if err == nil && st.State == "automation" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return errors.New("exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("automation does not hold control after 30s (state %q)", last)
}

// writeProfiles asks the profiling build to write its profiles and waits
// for them.
func (c *codriveProc) writeProfiles(ctx context.Context) error {
	if err := c.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		return err
	}
	done := filepath.Join(c.profile, "done")
	for range 200 {
		if _, err := os.Stat(done); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("codrive did not write its profiles")
}

// rss is the process's resident memory in bytes (VmRSS).
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS")
}

func numCPU() int { return runtime.NumCPU() }

// startSite serves the pages the bench opens: a still one and one that
// changes every frame, so the screencast always has a frame to send.
func startSite() (*httptest.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/still", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>still</title><p>bench`)
	})
	mux.HandleFunc("/animated", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><body style="margin:0"><div id=d style="width:100vw;height:100vh;font:64px sans-serif"></div>
<script>let n=0;(function f(){n++;const d=document.getElementById('d');d.textContent=n;d.style.background='hsl('+(n%360)+',60%,60%)';requestAnimationFrame(f)})()</script>`)
	})
	return httptest.NewServer(mux), nil
}
