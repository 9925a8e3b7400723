package neko

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// link is a freshly dialled socket whose system/init has arrived.
type link struct {
	ws      *websocket.Conn
	init    Event
	pending []Event // frames that came before system/init (neko sends none)
}

// refusedError: neko closed the socket with system/disconnect before
// system/init (server/internal/websocket/manager.go connect).
type refusedError struct {
	reason   string
	sentinel error
}

func (e *refusedError) Error() string {
	if e.sentinel != nil {
		return fmt.Sprintf("neko refused the websocket (%v): %s", e.sentinel, e.reason)
	}
	return "neko refused the websocket: " + e.reason
}

func (e *refusedError) Unwrap() error { return e.sentinel }

// refusal maps neko's pre-init disconnect reasons to sentinels. Auth failures
// ("no authentication provided", "session not found", anything from
// Authenticate) are ErrUnauthorized so that the reconnect loop logs in again.
func refusal(reason string) *refusedError {
	switch reason {
	case "already connected":
		return &refusedError{reason, ErrAlreadyConnected}
	case "connection disabled":
		return &refusedError{reason, ErrForbidden}
	case "connection shutdown":
		return &refusedError{reason, nil}
	}
	return &refusedError{reason, ErrUnauthorized}
}

func (c *Conn) wsURL() (string, http.Header) {
	u := *c.client.base
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = c.client.base.Path + "/api/ws"
	h := http.Header{}
	c.client.authHeader(h)
	// neko checks Origin against its CORS list; a browser on the neko page
	// would send the page's own origin, which any sane list allows.
	h.Set("Origin", c.client.base.Scheme+"://"+c.client.base.Host)
	return u.String(), h
}

func (c *Conn) dialer() *websocket.Dialer {
	d := &websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: c.opts.InitTimeout,
	}
	if t, ok := c.client.hc.Transport.(*http.Transport); ok && t != nil {
		d.Proxy = t.Proxy
		d.NetDialContext = t.DialContext
		if t.TLSClientConfig != nil {
			d.TLSClientConfig = t.TLSClientConfig.Clone()
		}
	}
	return d
}

// dial opens a socket and reads until system/init.
func (c *Conn) dial(parent context.Context) (*link, error) {
	ctx, cancel := context.WithTimeout(parent, c.opts.InitTimeout)
	defer cancel()
	// ctxErr tells the caller's cancellation apart from InitTimeout.
	ctxErr := func() error {
		if err := parent.Err(); err != nil {
			return fmt.Errorf("neko: connect: %w", err)
		}
		return fmt.Errorf("neko: connect: no system/init within %v: %w", c.opts.InitTimeout, ctx.Err())
	}
	target, h := c.wsURL()
	ws, resp, err := c.dialer().DialContext(ctx, target, h)
	if err != nil {
		if resp != nil {
			defer resp.Body.Close()
			r := &response{status: resp.StatusCode, header: resp.Header}
			buf := make([]byte, 1024)
			n, _ := resp.Body.Read(buf)
			r.body = buf[:n]
			msg := errorMessage(r)
			return nil, &APIError{Op: "ws", Method: http.MethodGet, URL: target, Status: resp.StatusCode,
				Message: msg, sentinel: classify("ws", resp.StatusCode, msg), base: c.client.baseStr}
		}
		if ctx.Err() != nil {
			return nil, ctxErr()
		}
		return nil, &APIError{Op: "ws", Method: http.MethodGet, URL: target, Err: err,
			sentinel: ErrUnreachable, base: c.client.baseStr}
	}
	ws.SetReadLimit(maxFrame)
	// The read below has no deadline of its own: ctx (InitTimeout, the
	// caller's ctx, Close) ends it by closing the socket.
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	var pending []Event
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			stop()
			ws.Close()
			if ctx.Err() != nil {
				return nil, ctxErr()
			}
			return nil, fmt.Errorf("neko: connect: socket closed before system/init: %w", err)
		}
		ev, err := decodeFrame(data, time.Now())
		if err != nil {
			c.malformed(err)
			continue
		}
		switch ev.Name {
		case EventSystemInit:
			if !stop() {
				return nil, ctxErr()
			}
			return &link{ws: ws, init: ev, pending: pending}, nil
		case EventSystemDisconnect:
			stop()
			ws.Close()
			return nil, refusal(ev.Payload.(*SystemDisconnect).Message)
		}
		pending = append(pending, ev)
	}
}
