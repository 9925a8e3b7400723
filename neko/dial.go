package neko

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
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
	case "connection replaced":
		// Not a refusal: neko registered this socket, and before its
		// connected handler sent system/init another socket on the session
		// replaced it (internal/session/session.go ConnectWebSocketPeer).
		// Logging in again would throw away the session and its host.
		return &refusedError{reason, ErrReplaced}
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

// dialer follows the Client's transport; onConnect sees the TCP connection
// once it is made (to neko or to a proxy on the way).
func (c *Conn) dialer(onConnect func(net.Conn)) *websocket.Dialer {
	d := &websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: c.opts.InitTimeout,
	}
	var netDial func(ctx context.Context, network, addr string) (net.Conn, error)
	if t, ok := c.client.hc.Transport.(*http.Transport); ok && t != nil {
		d.Proxy = t.Proxy
		netDial = t.DialContext
		if t.TLSClientConfig != nil {
			d.TLSClientConfig = t.TLSClientConfig.Clone()
		}
	}
	if netDial == nil {
		netDial = (&net.Dialer{}).DialContext
	}
	d.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := netDial(ctx, network, addr)
		if err == nil {
			onConnect(conn)
		}
		return conn, err
	}
	return d
}

// dial opens a socket and reads until system/init. An attempt it gives up
// on after its upgrade request went out is counted in c.stale: neko may
// still handle that request later (see staleAttempts).
func (c *Conn) dial(parent context.Context) (*link, error) {
	ctx, cancel := context.WithTimeout(parent, c.opts.InitTimeout)
	defer cancel()
	// ctxErr tells the caller's cancellation apart from InitTimeout.
	ctxErr := func() error {
		if err := parent.Err(); err != nil {
			return fmt.Errorf("neko: connect: %w", err)
		}
		return fmt.Errorf("neko: connect: no system/init within %v: %w", c.opts.InitTimeout, context.DeadlineExceeded)
	}
	var connected atomic.Bool
	var unwatch atomic.Pointer[func() bool]
	onConnect := func(conn net.Conn) {
		connected.Store(true)
		// gorilla bounds the handshake by ctx's deadline only; closing the
		// connection makes Close and the caller's cancellation end it too.
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		unwatch.Store(&stop)
	}
	// abandoned is ctxErr for an attempt that may linger in neko: the TCP
	// connection was made, so the upgrade request may sit unread in neko's
	// socket buffer (a frozen neko), and closing our end does not take it
	// back.
	abandoned := func() error {
		if parent.Err() == nil && connected.Load() {
			c.stale.abandoned(c.log)
		}
		return ctxErr()
	}
	target, h := c.wsURL()
	ws, resp, err := c.dialer(onConnect).DialContext(ctx, target, h)
	if stop := unwatch.Load(); stop != nil {
		(*stop)()
	}
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
		// gorilla sets ctx's deadline on the connection, which can expire a
		// moment before ctx itself reports it.
		var ne net.Error
		if ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout() {
			return nil, abandoned()
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
				// Upgraded but not registered yet: neko may register it
				// later and replace a newer socket with it.
				return nil, abandoned()
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
