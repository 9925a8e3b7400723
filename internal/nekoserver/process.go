package nekoserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a child started in its own process group, with its output in a
// log buffer and a channel closed when it has exited.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // valid after exited
}

func startProcess(cmd *exec.Cmd, log io.Writer) (*process, error) {
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// kill sends SIGKILL, which ends a stopped (paused) process too, and waits
// for the exit.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// stop sends sig, then SIGKILL after wait.
func (p *process) stop(sig syscall.Signal, wait time.Duration) {
	_ = p.cmd.Process.Signal(sig)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		p.kill()
	}
}

// startXvfb starts Xvfb on a display it picks itself (-displayfd: no race
// for a free number) and returns it once Xvfb accepts connections. Like the
// image's X server it listens on no TCP port and never resets.
func startXvfb(ctx context.Context, log io.Writer) (*process, string, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", fmt.Errorf("nekoserver: pipe for Xvfb: %w", err)
	}
	defer r.Close()
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0",
		fmt.Sprintf("%dx%dx24", screenW, screenH), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	p, err := startProcess(cmd, log)
	w.Close()
	if err != nil {
		return nil, "", fmt.Errorf("nekoserver: start Xvfb: %w", err)
	}
	type result struct {
		n   int
		err error
	}
	got := make(chan result, 1)
	go func() {
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil {
			got <- result{err: fmt.Errorf("read display number: %w", err)}
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(line))
		got <- result{n, err}
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case res := <-got:
		if res.err != nil {
			p.kill()
			return nil, "", fmt.Errorf("nekoserver: Xvfb: %w", res.err)
		}
		return p, ":" + strconv.Itoa(res.n), nil
	case <-p.exited:
		return nil, "", fmt.Errorf("nekoserver: Xvfb exited at start: %v", p.err)
	case <-ctx.Done():
		p.kill()
		return nil, "", fmt.Errorf("nekoserver: Xvfb gave no display: %w", ctx.Err())
	}
}
