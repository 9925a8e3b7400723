package nekotest

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/neko"
)

// peer is one WebSocket (internal/websocket/peer.go). Writes go through a
// queue drained by the peer's own goroutine so that the room lock is never
// held during network I/O, while each socket still sees frames in the order
// the room produced them.
type peer struct {
	s    *Server
	conn *websocket.Conn
	// sess is the authenticated session, nil for a refused socket.
	sess *session
	ping bool

	mu       sync.Mutex
	queue    [][]byte
	closing  bool // close the socket once the queue is written
	deadline time.Time
	dead     bool // no more writes; socket closed or closing now
	wake     chan struct{}
}

// newPeerLocked registers the socket and starts its writer; the caller has
// checked s.live. ping enables the heartbeat ticker
// (internal/websocket/manager.go handle: pingPeriod).
func (s *Server) newPeerLocked(conn *websocket.Conn, ping bool) *peer {
	p := &peer{s: s, conn: conn, ping: ping, wake: make(chan struct{}, 1)}
	s.peers[p] = struct{}{}
	s.wg.Add(1)
	go p.run()
	return p
}

func (p *peer) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// send queues a text frame; frames for a closing or dead socket are dropped,
// as neko only logs a failed write.
func (p *peer) send(frame []byte) {
	p.mu.Lock()
	if p.dead || p.closing {
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, frame)
	p.mu.Unlock()
	p.signal()
}

// destroy sends system/disconnect and then closes the socket without a close
// frame, so the client sees 1006 (internal/websocket/peer.go Destroy).
func (p *peer) destroy(reason string) {
	p.destroyWithDeadline(reason, 0)
}

// destroyWithDeadline is destroy with a bound on the final writes, used on
// Close so that a client that stopped reading cannot hang shutdown.
func (p *peer) destroyWithDeadline(reason string, d time.Duration) {
	frame, err := encodeFrame(neko.EventSystemDisconnect, neko.SystemDisconnect{Message: reason})
	if err != nil {
		p.kill()
		return
	}
	p.mu.Lock()
	if p.dead || p.closing {
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, frame)
	p.closing = true
	if d > 0 {
		p.deadline = time.Now().Add(d)
	}
	p.mu.Unlock()
	p.signal()
}

// kill closes the socket at once, dropping anything queued: a network
// failure as the client sees it.
func (p *peer) kill() {
	p.mu.Lock()
	p.dead = true
	p.queue = nil
	p.mu.Unlock()
	_ = p.conn.Close()
	p.signal()
}

func (p *peer) run() {
	defer p.s.wg.Done()
	// Every wake-up is one step of a paused server (pause.go), ended once
	// its writes are done, or after the socket is closed on the way out.
	release := func() {}
	defer func() { release() }()
	defer p.finish()
	// The ticker starts after the first batch is written, so system/init is
	// always the first frame, as in neko where the ticker starts only after
	// ConnectWebSocketPeer has sent it.
	var tick <-chan time.Time
	var ticker *time.Ticker
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		release()
		select {
		case <-p.wake:
		case <-tick:
			release = p.s.hold("")
			if err := p.heartbeat(); err != nil {
				p.s.log.Warn("heartbeat failed", "session_id", p.sessionID(), "err", err)
				return
			}
			continue
		}
		release = p.s.hold("")
		p.mu.Lock()
		frames, closing, dead, deadline := p.queue, p.closing, p.dead, p.deadline
		p.queue = nil
		p.mu.Unlock()
		if dead {
			return
		}
		if !deadline.IsZero() {
			_ = p.conn.SetWriteDeadline(deadline)
		}
		for _, f := range frames {
			if err := p.conn.WriteMessage(websocket.TextMessage, f); err != nil {
				p.s.log.Warn("send message error", "session_id", p.sessionID(), "err", err)
				return
			}
		}
		if closing {
			return
		}
		if p.ping && ticker == nil {
			ticker = time.NewTicker(p.s.opts.HeartbeatPeriod)
			tick = ticker.C
		}
	}
}

// heartbeat is neko's application-level heartbeat plus a WebSocket ping
// (internal/websocket/peer.go Ping). Nothing ever checks for a pong.
func (p *peer) heartbeat() error {
	frame, err := encodeFrame(neko.EventSystemHeartbeat, nil)
	if err != nil {
		return err
	}
	if err := p.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
		return fmt.Errorf("write heartbeat: %w", err)
	}
	if err := p.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
		return fmt.Errorf("write ping: %w", err)
	}
	p.s.log.Debug("sent heartbeat", "session_id", p.sessionID())
	return nil
}

func (p *peer) finish() {
	_ = p.conn.Close()
	p.mu.Lock()
	p.dead = true
	p.queue = nil
	p.mu.Unlock()
	p.s.mu.Lock()
	delete(p.s.peers, p)
	p.s.mu.Unlock()
}

// sessionID is for logs only; sess is fixed before the writer logs anything
// that matters, and a refused socket has none.
func (p *peer) sessionID() string {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if p.sess == nil {
		return ""
	}
	return p.sess.id
}

// encodeFrame builds {"event":...,"payload":...} followed by a newline, as
// neko's json.Encoder-based WriteJSON does (internal/websocket/peer.go Send).
func encodeFrame(event string, payload any) ([]byte, error) {
	msg := neko.Message{Event: event}
	if payload != nil {
		raw, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s payload: %w", event, err)
		}
		msg.Payload = raw
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", event, err)
	}
	return append(b, '\n'), nil
}
