package nekotest

// Shutdown says how StopWith and RestartWith take the server down.
type Shutdown int

const (
	// Abrupt is neko v3.1.5 on SIGTERM or SIGKILL: the process dies at once,
	// so every socket drops without a close frame or a system/disconnect
	// (clients see 1006).
	Abrupt Shutdown = iota
	// Graceful is neko v3.1.5 on SIGINT (cmd/serve.go Run and Shutdown): the
	// listener closes first (internal/http/manager.go Shutdown), then every
	// socket gets system/disconnect {"message":"connection shutdown"} and is
	// dropped, still without a close frame (internal/websocket/manager.go
	// handle, peer.go Destroy).
	Graceful
)

// String names the mode as the signal that causes it on real neko.
func (h Shutdown) String() string {
	if h == Graceful {
		return "graceful (SIGINT)"
	}
	return "abrupt (SIGTERM)"
}

func (h Shutdown) reason() string {
	if h == Graceful {
		return "connection shutdown"
	}
	return ""
}

// StopWith stops listening and drops every socket the way how says. A
// stopped neko loses all state, so every session is forgotten and the
// settings return to their initial values. Start listens again on the same
// port.
func (s *Server) StopWith(how Shutdown) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if !s.running {
		return
	}
	s.stopLocked(how.reason())
}

// RestartWith behaves like a process restart that is over at once: every
// socket is dropped the way how says, every session is forgotten (old
// tokens get 401, old sockets "session not found"), the host is cleared and
// the settings return to their initial values. The server keeps serving on
// the same port, so there is no window in which connections are refused;
// StopWith and Start make one.
func (s *Server) RestartWith(how Shutdown) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	defer s.abortPause()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAllLocked(how.reason())
	s.resetStateLocked()
}
