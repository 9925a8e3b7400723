package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

// child is the script `codrive run` starts in these tests (the test binary
// again, with E2E_CHILD set). It speaks CDP to the proxy in CODRIVE_CDP_WS.
func child(mode string) int {
	s, err := dialCDP(os.Getenv("CODRIVE_CDP_WS"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 8
	}
	defer s.close()
	switch mode {
	case "click":
		err = clickWhileHeld(s)
	case "paint":
		err = paint(s, os.Getenv("E2E_PAINT_URL"))
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 8
	}
	return 0
}

// clickWhileHeld sends a click on the page's button and, behind it on the
// same socket, a side-effect-free read of the page's click log. The proxy
// holds the click while a person hosts and lets the read through, so the
// read answers first, with no click yet: that is printed ("held"), and the
// test lets the person release. Then the click lands and its time is
// printed.
func clickWhileHeld(s *cdpSession) error {
	press := s.send("Input.dispatchMouseEvent", map[string]any{"type": "mousePressed", "x": 100, "y": 100, "button": "left", "clickCount": 1})
	release := s.send("Input.dispatchMouseEvent", map[string]any{"type": "mouseReleased", "x": 100, "y": 100, "button": "left", "clickCount": 1})
	read := s.send("Runtime.evaluate", map[string]any{"expression": "window.clicks.length", "returnByValue": true, "throwOnSideEffect": true})
	first, err := s.next()
	if err != nil {
		return err
	}
	if first.ID != read {
		return fmt.Errorf("the click was answered before the read (reply %d first): it was not held", first.ID)
	}
	var n struct {
		Result struct{ Value int }
	}
	if err := json.Unmarshal(first.Result, &n); err != nil {
		return err
	}
	fmt.Printf("held clicks=%d\n", n.Result.Value)
	for _, id := range []int{press, release} {
		r, err := s.next()
		if err != nil {
			return err
		}
		if r.ID != id {
			return fmt.Errorf("reply %d, want %d", r.ID, id)
		}
	}
	res, err := s.call("Runtime.evaluate", map[string]any{"expression": "JSON.stringify(window.clicks)", "returnByValue": true})
	if err != nil {
		return err
	}
	var clicks struct {
		Result struct{ Value string }
	}
	if err := json.Unmarshal(res, &clicks); err != nil {
		return err
	}
	fmt.Printf("clicks %s\n", clicks.Result.Value)
	return nil
}

// paint navigates the page (an acting command: codrive takes control for
// it) and returns once the new page has loaded.
func paint(s *cdpSession, url string) error {
	if _, err := s.call("Page.enable", map[string]any{}); err != nil {
		return err
	}
	nav := s.send("Page.navigate", map[string]any{"url": url})
	navigated, loaded := false, false
	for !navigated || !loaded {
		var r cdpReply
		if err := s.ws.ReadJSON(&r); err != nil {
			return err
		}
		switch {
		case r.ID == nav && r.Error != nil:
			return fmt.Errorf("Page.navigate: %s", r.Error.Message)
		case r.ID == nav:
			navigated = true
		case r.Method == "Page.loadEventFired":
			loaded = true
		}
	}
	fmt.Println("painted")
	return nil
}

// cdpSession is a CDP connection attached (flat) to the first page.
type cdpSession struct {
	ws      *websocket.Conn
	session string
	nextID  int
}

type cdpReply struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

func dialCDP(ws string) (*cdpSession, error) {
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", ws, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(deadline))
	s := &cdpSession{ws: c}
	res, err := s.call("Target.getTargets", map[string]any{})
	if err != nil {
		return nil, err
	}
	var targets struct {
		TargetInfos []struct{ TargetID, Type string }
	}
	if err := json.Unmarshal(res, &targets); err != nil {
		return nil, err
	}
	page := ""
	for _, t := range targets.TargetInfos {
		if t.Type == "page" {
			page = t.TargetID
			break
		}
	}
	res, err = s.call("Target.attachToTarget", map[string]any{"targetId": page, "flatten": true})
	if err != nil {
		return nil, err
	}
	var att struct{ SessionID string }
	if err := json.Unmarshal(res, &att); err != nil {
		return nil, err
	}
	s.session = att.SessionID
	return s, nil
}

// send writes a command (to the page once attached) and returns its id.
func (s *cdpSession) send(method string, params any) int {
	s.nextID++
	msg := map[string]any{"id": s.nextID, "method": method, "params": params}
	if s.session != "" {
		msg["sessionId"] = s.session
	}
	if err := s.ws.WriteJSON(msg); err != nil {
		fmt.Fprintln(os.Stderr, "child: write:", err)
	}
	return s.nextID
}

// next returns the next reply, skipping events.
func (s *cdpSession) next() (cdpReply, error) {
	for {
		var r cdpReply
		if err := s.ws.ReadJSON(&r); err != nil {
			return r, err
		}
		if r.ID == 0 {
			continue // an event
		}
		if r.Error != nil {
			return r, fmt.Errorf("reply %d: %s", r.ID, r.Error.Message)
		}
		return r, nil
	}
}

func (s *cdpSession) call(method string, params any) (json.RawMessage, error) {
	id := s.send(method, params)
	for {
		r, err := s.next()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if r.ID == id {
			return r.Result, nil
		}
	}
}

func (s *cdpSession) close() { _ = s.ws.Close() }
