package codrive

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// freePort finds a loopback port nothing listens on, for a peer that must
// come up later where codrive already looks.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// stoppedNeko is a nekotest that has an address but does not listen yet.
func stoppedNeko(t *testing.T) *nekotest.Server {
	t.Helper()
	srv := newNeko(t, nil)
	srv.Stop()
	return srv
}

// progress collects OnWait's reports and lets a test wait for one.
type progress struct {
	mu      sync.Mutex
	seen    []WaitProgress
	changed chan struct{}
}

func newProgress() *progress { return &progress{changed: make(chan struct{})} }

func (p *progress) add(w WaitProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, w)
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *progress) waitFor(t *testing.T, what string, ok func(WaitProgress) bool) WaitProgress {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		p.mu.Lock()
		for _, w := range p.seen {
			if ok(w) {
				p.mu.Unlock()
				return w
			}
		}
		changed := p.changed
		p.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no progress report of %s within %v", what, testTimeout)
		}
	}
}

// A sidecar starts before its peers: Attach waits for Chromium, then for
// neko, reporting each failed try, and returns once both answer.
func TestAttachWaitsForPeers(t *testing.T) {
	t.Parallel()
	cdptest.Require(t)
	port := freePort(t)
	srv := stoppedNeko(t)
	p := newProgress()
	cfg := testConfig(srv, PolicyYield)
	cfg.CDPURL = "http://127.0.0.1:" + strconv.Itoa(port)
	cfg.WaitTimeout = -1
	cfg.OnWait = p.add
	type result struct {
		s   *Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := Attach(ctxT(t), cfg)
		done <- result{s, err}
	}()

	first := p.waitFor(t, "chromium missing", func(w WaitProgress) bool { return w.Peer == PeerChromium })
	if first.Attempt != 1 || !errors.Is(first.Err, cdp.ErrNoEndpoint) || !first.Notable || first.URL != cfg.CDPURL {
		t.Fatalf("first report: %+v", first)
	}
	if !strings.Contains(first.String(), "waiting for chromium at "+cfg.CDPURL) {
		t.Fatalf("progress line %q", first.String())
	}
	p.waitFor(t, "a second try", func(w WaitProgress) bool { return w.Peer == PeerChromium && w.Attempt == 2 })
	c, err := cdptest.Start(context.Background(), cdptest.Options{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := p.waitFor(t, "neko missing", func(w WaitProgress) bool { return w.Peer == PeerNeko })
	if !errors.Is(w.Err, neko.ErrUnreachable) || w.Attempt != 1 {
		t.Fatalf("neko report: %+v", w)
	}
	select {
	case r := <-done:
		t.Fatalf("Attach returned before neko was up: %v", r.err)
	default:
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		defer r.s.Close(ctxT(t))
		if err := r.s.Ready(); err != nil {
			t.Fatalf("not ready after Attach: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Attach did not return once both peers answered")
	}
}

func TestAttachWaitEnds(t *testing.T) {
	t.Parallel()
	srv := stoppedNeko(t)

	// The deadline: the error says so and keeps the last try's kind.
	cfg := testConfig(srv, PolicyYield)
	cfg.CDPURL = "http://127.0.0.1:" + strconv.Itoa(freePort(t))
	cfg.WaitTimeout = 300 * time.Millisecond
	_, err := Attach(ctxT(t), cfg)
	if !errors.Is(err, cdp.ErrNoEndpoint) || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Fatalf("Attach past WaitTimeout: %v", err)
	}

	// The caller's context: waiting for ever stops with it.
	cfg.WaitTimeout = -1
	ctx, cancel := context.WithCancel(ctxT(t))
	cfg.OnWait = func(WaitProgress) { cancel() }
	_, err = Attach(ctx, cfg)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped waiting for chromium") {
		t.Fatalf("Attach with its context cancelled: %v", err)
	}

	// What waiting cannot fix ends the wait at once: a refused login.
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	cfg = testConfig(srv, PolicyYield)
	cfg.Password = "wrong"
	cfg.WaitTimeout = -1
	cfg.OnWait = func(w WaitProgress) { t.Errorf("retried a refused login: %+v", w) }
	if _, err := Attach(ctxT(t), cfg); !errors.Is(err, neko.ErrUnauthorized) {
		t.Fatalf("Attach with a wrong password: %v", err)
	}
	if n := len(srv.Sessions()); n != 0 {
		t.Fatalf("%d sessions left behind", n)
	}
}
