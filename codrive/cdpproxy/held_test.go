package cdpproxy

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// heldLog collects what OnHeld reports.
type heldLog struct {
	mu  sync.Mutex
	got []HeldCommand
	ch  chan HeldCommand
}

func newHeldLog() *heldLog { return &heldLog{ch: make(chan HeldCommand, 100)} }

func (l *heldLog) on(h HeldCommand) {
	l.mu.Lock()
	l.got = append(l.got, h)
	l.mu.Unlock()
	l.ch <- h
}

// next waits for the next report.
func (l *heldLog) next(t *testing.T) HeldCommand {
	t.Helper()
	select {
	case h := <-l.ch:
		return h
	case <-time.After(30 * time.Second):
		t.Fatal("OnHeld was not called")
	}
	return HeldCommand{}
}

func (l *heldLog) all() []HeldCommand {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]HeldCommand(nil), l.got...)
}

// checkHeld checks the fields every report has.
func checkHeld(t *testing.T, h HeldCommand, method, session string, outcome HeldOutcome, sent time.Time) {
	t.Helper()
	if h.Method != method || h.Session != session || h.Outcome != outcome {
		t.Errorf("report %+v, want %s on session %q %s", h, method, session, outcome)
	}
	if h.Conn <= 0 {
		t.Errorf("report %+v: no connection number", h)
	}
	if h.Arrived.Before(sent) || h.Held <= 0 || h.Arrived.Add(h.Held).After(time.Now()) {
		t.Errorf("report %+v: arrived/held inconsistent with a command sent at %v", h, sent.Format(time.RFC3339Nano))
	}
}

// Released, and answered during the hold (a read proven side-effect-free):
// each held command is reported once, when it ends; commands that pass at
// once are not reported.
func TestOnHeldReleasedAndAnswered(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	g := newGate(true)
	log := newHeldLog()
	p := listen(t, c, Options{Controller: g, OnHeld: log.on})
	cl := dialCDP(t, browserWS(t, p), nil)
	s := cl.attach(id)
	cl.evaluate(s, "window.n = 0; 0") // open gate: passes, not reported

	g.Close("")
	sent := time.Now()
	if got := cl.evaluate(s, "document.title"); got != `"codrive test"` {
		t.Fatalf("read during the hold: %s", got)
	}
	checkHeld(t, log.next(t), "Runtime.evaluate", s, HeldAnswered, sent)

	_, w := cl.start("Runtime.evaluate", s, map[string]any{"expression": "++window.n"})
	g.waitBlocked(t)
	_, k := cl.start("Input.dispatchKeyEvent", s, map[string]any{"type": "char", "text": "x"})
	// An observing command behind them answers: both were read and queued.
	cl.call("Browser.getVersion", "", nil, nil)
	select {
	case h := <-log.ch:
		t.Fatalf("reported before it ended: %+v", h)
	default:
	}
	g.Open()
	for _, ch := range []<-chan cdpMsg{w, k} {
		if m := cl.await(ch, "released"); m.Error != nil {
			t.Fatalf("released command failed: %s", m.raw)
		}
	}
	checkHeld(t, log.next(t), "Runtime.evaluate", s, HeldReleased, sent)
	checkHeld(t, log.next(t), "Input.dispatchKeyEvent", s, HeldReleased, sent)
	cl.evaluate(s, "++window.n") // open again: not reported
	if n := len(log.all()); n != 3 {
		t.Fatalf("%d reports, want 3: %+v", n, log.all())
	}
	if st := p.Stats(); st.HeldTotal != 3 || st.Held != 0 {
		t.Errorf("stats %+v, want the 3 reported commands in HeldTotal", st)
	}
}

// Timed out, and failed behind it: the report carries the error the client
// got.
func TestOnHeldTimedOutAndFailed(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	log := newHeldLog()
	p := listen(t, c, Options{Controller: newGate(false), HoldTimeout: 200 * time.Millisecond, OnHeld: log.on})
	cl := dialCDP(t, browserWS(t, p), nil)
	s := cl.attach(id)
	move := map[string]any{"type": "mouseMoved", "x": 5, "y": 5}
	sent := time.Now()
	_, a := cl.start("Input.dispatchMouseEvent", s, move)
	_, b := cl.start("Input.insertText", s, map[string]any{"text": "x"})
	ra, rb := cl.await(a, "a"), cl.await(b, "b")
	if ra.Error == nil || rb.Error == nil {
		t.Fatalf("want both failed: %s %s", ra.raw, rb.raw)
	}
	ha, hb := log.next(t), log.next(t)
	checkHeld(t, ha, "Input.dispatchMouseEvent", s, HeldTimedOut, sent)
	checkHeld(t, hb, "Input.insertText", s, HeldFailed, sent)
	if ha.Detail != ra.Error.Message || hb.Detail != rb.Error.Message {
		t.Errorf("details %q / %q, want the clients' errors %q / %q", ha.Detail, hb.Detail, ra.Error.Message, rb.Error.Message)
	}
	if ha.Held < 200*time.Millisecond {
		t.Errorf("timed out after %v, before HoldTimeout", ha.Held)
	}
	if !strings.Contains(hb.Detail, "queued behind Input.dispatchMouseEvent") {
		t.Errorf("detail %q does not say what it was queued behind", hb.Detail)
	}
}

// A client that leaves during the hold: its held commands are abandoned.
func TestOnHeldAbandoned(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	g := newGate(false)
	log := newHeldLog()
	p := listen(t, c, Options{Controller: g, OnHeld: log.on})
	cl := dialCDP(t, browserWS(t, p), nil)
	s := cl.attach(id)
	sent := time.Now()
	cl.start("Input.insertText", s, map[string]any{"text": "x"})
	cl.start("Input.insertText", s, map[string]any{"text": "y"})
	g.waitBlocked(t)
	cl.close()
	checkHeld(t, log.next(t), "Input.insertText", s, HeldAbandoned, sent)
	checkHeld(t, log.next(t), "Input.insertText", s, HeldAbandoned, sent)
	if st := p.Stats(); st.Held != 0 {
		t.Errorf("stats %+v after the abandoned commands were reported", st)
	}
}
