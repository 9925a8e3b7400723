package timeline

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// cdpConn is a minimal CDP client for the scenario's script and the
// person's hands: commands by id, events kept by method.
type cdpConn struct {
	t    testing.TB
	conn *websocket.Conn
	wmu  sync.Mutex

	mu     sync.Mutex
	id     int64
	res    map[int64]chan cdpAnswer
	events map[string]int
	evc    chan struct{} // closed and replaced on every event
	err    error
	done   chan struct{}
}

type cdpAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func dialCDP(t testing.TB, url string) *cdpConn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &cdpConn{t: t, conn: conn, res: map[int64]chan cdpAnswer{}, events: map[string]int{}, evc: make(chan struct{}), done: make(chan struct{})}
	go c.read()
	t.Cleanup(func() {
		_ = conn.Close()
		<-c.done
	})
	return c
}

func (c *cdpConn) read() {
	defer close(c.done)
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.err = err
			for _, ch := range c.res {
				close(ch)
			}
			c.res = map[int64]chan cdpAnswer{}
			close(c.evc)
			c.evc = nil
			c.mu.Unlock()
			return
		}
		var m struct {
			ID     int64  `json:"id"`
			Method string `json:"method"`
			cdpAnswer
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		c.mu.Lock()
		if m.Method != "" {
			c.events[m.Method]++
			close(c.evc)
			c.evc = make(chan struct{})
		} else if ch, ok := c.res[m.ID]; ok {
			ch <- m.cdpAnswer
			delete(c.res, m.ID)
		}
		c.mu.Unlock()
	}
}

// start sends a command and returns where its answer arrives.
func (c *cdpConn) start(method string, params any) <-chan cdpAnswer {
	c.mu.Lock()
	c.id++
	id := c.id
	ch := make(chan cdpAnswer, 1)
	c.res[id] = ch
	c.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	c.wmu.Lock()
	err := c.conn.WriteMessage(websocket.TextMessage, b)
	c.wmu.Unlock()
	if err != nil {
		c.t.Errorf("send %s: %v", method, err)
	}
	return ch
}

// await waits for an answer; an error answer is returned as an error.
func (c *cdpConn) await(ch <-chan cdpAnswer, what string) (json.RawMessage, error) {
	select {
	case a, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("%s: connection ended", what)
		}
		if a.Error != nil {
			return nil, fmt.Errorf("%s: CDP error %d: %s", what, a.Error.Code, a.Error.Message)
		}
		return a.Result, nil
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("%s: no answer", what)
	}
}

// call sends a command and fails the test on an error.
func (c *cdpConn) call(method string, params any) json.RawMessage {
	c.t.Helper()
	r, err := c.await(c.start(method, params), method)
	if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// eval runs JavaScript in the page.
func (c *cdpConn) eval(js string) {
	c.t.Helper()
	r := c.call("Runtime.evaluate", map[string]any{"expression": js, "returnByValue": true})
	var v struct {
		Exception json.RawMessage `json:"exceptionDetails"`
	}
	_ = json.Unmarshal(r, &v)
	if v.Exception != nil {
		c.t.Fatalf("evaluate %q threw: %s", js, v.Exception)
	}
}

// count is how many events of method arrived so far.
func (c *cdpConn) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events[method]
}

// waitEvent waits until more than n events of method arrived.
func (c *cdpConn) waitEvent(method string, n int) {
	c.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		c.mu.Lock()
		got, wake := c.events[method], c.evc
		c.mu.Unlock()
		if got > n {
			return
		}
		if wake == nil {
			c.t.Fatalf("connection ended waiting for %s: %v", method, c.err)
		}
		select {
		case <-wake:
		case <-deadline:
			c.t.Fatalf("no %s within 60s", method)
		}
	}
}

// navigate loads url and waits for its load event (Page.enable first).
func (c *cdpConn) navigate(url string) {
	c.t.Helper()
	n := c.count("Page.loadEventFired")
	c.call("Page.navigate", map[string]any{"url": url})
	c.waitEvent("Page.loadEventFired", n)
}
