package cdpproxy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBinaryFrameRefused: Chromium drops a connection without a word on a
// binary frame; the proxy closes it with 1003 and a reason naming binary
// frames, not "Chromium went away".
func TestBinaryFrameRefused(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{Controller: newGate(true)})
	cl := dialRaw(t, browserWS(t, p))
	if got := cl.exchange(`{"id":1,"method":"Browser.getVersion"}`); !strings.HasPrefix(got, `{"id":1,"result"`) {
		t.Fatalf("before: %s", got)
	}
	if err := cl.conn.WriteMessage(websocket.BinaryMessage, []byte(`{"id":2,"method":"Browser.getVersion"}`)); err != nil {
		t.Fatal(err)
	}
	_ = cl.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, _, err := cl.conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseUnsupportedData || !strings.Contains(ce.Text, "binary frames") {
		t.Fatalf("after a binary frame: %v, want close 1003 naming binary frames", err)
	}
}

// TestLargeResultStreamed: results far larger than the proxy's buffers
// arrive whole and identical to Chromium's direct answer.
func TestLargeResultStreamed(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	p := listen(t, c, Options{Controller: newGate(true)})
	direct := dialRaw(t, pageWS(c, id))
	proxied := dialRaw(t, "ws://"+hostport(p)+"/devtools/page/"+id)
	for _, n := range []int{headSize - 60, headSize, 3 << 20} {
		msg := fmt.Sprintf(`{"id":-5,"method":"Runtime.evaluate","params":{"expression":"'y'.repeat(%d)","returnByValue":true}}`, n)
		want, got := direct.exchange(msg), proxied.exchange(msg)
		if got != want {
			t.Fatalf("%d-byte result: through the proxy %d bytes %.80s..., directly %d bytes %.80s...", n, len(got), got, len(want), want)
		}
	}
}

// TestLargeReadDuringHold: an evaluation proven side-effect-free during a
// hold answers with its result whatever its size, streamed, exactly as
// Chromium answers it directly.
func TestLargeReadDuringHold(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	g := newGate(false)
	p := listen(t, c, Options{Controller: g})
	direct := dialRaw(t, pageWS(c, id))
	proxied := dialRaw(t, "ws://"+hostport(p)+"/devtools/page/"+id)
	for _, n := range []int{100, 3 << 20} {
		msg := fmt.Sprintf(`{"id":%d,"method":"Runtime.evaluate","params":{"expression":"'r'.repeat(%d)","returnByValue":true}}`, n, n)
		want, got := direct.exchange(msg), proxied.exchange(msg)
		if got != want {
			t.Fatalf("%d-byte read during a hold: through the proxy %d bytes %.80s..., directly %d bytes %.80s...", n, len(got), got, len(want), want)
		}
	}
	if st := p.Stats(); st.Held != 0 || st.HeldTotal != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestMaxMessage: a client message over MaxMessage gets a CDP error with
// its id and session, and the connection goes on; one already being
// streamed to Chromium closes it with 1009 and a reason. Messages under the
// limit pass whole, held or not.
func TestMaxMessage(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, dc := openPage(t, c)
	const limit = 256 << 10
	g := newGate(false)
	p := listen(t, c, Options{Controller: g, MaxMessage: limit})
	cl := newCDPOn(t, dialRaw(t, browserWS(t, p)))
	s := cl.attach(id)
	big := func(id int, method string, n int) string {
		return fmt.Sprintf(`{"id":%d,"sessionId":%q,"method":%q,"params":{"expression":"window.big = '%s'.length","returnByValue":true}}`, id, s, method, strings.Repeat("b", n))
	}

	// Over the limit, buffered (an evaluation: the gate needs its params):
	// an error naming the limit, with the command's id and session.
	got := cl.exchange(big(11, "Runtime.evaluate", limit+1000))
	if !strings.HasPrefix(got, `{"id":11,"error":{"code":-32600,"message":"codrive: message of `) || !strings.Contains(got, "larger than the proxy's --max-message (256.0 KiB)") || !strings.HasSuffix(got, `"sessionId":"`+s+`"}`) {
		t.Fatalf("over the limit: %s", got)
	}
	// Under the limit, large and held: it waits whole and runs on release.
	cl.send(big(12, "Runtime.evaluate", limit-1000))
	g.waitBlocked(t)
	if got := cl.exchange(`{"id":13,"method":"Browser.getVersion"}`); !strings.HasPrefix(got, `{"id":13,"result"`) {
		t.Fatalf("observing during the hold: %s", got)
	}
	g.Open()
	if got := cl.answer(); got != fmt.Sprintf(`{"id":12,"result":{"result":{"type":"number","value":%d,"description":"%d"}},"sessionId":"%s"}`, limit-1000, limit-1000, s) {
		t.Fatalf("held large command: %.300s", got)
	}
	if got := dc.evaluate("", "window.big"); got != fmt.Sprint(limit-1000) {
		t.Fatalf("page saw %s", got)
	}
	// Large and observing, under the limit: streamed, answered by Chromium.
	obs := fmt.Sprintf(`{"id":14,"method":"Page.addScriptToEvaluateOnNewDocument","sessionId":%q,"params":{"source":"// %s"}}`, s, strings.Repeat("o", limit-1000))
	if got := cl.exchange(obs); !strings.HasPrefix(got, `{"id":14,"result":{"identifier":`) {
		t.Fatalf("large observing command: %.300s", got)
	}
	// Over the limit while streaming: part of it has gone to Chromium, so
	// the connection closes, saying why.
	obs = fmt.Sprintf(`{"id":15,"method":"Page.addScriptToEvaluateOnNewDocument","sessionId":%q,"params":{"source":"// %s"}}`, s, strings.Repeat("o", limit+1000))
	cl.send(obs)
	_ = cl.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, m, err := cl.conn.ReadMessage()
		if err == nil {
			if !strings.HasPrefix(string(m), `{"method"`) {
				t.Fatalf("streamed over the limit: answered %.200s", m)
			}
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig || !strings.Contains(ce.Text, "--max-message") {
			t.Fatalf("streamed over the limit: %v, want close 1009 naming --max-message", err)
		}
		break
	}
}

// TestStepsEndOnDetach: Chromium never answers a command in flight on a
// session that detaches; its step ends then, not at some timeout.
func TestStepsEndOnDetach(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	g := newGate(true)
	p := listen(t, c, Options{Controller: g})
	cl := newCDPOn(t, dialRaw(t, browserWS(t, p)))
	s := cl.attach(id)
	cl.send(`{"id":1,"sessionId":"` + s + `","method":"Runtime.evaluate","params":{"expression":"new Promise(() => {})","awaitPromise":true}}`)
	// Answered after the evaluation went out: it is in flight.
	if got := cl.exchange(`{"id":2,"method":"Browser.getVersion"}`); !strings.HasPrefix(got, `{"id":2,"result"`) {
		t.Fatal(got)
	}
	if b, e := g.begun.Load(), g.ended.Load(); b != 1 || e != 0 {
		t.Fatalf("before detach: %d begun, %d done", b, e)
	}
	cl.send(`{"id":3,"method":"Target.detachFromTarget","params":{"sessionId":"` + s + `"}}`)
	// The proxy reads Chromium's detachedFromTarget before relaying it,
	// and Chromium sends it before its answer to detachFromTarget.
	_ = cl.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	detached := false
	for {
		_, m, err := cl.conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(m), `{"method":"Target.detachedFromTarget"`) {
			detached = true
			if b, e := g.begun.Load(), g.ended.Load(); e != b {
				t.Fatalf("after detach: %d begun, %d done", b, e)
			}
		}
		if strings.HasPrefix(string(m), `{"id":3,`) {
			break
		}
	}
	if !detached {
		t.Fatal("no Target.detachedFromTarget before the answer")
	}
	if n := p.inFlight(); n != 0 {
		t.Errorf("%d commands still in flight", n)
	}
}
