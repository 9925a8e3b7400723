// Package nekotest runs an in-process server that speaks the neko v3 REST
// and WebSocket protocol, for tests, in the spirit of net/http/httptest.
//
// It reproduces the behaviour codrive depends on (see
// shared/neko-protocol.md), including the unfriendly parts: no error events
// on the WebSocket, a delayed disconnect after an abnormal close, implicit
// hosting that steals control, REST control/request answering 202 even to
// the host itself, stale hosts after a REST-only host logs out, and no
// detection of a peer that silently vanished. Each behaviour cites the neko
// source file it follows (repository m1k1o/neko, folder server/).
//
// There is no media: no WebRTC, no desktop. Input events only drive the
// control logic; the screen endpoints serve a generated JPEG. The built-in
// plugins' WebSocket traffic is there (chat/init, filetransfer/update after
// every connect, chat/message relayed), as in neko v3.1.5, unless
// Options.NoPlugins.
//
// Defaults follow the official image, not the bare binary. At v3.1.5 the
// server's own flag defaults turn session.implicit_hosting and
// session.cookie.enabled ON (server/internal/config/session.go), but the
// image ships /etc/neko/neko.yaml turning both OFF, and that is what
// deployments run; from the 2026-08-15 commit on the flag defaults are off
// too. So a zero Options is implicit hosting off (neko.DefaultSettings) and
// cookies off; set Settings.ImplicitHosting and CookieEnabled for the
// binary's defaults. Clients must cope with both.
//
// Stopping: neko v3.1.5 handles only SIGINT gracefully (cmd/serve.go
// signal.Notify(quit, os.Interrupt)): every socket gets system/disconnect
// {"message":"connection shutdown"} and is dropped. On SIGTERM or SIGKILL it
// dies at once and clients see close 1006 with no message. StopWith and
// RestartWith choose (Graceful or Abrupt); Stop and Restart are Abrupt.
//
// Waiting for state: tests never sleep. [Server.WaitFor] blocks until a
// condition on a [State] snapshot holds (re-checked after every state
// change) or the context ends; [Server.WaitHost] is a shorthand for the most
// common condition.
package nekotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/codrive/codrive/neko"
)

// Options configure a Server. The zero value is a stock neko: multiuser
// provider with passwords "neko" and "admin", default settings, cookies off.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// UserPassword gives the multiuser user profile; default "neko".
	UserPassword string
	// AdminPassword gives the multiuser admin profile; default "admin".
	AdminPassword string
	// Settings are the initial room settings; default neko.DefaultSettings().
	// Restart and Stop return the room to these settings.
	Settings *neko.Settings
	// CookieEnabled mirrors session.cookie.enabled: the login token goes into
	// the NEKO_SESSION cookie and is absent from the login body. The cookie
	// carries neko's default attributes, HttpOnly, Secure and SameSite=None
	// (session.cookie.secure and http_only default to true:
	// internal/session/auth.go CookieSetToken), so a browser would not send
	// it back over plain http; clients that set the header themselves do.
	CookieEnabled bool
	// NoPlugins silences the built-in plugins: no chat/init or
	// filetransfer/update after connect, and chat/message is an unhandled
	// event. Real neko always has them.
	NoPlugins bool
	// HeartbeatPeriod is neko's pingPeriod: how often every socket gets
	// {"event":"system/heartbeat"} and a WebSocket ping; default 10s.
	HeartbeatPeriod time.Duration
	// DelayedDisconnect is neko's wsDelayedDuration: how long a session stays
	// connected after an abnormal close; default 5s.
	DelayedDisconnect time.Duration
	// ScreenSize is the desktop size reported in system/init and used for the
	// generated JPEGs; default 1280x720@30.
	ScreenSize neko.ScreenSize
	// ScreencastEnabled enables GET /api/room/screen/cast.jpg; without it that
	// endpoint answers 400 "screencast pipeline is not enabled", as neko does.
	ScreencastEnabled bool
	// AllowedOrigins is neko's server.cors list. Empty (neko's default) allows
	// every WebSocket Origin and sends no CORS headers; "*" allows all with
	// CORS headers; otherwise the WebSocket Origin header must be in the list
	// (a missing Origin is then refused too, as in neko).
	AllowedOrigins []string
	// Logger receives the server's log; default: discarded. Passwords and
	// tokens are never logged.
	Logger *slog.Logger

	// newUID replaces the random session id suffix and token generator; only
	// tests inside this package set it, to force an id collision.
	newUID func(size int) (string, error)
}

func (o Options) withDefaults() Options {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.UserPassword == "" {
		o.UserPassword = "neko"
	}
	if o.AdminPassword == "" {
		o.AdminPassword = "admin"
	}
	if o.HeartbeatPeriod <= 0 {
		o.HeartbeatPeriod = 10 * time.Second
	}
	if o.DelayedDisconnect <= 0 {
		o.DelayedDisconnect = 5 * time.Second
	}
	if o.ScreenSize == (neko.ScreenSize{}) {
		o.ScreenSize = neko.ScreenSize{Width: 1280, Height: 720, Rate: 30}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.newUID == nil {
		o.newUID = newUID
	}
	o.AllowedOrigins = slices.Clone(o.AllowedOrigins)
	// A "*" anywhere means everything, as in neko (internal/config/server.go Set).
	if slices.Contains(o.AllowedOrigins, "*") {
		o.AllowedOrigins = []string{"*"}
	}
	return o
}

// initialSettings are the settings a fresh neko starts with. With
// control_protection on, controls start locked until an admin connects
// (internal/session/manager.go New: LockedControls || ControlProtection).
func (o Options) initialSettings() neko.Settings {
	st := neko.DefaultSettings()
	if o.Settings != nil {
		st = o.Settings.Clone()
	}
	if st.ControlProtection {
		st.LockedControls = true
	}
	return st
}

// State is a consistent snapshot of the room.
type State struct {
	Settings neko.Settings
	// HostID is the current host; empty when HasHost is false.
	HostID  string
	HasHost bool
	// Sessions are all sessions, connected or not, sorted by id.
	Sessions []neko.SessionData
}

// Session returns the session with that id from the snapshot.
func (st State) Session(id string) (neko.SessionData, bool) {
	for _, s := range st.Sessions {
		if s.ID == id {
			return s, true
		}
	}
	return neko.SessionData{}, false
}

// Server is a running neko-compatible test server.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT, with no trailing slash. It
	// stays the same across Stop/Start and Restart.
	URL string

	opts    Options
	log     *slog.Logger
	initial neko.Settings

	// lifeMu serialises Start, Stop, Restart and Close.
	lifeMu    sync.Mutex
	addr      string // bound address, fixed after the first listen
	running   bool
	closed    bool
	httpSrv   *http.Server
	serveDone chan struct{}

	// wg counts every goroutine the server starts besides http.Server's own:
	// WebSocket readers, writers and delayed-disconnect timers. Add happens
	// only under mu while live, so Wait in Stop/Close cannot race an Add.
	wg sync.WaitGroup

	// mu guards everything below: the whole room state.
	mu       sync.Mutex
	live     bool // accepting sockets and starting goroutines
	settings neko.Settings
	sessions map[string]*session
	tokens   map[string]string // token -> session id
	hostID   string
	peers    map[*peer]struct{}
	// privateImage: a fallback cast image exists because private mode was
	// switched on while running (internal/api/room/handler.go New).
	privateImage bool
	changed      chan struct{}
	startedAt    time.Time
	// stats (internal/session/session.go Connect/DisconnectWebSocketPeer)
	totalUsers, totalAdmins         int
	lastUserLeftAt, lastAdminLeftAt *time.Time

	jpegMu sync.Mutex
	jpegs  map[int][]byte // quality -> encoded screen image

	pause pauser // Pause/Resume (pause.go)
}

// NewServer starts a server and panics if it cannot listen, like
// httptest.NewServer.
func NewServer(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic(fmt.Sprintf("nekotest: %v", err))
	}
	return s
}

// Start starts a server and returns an error if it cannot listen.
func Start(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		initial: opts.initialSettings(),
		peers:   make(map[*peer]struct{}),
		changed: make(chan struct{}),
		jpegs:   make(map[int][]byte),
		addr:    opts.Addr,
	}
	s.mu.Lock()
	s.resetStateLocked()
	s.mu.Unlock()
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start listens again, on the same address, after Stop. It fails if the
// server is running, closed, or the port is taken.
func (s *Server) Start() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return errors.New("nekotest: start: server is closed")
	}
	if s.running {
		return errors.New("nekotest: start: server is already running")
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("nekotest: listen on %s: %w", s.addr, err)
	}
	if s.URL == "" {
		s.addr = ln.Addr().String()
		s.URL = "http://" + s.addr
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(slogWriter{s.log}, "", 0),
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.live = true
	s.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http serve failed", "err", err)
		}
	}()
	s.httpSrv, s.serveDone, s.running = srv, done, true
	s.log.Info("nekotest listening", "url", s.URL)
	return nil
}

// Stop is StopWith(Abrupt).
func (s *Server) Stop() { s.StopWith(Abrupt) }

// Close stops the server for good: every connected socket gets
// system/disconnect "connection shutdown" and is closed, as when neko shuts
// down (internal/websocket/manager.go handle: manager.shutdown), and Close
// returns once every goroutine of the server has ended.
func (s *Server) Close() {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.running {
		s.stopLocked("connection shutdown")
	}
}

// stopLocked needs lifeMu. reason empty drops sockets abruptly.
func (s *Server) stopLocked(reason string) {
	_ = s.httpSrv.Close()
	<-s.serveDone
	s.mu.Lock()
	s.live = false
	s.dropAllLocked(reason)
	s.resetStateLocked()
	s.mu.Unlock()
	s.abortPause()
	s.wg.Wait()
	s.running = false
	s.httpSrv, s.serveDone = nil, nil
}

// Restart is RestartWith(Abrupt).
func (s *Server) Restart() { s.RestartWith(Abrupt) }

func (s *Server) dropAllLocked(reason string) {
	for p := range s.peers {
		if reason != "" && p.sess != nil && p.sess.peer == p {
			p.destroyWithDeadline(reason, time.Second)
		} else {
			p.kill()
		}
	}
}

func (s *Server) resetStateLocked() {
	for _, sess := range s.sessions {
		sess.cancelDelayed()
		sess.peer = nil
		sess.gone = true
	}
	s.settings = s.initial.Clone()
	s.sessions = make(map[string]*session)
	s.tokens = make(map[string]string)
	s.hostID = ""
	s.privateImage = false
	s.startedAt = time.Now()
	s.totalUsers, s.totalAdmins = 0, 0
	s.lastUserLeftAt, s.lastAdminLeftAt = nil, nil
	s.notifyLocked()
}

// Settings returns the current room settings.
func (s *Server) Settings() neko.Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings.Clone()
}

// SetSettings replaces the settings as if an admin had posted them: all the
// side effects of neko's updateSettings run (private mode or locked controls
// clear a non-admin host, control protection may lock controls) and
// system/settings is broadcast with an empty actor id, even when nothing
// changed.
func (s *Server) SetSettings(st neko.Settings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st = st.Clone()
	old := s.settings
	s.settings = st
	s.updateSettingsLocked(nil, st, old)
}

// Sessions returns every session, connected or not, sorted by id.
func (s *Server) Sessions() []neko.SessionData {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessionListLocked()
}

// Host returns the current host, as GET /api/room/control reports it.
func (s *Server) Host() (id string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.getHostLocked()
	if !ok {
		return "", false
	}
	return h.id, true
}

// State returns a snapshot of the room.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stateLocked()
}

func (s *Server) stateLocked() State {
	st := State{Settings: s.settings.Clone(), Sessions: s.sessionListLocked()}
	if h, ok := s.getHostLocked(); ok {
		st.HasHost, st.HostID = true, h.id
	}
	return st
}

// WaitFor blocks until cond holds for the room state, re-checking after every
// change, and returns the state that satisfied it. It returns the last state
// seen and an error when ctx ends first. cond runs without any server lock
// held and may be called many times.
func (s *Server) WaitFor(ctx context.Context, cond func(State) bool) (State, error) {
	for {
		s.mu.Lock()
		st := s.stateLocked()
		ch := s.changed
		s.mu.Unlock()
		if cond(st) {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, fmt.Errorf("nekotest: waiting for room state: %w", ctx.Err())
		}
	}
}

// WaitHost waits until the host is want; an empty want waits for no host.
func (s *Server) WaitHost(ctx context.Context, want string) error {
	_, err := s.WaitFor(ctx, func(st State) bool {
		if want == "" {
			return !st.HasHost
		}
		return st.HasHost && st.HostID == want
	})
	if err != nil {
		return fmt.Errorf("nekotest: waiting for host %q: %w", want, err)
	}
	return nil
}

// BroadcastRaw writes frame, exactly as given, as a text frame to every
// connected socket; for testing how clients cope with malformed frames.
func (s *Server) BroadcastRaw(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.state.IsConnected && sess.peer != nil {
			sess.peer.send(bytes.Clone(frame))
		}
	}
}

// DropSocket closes the session's current socket without a close frame, as a
// network failure would. The server then sees a read error and applies the
// delayed disconnect. It does nothing if the session has no socket.
func (s *Server) DropSocket(sessionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[sessionID]; ok && sess.peer != nil {
		sess.peer.kill()
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) sessionListLocked() []neko.SessionData {
	out := make([]neko.SessionData, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, sess.data())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// slogWriter routes http.Server's own error log into the slog logger.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn("http server", "msg", strings.TrimSpace(string(p)))
	return len(p), nil
}
