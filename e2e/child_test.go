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
	var n int
	if err := evalValue(first.Result, &n); err != nil {
		return err
	}
	fmt.Printf("held clicks=%d\n", n)
	for _, id := range []int{press, release} {
		r, err := s.next()
		if err != nil {
			return err
		}
		if r.ID != id {
			return fmt.Errorf("reply %d, want %d", r.ID, id)
		}
	}
	var clicks string
	if err := s.eval("JSON.stringify(window.clicks)", &clicks); err != nil {
		return err
	}
	fmt.Printf("clicks %s\n", clicks)
	return nil
}

// waitLoaded returns once the page shows a data: URL and has loaded,
// driven by Page.loadEventFired, not by polling.
func waitLoaded(s *cdpSession) error {
	if _, err := s.call("Page.enable", map[string]any{}); err != nil {
		return err
	}
	for {
		var done bool
		if err := s.eval(`document.readyState === "complete" && location.href.startsWith("data:")`, &done); err != nil {
			return err
		}
		if done {
			return nil
		}
		if err := s.waitEvent("Page.loadEventFired"); err != nil {
			return err
		}
	}
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

// eval runs a side-effect-free expression and decodes its value; a
// JavaScript exception is an error.
func (s *cdpSession) eval(expr string, out any) error {
	res, err := s.call("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "throwOnSideEffect": true})
	if err != nil {
		return err
	}
	return evalValue(res, out)
}

func evalValue(res json.RawMessage, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return err
	}
	if e := r.ExceptionDetails; e != nil {
		return fmt.Errorf("page script threw: %s %s", e.Text, e.Exception.Description)
	}
	if len(r.Result.Value) == 0 {
		return fmt.Errorf("evaluation returned no value: %s", res)
	}
	return json.Unmarshal(r.Result.Value, out)
}

// waitEvent reads until an event named method arrives.
func (s *cdpSession) waitEvent(method string) error {
	for {
		var r cdpReply
		if err := s.ws.ReadJSON(&r); err != nil {
			return err
		}
		if r.ID == 0 && r.Method == method {
			return nil
		}
	}
}

func (s *cdpSession) close() { _ = s.ws.Close() }
