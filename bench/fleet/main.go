// Command fleet measures what `codrive fleet` costs while nothing happens:
// it starts 100 fake rooms in this process (internal/fleettest's fake of
// the operator API: the wire format of /codrive/state and /codrive/events,
// a keep-alive every 15 s as codrive sends), builds the real codrive
// (without -race, as users run it), waits until the fleet shows every room
// ready, and reads the CPU time the codrive process spends over an idle
// window (utime+stime from /proc/PID/stat, before and after), as a
// percentage of one core. It does so for `codrive fleet --plain` and, when
// tmux is installed, for the full-screen view in a 200x60 tmux pane (the
// view redraws its ages every second).
//
//	go run ./bench/fleet                 # make bench runs this
//	go run ./bench/fleet -idle 10s -tui=false
//
// The bound is under 5% of one core while idle. The event rates
// and the render time per frame are go test -bench's (fleet,
// tui/fleetview).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/codrive/codrive/internal/fleettest"
	"github.com/codrive/codrive/internal/proctest"
)

type config struct {
	rooms   int
	idle    time.Duration
	codrive string
	tui     bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.rooms, "rooms", 100, "how many fake rooms the fleet watches")
	flag.DurationVar(&cfg.idle, "idle", 30*time.Second, "the idle window measured")
	flag.StringVar(&cfg.codrive, "codrive", "", "a prebuilt codrive binary (default: build this tree's)")
	flag.BoolVar(&cfg.tui, "tui", true, "measure the full-screen view in tmux too (skipped without tmux)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench/fleet:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if cfg.rooms < 1 || cfg.idle < time.Second {
		return errors.New("-rooms must be at least 1 and -idle at least 1s")
	}
	dir, err := os.MkdirTemp("", "bench-fleet-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := cfg.codrive
	if bin == "" {
		bin = filepath.Join(dir, "codrive")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/codrive").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/codrive: %v\n%s", err, out)
		}
	}
	rooms := fleettest.StartFakes(cfg.rooms, 15*time.Second)
	defer fleettest.CloseFakes(rooms)
	var file strings.Builder
	file.WriteString("rooms:\n")
	for _, r := range rooms {
		fmt.Fprintf(&file, "  - name: %s\n    url: %s\n", r.Name, r.URL)
	}
	roomsFile := filepath.Join(dir, "rooms.yaml")
	if err := os.WriteFile(roomsFile, []byte(file.String()), 0o600); err != nil {
		return err
	}
	fmt.Printf("codrive fleet idle: %d fake rooms (keep-alive 15s), %s window, %d cores\n", cfg.rooms, cfg.idle, runtime.NumCPU())

	plain, err := idlePlain(ctx, bin, roomsFile, cfg)
	if err != nil {
		return fmt.Errorf("--plain: %w", err)
	}
	fmt.Printf("  %-20s %5.2f%% of one core (%s CPU in %s; %d lines while idle)\n", "--plain", plain.percent(), plain.cpu, plain.wall.Round(time.Millisecond), plain.lines)
	if !cfg.tui {
		return nil
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		fmt.Printf("  %-20s skipped: no tmux\n", "full screen")
		return nil
	}
	view, err := idleView(ctx, tmux, bin, roomsFile, dir, cfg)
	if err != nil {
		return fmt.Errorf("full screen: %w", err)
	}
	fmt.Printf("  %-20s %5.2f%% of one core (%s CPU in %s)\n", "full screen 200x60", view.percent(), view.cpu, view.wall.Round(time.Millisecond))
	return nil
}

// usage is a process's CPU over a window.
type usage struct {
	cpu, wall time.Duration
	lines     int
}

func (u usage) percent() float64 { return 100 * u.cpu.Seconds() / u.wall.Seconds() }

// measure reads pid's CPU time over the idle window.
func measure(ctx context.Context, pid int, window time.Duration) (usage, error) {
	c0, err := proctest.CPUTime(pid)
	if err != nil {
		return usage{}, err
	}
	t0 := time.Now()
	select {
	case <-time.After(window): // the window measured, not a synchronisation
	case <-ctx.Done():
		return usage{}, ctx.Err()
	}
	c1, err := proctest.CPUTime(pid)
	if err != nil {
		return usage{}, err
	}
	return usage{cpu: c1 - c0, wall: time.Since(t0)}, nil
}

// idlePlain runs `codrive fleet --plain` until every room has said it is
// ready, then measures it.
func idlePlain(ctx context.Context, bin, roomsFile string, cfg config) (usage, error) {
	cmd := exec.CommandContext(ctx, bin, "fleet", "--plain", "--rooms", roomsFile)
	cmd.Env = cleanEnv()
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return usage{}, err
	}
	if err := cmd.Start(); err != nil {
		return usage{}, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	ready := map[string]bool{}
	deadline := time.After(time.Minute)
	for len(ready) < cfg.rooms {
		select {
		case l, ok := <-lines:
			if !ok {
				return usage{}, errors.New("codrive fleet exited")
			}
			if f := strings.Fields(l); len(f) > 1 && strings.Contains(l, " health=ready") && strings.Contains(l, " state=automation") {
				ready[f[1]] = true
			}
		case <-deadline:
			return usage{}, fmt.Errorf("%d of %d rooms ready after a minute", len(ready), cfg.rooms)
		}
	}
	// What is already queued belongs to the start, not the idle.
	for drained := false; !drained; {
		select {
		case <-lines:
		default:
			drained = true
		}
	}
	u, err := measure(ctx, cmd.Process.Pid, cfg.idle)
	for drained := false; !drained; {
		select {
		case <-lines:
			u.lines++
		default:
			drained = true
		}
	}
	return u, err
}

// idleView runs the full-screen view in a tmux pane until it shows every
// room running, then measures it.
func idleView(ctx context.Context, tmux, bin, roomsFile, dir string, cfg config) (usage, error) {
	sock := filepath.Join(dir, "tmux.sock")
	t := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, tmux, append([]string{"-S", sock}, args...)...)
		cmd.Env = append(cleanEnv(), "TERM=xterm-256color")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("tmux %s: %v: %s", args[0], err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	if _, err := t("-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "60", "-s", "fleet", "exec "+bin+" fleet --rooms "+roomsFile); err != nil {
		return usage{}, err
	}
	defer func() { _, _ = t("kill-server") }()
	pidText, err := t("display-message", "-p", "-t", "fleet", "#{pane_pid}")
	if err != nil {
		return usage{}, err
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil {
		return usage{}, fmt.Errorf("pane pid %q: %w", pidText, err)
	}
	want := fmt.Sprintf("%d rooms: ▶%d automation", cfg.rooms, cfg.rooms)
	deadline := time.Now().Add(time.Minute)
	for {
		screen, err := t("capture-pane", "-p", "-t", "fleet")
		if err != nil {
			return usage{}, err
		}
		if strings.Contains(screen, want) {
			break
		}
		if time.Now().After(deadline) {
			return usage{}, fmt.Errorf("the screen never showed %q:\n%s", want, screen)
		}
		time.Sleep(100 * time.Millisecond) // polling the pane, under a deadline
	}
	return measure(ctx, pid, cfg.idle)
}

func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CODRIVE_") && !strings.HasPrefix(kv, "TMUX") {
			env = append(env, kv)
		}
	}
	return env
}
