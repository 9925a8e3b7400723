package neko

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors. Every error returned by a REST call that neko answered
// with an error status is an *APIError whose Unwrap returns one of these (or
// nil when the status has no sentinel), so callers test with errors.Is.
var (
	// ErrUnauthorized: 401, a wrong password or a token neko does not know.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden is the generic 403. errors.Is(err, ErrForbidden) is true
	// for every 403, including those with a more precise sentinel below.
	ErrForbidden = errors.New("forbidden")
	// ErrNotAdmin: 403 "session is not admin" (take, reset, settings, shot).
	ErrNotAdmin = errors.New("session is not admin")
	// ErrControlsLocked: 403 "controls are locked" on control/request.
	ErrControlsLocked = errors.New("controls are locked")
	// ErrLoginsLocked: 403 "logins are locked" on login.
	ErrLoginsLocked = errors.New("logins are locked")
	// ErrNotHost: 422 "session is not the host" on release, 403 "session is
	// not host or admin" on give.
	ErrNotHost = errors.New("not the host")
	// ErrNotFound: 404, e.g. give to an unknown session.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyConnected: 422 on login when the session id is connected.
	ErrAlreadyConnected = errors.New("session already connected")
	// ErrUnreachable: no HTTP answer at all (refused, DNS, TLS, timeout).
	ErrUnreachable = errors.New("neko unreachable")
)

// Errors of the WebSocket connection (Conn).
var (
	// ErrNotLoggedIn: Connect was called before a successful Login.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrNotConnected: a send while the Conn is between two sockets
	// (reconnecting). The send is not queued: neko never acknowledges WS
	// messages, so a late delivery would be indistinguishable from a lost one.
	ErrNotConnected = errors.New("not connected to neko")
	// ErrClosed: the Conn has ended (Close, or a fatal condition).
	ErrClosed = errors.New("connection closed")
	// ErrReplaced: neko sent system/disconnect "connection replaced", meaning
	// another socket now uses our session. The Conn stops instead of
	// reconnecting, because reconnecting would replace that socket in turn
	// and the two would evict each other forever.
	ErrReplaced = errors.New("connection replaced by another socket on the same session")
	// ErrStaleAttempt is the cause in conn/reconnecting when neko replaced
	// our socket with one of our own earlier connection attempts, given up
	// while neko was frozen and handled by it late. It is not fatal: the Conn
	// reconnects at once (see Conn).
	ErrStaleAttempt = errors.New("connection replaced by one of our own abandoned connection attempts, handled late by neko")
)

// APIError is a REST call that failed: neko answered with an error status, or
// did not answer at all (Status 0, ErrUnreachable).
type APIError struct {
	Op      string // "login", "control/request", "settings", ...
	Method  string // HTTP method
	URL     string // request URL; never carries a token (tokens go in headers)
	Status  int    // HTTP status; 0 when neko was unreachable
	Message string // neko's message, or a description of a non-JSON body
	Err     error  // transport error when unreachable

	sentinel error
	user     string // login only: the username (never the password)
	base     string // base URL, for the unreachable message
}

// Error reads like a sentence an operator can act on; it never contains a
// password or token.
func (e *APIError) Error() string {
	switch {
	case e.sentinel == ErrUnreachable:
		return fmt.Sprintf("neko unreachable at %s: %v", e.base, e.Err)
	case e.Op == "login" && e.Status == http.StatusUnauthorized:
		return fmt.Sprintf("unauthorized: wrong password for user %q", e.user)
	case e.sentinel == ErrControlsLocked, e.sentinel == ErrNotHost,
		e.sentinel == ErrLoginsLocked, e.sentinel == ErrAlreadyConnected:
		return e.sentinel.Error()
	}
	path := e.URL
	if i := strings.Index(path, "://"); i >= 0 {
		if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
			path = path[i+3+j:]
		}
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("neko: %s %s: %d %s", e.Method, path, e.Status, msg)
}

// Unwrap returns the sentinel matching the status and message (nil if none).
func (e *APIError) Unwrap() error { return e.sentinel }

// Is makes every 403 match ErrForbidden, even those whose sentinel is more
// precise (ErrNotAdmin, ErrControlsLocked, ...), so a caller that only cares
// about "not allowed" need not list them all.
func (e *APIError) Is(target error) bool {
	return target == ErrForbidden && e.Status == http.StatusForbidden
}

// classify picks the sentinel for a status and neko's message. The messages
// are those of server/pkg/auth/auth.go, server/internal/api/room/control.go
// and server/internal/api/session.go.
func classify(op string, status int, message string) error {
	switch status {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		switch message {
		case "session is not admin":
			return ErrNotAdmin
		case "controls are locked":
			return ErrControlsLocked
		case "logins are locked":
			return ErrLoginsLocked
		case "session is not host or admin", "session is not host":
			return ErrNotHost
		}
		return ErrForbidden
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusUnprocessableEntity:
		switch {
		case op == "login" || message == "session already connected":
			return ErrAlreadyConnected
		case op == "control/release" || message == "session is not the host":
			return ErrNotHost
		}
	}
	return nil
}
