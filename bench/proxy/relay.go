package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/codrive/codrive/codrive/cdpproxy"
)

// The floor: a process that only copies bytes between the client and
// Chromium (read and write, no WebSocket, no parsing) shows what any
// proxy in its own process costs on this machine. The bench starts itself
// as that process.
const relayEnv = "CODRIVE_BENCH_RELAY_TO"

// serveRelay is the relay process: it prints its address and copies until
// stdin closes.
func serveRelay(target string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("relay on %s\n", ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			up, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer up.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			cp := func(dst, src net.Conn) {
				defer wg.Done()
				buf := make([]byte, 64<<10)
				_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf) // plain read and write
				_ = dst.(*net.TCPConn).CloseWrite()
			}
			go cp(up, c)
			go cp(c, up)
			wg.Wait()
		}()
	}
}

type relayProc struct {
	*proc
	addr  string
	stdin io.WriteCloser
}

// startRelay starts the bench itself as a relay process: env names which
// (relayEnv or aloneEnv), target where it relays to.
func startRelay(ctx context.Context, env, target string) (*relayProc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), env+"="+target)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, out: &tail{}, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		addr, ok := strings.CutPrefix(l, "relay on ")
		if !ok {
			p.stop()
			return nil, fmt.Errorf("relay said %q", l)
		}
		return &relayProc{proc: p, addr: addr, stdin: stdin}, nil
	case <-p.done:
		return nil, errors.New("relay exited")
	case <-ctx.Done():
		p.stop()
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, errors.New("relay did not start")
	}
}

func (r *relayProc) close() {
	_ = r.stdin.Close()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.stop()
	}
}

// The proxy alone: cdpproxy in a process of its own, with a gate that is
// always open, and nothing else of codrive (no arbiter, neko or page
// attachment). Between it and codrive is codrive's own cost outside the
// relay.
const aloneEnv = "CODRIVE_BENCH_CDPPROXY_TO"

// openGate is a cdpproxy.Controller whose gate is always open.
type openGate struct{}

func (openGate) Begin(context.Context, cdpproxy.StepKind) (cdpproxy.Step, error) {
	return openStep{}, nil
}

type openStep struct{}

func (openStep) Sent() {}
func (openStep) Done() {}
func (openGate) Status() cdpproxy.Status {
	return cdpproxy.Status{State: cdpproxy.StateAutomation, Gate: "open"}
}
func (openGate) Subscribe() (<-chan cdpproxy.Status, func()) {
	return make(chan cdpproxy.Status), func() {}
}
func (openGate) Handoff(ctx context.Context, _ string) error { <-ctx.Done(); return ctx.Err() }

// serveAlone is the proxy-alone process: it prints its address and serves
// until stdin closes.
func serveAlone(upstream string) {
	p, err := cdpproxy.Listen(cdpproxy.Options{Upstream: upstream, Controller: openGate{}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("relay on %s\n", strings.TrimPrefix(p.URL(), "http://"))
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = p.Close()
}
