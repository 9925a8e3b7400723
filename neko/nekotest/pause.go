package nekotest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Pausing: the server as neko is between SIGSTOP and SIGCONT.
//
// A stopped process runs nothing, but its kernel goes on: the listening
// socket still completes TCP handshakes and queues the connections, and
// bytes sent on open sockets wait in their buffers. So clients connect and
// send, and get no answer; no heartbeat, no ping, no delayed disconnect
// fires. On SIGCONT neko handles all of it, including requests whose client
// gave up and closed meanwhile: their bytes are still in the socket buffer.
// A WebSocket upgrade of that kind is upgraded, authenticated and registered
// on its session like any other, and so replaces the session's current
// socket with "connection replaced" (internal/session/session.go
// ConnectWebSocketPeer), although nobody will ever read it.
//
// The server emulates this by holding every piece of work it would do at a
// gate: each HTTP request before its handler runs, each frame or read error
// of a WebSocket before it is handled, each write of a socket's writer
// (frames and heartbeats) and each delayed-disconnect timer when it fires.
// Go's http.Server still accepts connections and reads request headers while
// paused, which a client cannot tell from the kernel doing it.

// pauser is the gate; the zero value is running.
type pauser struct {
	resumeMu sync.Mutex // one Resume at a time

	mu         sync.Mutex
	paused     bool
	queue      []*heldWork // waiting, in arrival order
	changed    chan struct{}
	counts     map[string]int // requests per path since the server was made
	running    *heldWork      // the step Resume runs now
	interleave bool           // ResumeInterleaved is running
}

// heldWork is one piece of work waiting at the gate.
type heldWork struct {
	request string        // "GET /path" for an HTTP request, "" otherwise
	run     chan struct{} // closed to let it run
	done    chan struct{} // closed when its step is over
	once    sync.Once
	// cont is the step the work went on with after yielding (yieldLocked);
	// the work's release ends it too. Only the work's goroutine uses it.
	cont *heldWork
}

func (h *heldWork) finish() {
	h.once.Do(func() { close(h.done) })
	if h.cont != nil {
		h.cont.finish()
	}
}

// stepWait bounds how long Resume waits for one held step before starting
// the next, so that a step stuck on a client that reads nothing (a full TCP
// window) delays the order instead of hanging Resume.
const stepWait = time.Second

func (pz *pauser) notifyLocked() {
	if pz.changed != nil {
		close(pz.changed)
	}
	pz.changed = make(chan struct{})
}

// Pause makes the server behave like neko stopped with SIGSTOP: TCP
// connections are still accepted and requests and frames still arrive, but
// nothing is processed and nothing is written: no handler runs, no frame of
// an open socket is handled, no heartbeat or ping is sent, no delayed
// disconnect happens. Everything that arrives waits for [Server.Resume].
// Pausing a paused server does nothing. Stop, Close and Restart end a pause
// (the held work then runs against the stopped or fresh server, unordered).
func (s *Server) Pause() {
	pz := &s.pause
	pz.mu.Lock()
	defer pz.mu.Unlock()
	if !pz.paused {
		pz.paused = true
		pz.notifyLocked()
	}
}

// Resume is SIGCONT: everything that arrived while paused is processed in
// arrival order, one step at a time (a request up to its answer, or for a
// WebSocket up to its registration on the session; a frame; a batch of
// writes), including WebSocket upgrades whose client has given up and
// closed, which then replace their session's current socket. Work arriving
// meanwhile queues behind. Resume returns when the queue is empty, and the
// server then runs normally.
func (s *Server) Resume() { s.resume(false, false) }

// ResumeNewestFirst is Resume with the work held during the pause processed
// newest first (work arriving during Resume still queues behind, in order).
// Real neko serves each connection on its own goroutine, so after SIGCONT the
// connections waiting in the kernel race each other and any order can
// happen; this is the order in which a client's newest upgrade is registered
// first and its older, abandoned ones replace it afterwards.
func (s *Server) ResumeNewestFirst() { s.resume(true, false) }

// ResumeInterleaved is ResumeNewestFirst with each WebSocket registration
// split in two steps, as neko's concurrent goroutines can split it: the
// socket becomes the session's current one (replacing the previous one),
// and only in a later step does neko's connected handler send system/init
// to whichever socket of the session is current by then
// (internal/session/session.go ConnectWebSocketPeer emits "connected" after
// the swap; internal/websocket/handler/session.go SessionConnected sends
// through session.Send). So a live upgrade handled first can be replaced by
// an abandoned one before it ever gets its system/init: its first frame is
// system/disconnect "connection replaced". Seen on neko v3.1.5 resumed
// after SIGSTOP.
func (s *Server) ResumeInterleaved() { s.resume(true, true) }

func (s *Server) resume(newestFirst, interleave bool) {
	pz := &s.pause
	pz.resumeMu.Lock()
	defer pz.resumeMu.Unlock()
	defer func() {
		pz.mu.Lock()
		pz.interleave, pz.running = false, nil
		pz.mu.Unlock()
	}()
	for first := true; ; first = false {
		pz.mu.Lock()
		batch := pz.queue
		pz.queue = nil
		if len(batch) == 0 {
			pz.paused = false
			pz.notifyLocked()
			pz.mu.Unlock()
			return
		}
		pz.interleave = interleave
		pz.notifyLocked()
		pz.mu.Unlock()
		if first && newestFirst {
			slices.Reverse(batch)
		}
		for _, h := range batch {
			pz.mu.Lock()
			pz.running = h
			pz.mu.Unlock()
			close(h.run)
			t := time.NewTimer(stepWait)
			select {
			case <-h.done:
			case <-t.C:
				s.log.Warn("resume: a held step is still running, going on", "request", h.request)
			}
			t.Stop()
		}
	}
}

// abortPause ends a pause without ordering: the server stopped or restarted.
func (s *Server) abortPause() {
	pz := &s.pause
	pz.mu.Lock()
	batch := pz.queue
	pz.queue, pz.paused = nil, false
	pz.notifyLocked()
	pz.mu.Unlock()
	for _, h := range batch {
		close(h.run)
	}
}

// Queued returns the HTTP requests waiting for Resume, in arrival order, as
// "METHOD /path" (a WebSocket upgrade is "GET /api/ws").
func (s *Server) Queued() []string {
	pz := &s.pause
	pz.mu.Lock()
	defer pz.mu.Unlock()
	return pz.queuedLocked()
}

func (pz *pauser) queuedLocked() []string {
	var out []string
	for _, h := range pz.queue {
		if h.request != "" {
			out = append(out, h.request)
		}
	}
	return out
}

// WaitQueued blocks until at least n HTTP requests wait for Resume and
// returns them, as Queued does, or returns what is queued and an error when
// ctx ends first.
func (s *Server) WaitQueued(ctx context.Context, n int) ([]string, error) {
	pz := &s.pause
	for {
		pz.mu.Lock()
		q := pz.queuedLocked()
		if pz.changed == nil {
			pz.changed = make(chan struct{})
		}
		ch := pz.changed
		pz.mu.Unlock()
		if len(q) >= n {
			return q, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return q, fmt.Errorf("nekotest: waiting for %d queued requests (have %d): %w", n, len(q), ctx.Err())
		}
	}
}

// RequestCount is how many HTTP requests for path (e.g. "/api/ws" for
// WebSocket upgrades, "/health") the server has received since it was made,
// held or not, answered or not.
func (s *Server) RequestCount(path string) int {
	pz := &s.pause
	pz.mu.Lock()
	defer pz.mu.Unlock()
	return pz.counts[path]
}

// hold waits while the server is paused and returns the func that ends the
// step (idempotent); request is "" for work other than an HTTP request. It
// must not be called with s.mu held.
func (s *Server) hold(request string) func() {
	pz := &s.pause
	pz.mu.Lock()
	if !pz.paused {
		pz.mu.Unlock()
		return func() {}
	}
	h := &heldWork{request: request, run: make(chan struct{}), done: make(chan struct{})}
	pz.queue = append(pz.queue, h)
	pz.notifyLocked()
	pz.mu.Unlock()
	<-h.run
	return h.finish
}

// yieldLocked, during ResumeInterleaved, ends the running step here and
// goes on as a new step queued behind the held work, releasing s.mu
// meanwhile. Otherwise it does nothing.
func (s *Server) yieldLocked() {
	pz := &s.pause
	pz.mu.Lock()
	h := pz.running
	if !pz.interleave || h == nil {
		pz.mu.Unlock()
		return
	}
	next := &heldWork{run: make(chan struct{}), done: make(chan struct{})}
	for h.cont != nil {
		h = h.cont
	}
	h.cont = next
	pz.queue = append(pz.queue, next)
	pz.notifyLocked()
	pz.mu.Unlock()
	h.once.Do(func() { close(h.done) })
	s.mu.Unlock()
	<-next.run
	s.mu.Lock()
}

// step runs f as one step, after any pause.
func (s *Server) step(f func()) {
	release := s.hold("")
	defer release()
	f()
}

// stepKey carries an HTTP request's step release to serveWS.
type stepKey struct{}

// holdRequest counts the request, holds it while paused and returns it with
// the release of its step attached; ok is false when the server stopped
// while the request was held, and it must then be dropped.
func (s *Server) holdRequest(r *http.Request) (_ *http.Request, release func(), ok bool) {
	pz := &s.pause
	pz.mu.Lock()
	if pz.counts == nil {
		pz.counts = make(map[string]int)
	}
	pz.counts[r.URL.Path]++
	pz.mu.Unlock()
	release = s.hold(r.Method + " " + r.URL.Path)
	s.mu.Lock()
	ok = s.live
	s.mu.Unlock()
	return r.WithContext(context.WithValue(r.Context(), stepKey{}, release)), release, ok
}

// stepDone ends the step of a held request early: a WebSocket's step ends
// once it is registered, not when it closes.
func stepDone(r *http.Request) {
	if release, ok := r.Context().Value(stepKey{}).(func()); ok {
		release()
	}
}

// holdControlFrames makes the socket's ping and close handling wait for a
// pause too: gorilla answers both from inside the read (a pong, an echoed
// close frame), and a stopped neko answers nothing.
func (s *Server) holdControlFrames(conn *websocket.Conn) {
	onPing, onClose := conn.PingHandler(), conn.CloseHandler()
	conn.SetPingHandler(func(data string) (err error) {
		s.step(func() { err = onPing(data) })
		return err
	})
	conn.SetCloseHandler(func(code int, text string) (err error) {
		s.step(func() { err = onClose(code, text) })
		return err
	})
}
