package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/oneshot"
	"github.com/codrive/codrive/internal/roomlock"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// attachProc is `codrive attach --json` running as a real process.
type attachProc struct {
	cmd    *exec.Cmd
	lines  chan codrive.Event
	stderr *syncBuffer
}

// syncBuffer is a bytes.Buffer a process writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	// wrote is closed at the next Write (waitFor's wake-up); nil while
	// nobody waits.
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wrote != nil {
		close(s.wrote)
		s.wrote = nil
	}
	return s.b.Write(p)
}

// waitFor returns re's first match in what was written, waiting for more
// writes up to d: a process's stderr is copied by a goroutine of its own,
// so a line on stdout may be read before an earlier one on stderr.
func (s *syncBuffer) waitFor(re *regexp.Regexp, d time.Duration) []string {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		m := re.FindStringSubmatch(s.b.String())
		if m == nil && s.wrote == nil {
			s.wrote = make(chan struct{})
		}
		wrote := s.wrote
		s.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-wrote:
		case <-deadline.C:
			return nil
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startAttach(t *testing.T, srv *nekotest.Server, cdpURL string, args ...string) *attachProc {
	t.Helper()
	all := append([]string{"--neko", srv.URL, "--cdp", cdpURL, "attach", "--json"}, args...)
	cmd := exec.Command(binary(t), all...)
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD=admin")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &attachProc{cmd: cmd, lines: make(chan codrive.Event, 100), stderr: &syncBuffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev codrive.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("attach --json printed a non-JSON line %q: %v", sc.Text(), err)
				continue
			}
			p.lines <- ev
		}
	}()
	return p
}

// until waits for an event satisfying ok.
func (p *attachProc) until(t *testing.T, what string, ok func(codrive.Event) bool) codrive.Event {
	t.Helper()
	deadline := time.After(testTimeout)
	var seen []string
	for {
		select {
		case ev, open := <-p.lines:
			if !open {
				t.Fatalf("attach exited waiting for %s: %s", what, p.stderr.String())
			}
			if ok(ev) {
				return ev
			}
			seen = append(seen, string(ev.Kind)+" "+string(ev.Status.State)+": "+ev.Reason)
		case <-deadline:
			t.Fatalf("attach: no %s (saw %q); stderr:\n%s", what, seen, p.stderr.String())
		}
	}
}

// lockedThenKilled runs attach with policy locked until the room is locked,
// kills it with SIGKILL, and waits until neko has let its session go (its
// 5 s delayed disconnect, shortened in nekotest).
func lockedThenKilled(t *testing.T, srv *nekotest.Server, cdpURL string) {
	t.Helper()
	p := startAttach(t, srv, cdpURL, "--acquire", "--policy", "locked")
	ev := p.until(t, "the lock", func(ev codrive.Event) bool { return ev.Status.Locked })
	dead := ev.Status.Session
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	if _, err := srv.WaitFor(ctxT(t), func(st nekotest.State) bool {
		for _, s := range st.Sessions {
			if s.ID == dead && s.State.IsConnected {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if s := srv.Settings(); !s.LockedControls || s.ImplicitHosting || s.Plugins[roomlock.Key] == nil {
		t.Fatalf("kill -9 should leave the room locked, with its lease: %+v", s)
	}
}

// Failure 5: kill -9 under policy locked left the room locked for ever, and
// the next locked attach took the locked settings for the room's own.
// status reports the orphaned lock and control reset restores it exactly.
func TestKilledLockedAttachIsRecoveredByReset(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	srv := newNeko(t, &initial)
	lockedThenKilled(t, srv, c.URL)

	code, out, errOut := runCLI(t, "--neko", srv.URL, "--cdp", c.URL, "--password", "admin", "status", "--json")
	var r oneshot.Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("status: %v\n%s%s", err, out, errOut)
	}
	if code != exitcode.Failure || r.State != oneshot.ReportDegraded || r.Neko.OrphanLock == nil ||
		!r.Neko.OrphanLock.ImplicitHosting || r.Neko.OrphanLock.LockedControls || !strings.Contains(r.Reason, "control reset") {
		t.Fatalf("status should report the orphaned lock (exit %d): %+v %+v", code, r.Reason, r.Neko.OrphanLock)
	}

	code, out, errOut = runCLI(t, "--neko", srv.URL, "--password", "admin", "control", "reset")
	if code != 0 || !strings.Contains(out, "restored the room settings") {
		t.Fatalf("control reset: %d %q %q", code, out, errOut)
	}
	s := srv.Settings()
	if s.LockedControls || !s.ImplicitHosting || s.Plugins[roomlock.Key] != nil {
		t.Fatalf("after reset: %+v, want the settings from before the lock", s)
	}
}

// The next attach, with any policy, recognises the lock and restores it.
func TestKilledLockedAttachIsRecoveredByTheNextAttach(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	srv := newNeko(t, &initial)
	lockedThenKilled(t, srv, c.URL)

	p := startAttach(t, srv, c.URL, "--policy", "yield")
	p.until(t, "the restore", func(ev codrive.Event) bool {
		return ev.Kind == codrive.EventSettings && strings.Contains(ev.Reason, "restored")
	})
	if _, err := srv.WaitFor(ctxT(t), func(st nekotest.State) bool {
		return !st.Settings.LockedControls && st.Settings.ImplicitHosting && st.Settings.Plugins[roomlock.Key] == nil
	}); err != nil {
		t.Fatalf("settings after the next attach: %+v", srv.Settings())
	}
}
