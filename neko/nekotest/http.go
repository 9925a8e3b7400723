package nekotest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/codrive/codrive/neko"
)

// apiError is neko's utils.HTTPError: written as {"code":N,"message":"..."}
// with status N (server/pkg/utils/http.go, internal/http/router.go
// errorHandler).
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Message) }

// httpError builds an error whose message defaults to the status text.
func httpError(code int, msg ...string) *apiError {
	e := &apiError{Code: code, Message: http.StatusText(code)}
	if len(msg) == 1 {
		e.Message = msg[0]
	}
	return e
}

// errMethodNotAllowed stands for chi's default 405, which has no body.
var errMethodNotAllowed = errors.New("method not allowed")

// errNotFound stands for chi's default 404, plain text "404 page not found".
var errNotFound = errors.New("not found")

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// Every request counts in wg so that Stop and Close wait for handlers
	// too (http.Server.Close does not), WebSocket read loops included.
	s.mu.Lock()
	if !s.live {
		s.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, httpError(http.StatusServiceUnavailable))
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	r, release, ok := s.holdRequest(r)
	defer release()
	if !ok {
		return
	}

	if s.cors(w, r) {
		return
	}
	err := s.route(w, r)
	switch {
	case err == nil:
	case errors.Is(err, errNotFound):
		http.NotFound(w, r)
	case errors.Is(err, errMethodNotAllowed):
		w.WriteHeader(http.StatusMethodNotAllowed)
	default:
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error("request failed", "path", r.URL.Path, "err", err)
			ae = httpError(http.StatusInternalServerError)
		}
		writeJSON(w, ae.Code, ae)
	}
}

// cors applies neko's CORS middleware, present only when origins are
// configured (internal/http/manager.go, router.go WithCORS: go-chi/cors with
// credentials). It reports whether it answered a preflight request.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	if len(s.opts.AllowedOrigins) == 0 {
		return false
	}
	origin := r.Header.Get("Origin")
	h := w.Header()
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Add("Vary", "Origin")
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		if origin != "" && s.allowOrigin(r) {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", strings.ToUpper(r.Header.Get("Access-Control-Request-Method")))
			if reqHeaders := r.Header.Get("Access-Control-Request-Headers"); reqHeaders != "" {
				h.Set("Access-Control-Allow-Headers", reqHeaders)
			}
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Max-Age", "300")
		}
		w.WriteHeader(http.StatusOK)
		return true
	}
	h.Add("Vary", "Origin")
	if origin != "" && s.allowOrigin(r) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Set("Access-Control-Expose-Headers", "Link")
	}
	return false
}

// route mirrors neko's chi tree (internal/http/manager.go,
// internal/api/router.go, internal/api/room/handler.go,
// internal/api/sessions/handler.go): leaf routes check the method first
// (405), mounted sub-routers (/api/sessions, /api/room and their groups)
// run their middlewares before matching, so e.g. an unknown path under
// /api/room is 401 without a token and 404 with one.
func (s *Server) route(w http.ResponseWriter, r *http.Request) error {
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	switch path {
	case "/health":
		if r.Method != http.MethodGet {
			return errMethodNotAllowed
		}
		_, err := w.Write([]byte("true"))
		return err
	case "/api/ws":
		if r.Method != http.MethodGet {
			return errMethodNotAllowed
		}
		return s.serveWS(w, r)
	case "/api/login":
		if r.Method != http.MethodPost {
			return errMethodNotAllowed
		}
		return s.login(w, r)
	case "/api/logout":
		return s.leaf(w, r, http.MethodPost, s.logout)
	case "/api/whoami":
		return s.leaf(w, r, http.MethodGet, s.whoami)
	case "/api/profile":
		return s.leaf(w, r, http.MethodPost, s.updateProfile)
	case "/api/stats":
		return s.leaf(w, r, http.MethodGet, s.stats)
	}
	if rest, ok := mounted(path, "/api/sessions"); ok {
		sess, err := s.authenticate(w, r)
		if err != nil {
			return err
		}
		return s.routeSessions(w, r, sess, rest)
	}
	if rest, ok := mounted(path, "/api/room"); ok {
		sess, err := s.authenticate(w, r)
		if err != nil {
			return err
		}
		return s.routeRoom(w, r, sess, rest)
	}
	return errNotFound
}

// mounted reports whether path is under prefix and returns the remainder,
// "/" for the prefix itself.
func mounted(path, prefix string) (string, bool) {
	if path == prefix {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(path, prefix+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, sess *session) error

// leaf is an authenticated endpoint of the /api group.
func (s *Server) leaf(w http.ResponseWriter, r *http.Request, method string, h handlerFunc) error {
	if r.Method != method {
		return errMethodNotAllowed
	}
	sess, err := s.authenticate(w, r)
	if err != nil {
		return err
	}
	return h(w, r, sess)
}

// tokenFromRequest is internal/session/auth.go getToken: the cookie wins if
// cookies are enabled and it is present (even when its value is wrong), then
// "Authorization: Bearer", then ?token=.
func (s *Server) tokenFromRequest(r *http.Request) (string, bool) {
	if s.opts.CookieEnabled {
		if c, err := r.Cookie(neko.CookieName); err == nil {
			return c.Value, true
		}
	}
	if parts := strings.Split(r.Header.Get("Authorization"), "Bearer "); len(parts) == 2 {
		return strings.TrimSpace(parts[1]), true
	}
	if token := r.URL.Query().Get("token"); token != "" {
		return token, true
	}
	return "", false
}

// authenticate is internal/api/router.go Authenticate: 401 for a missing or
// unknown token, with the cookie cleared when cookies are on.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*session, error) {
	token, found := s.tokenFromRequest(r)
	s.mu.Lock()
	sess, err := s.authenticateTokenLocked(token, found)
	s.mu.Unlock()
	if err != nil {
		if s.opts.CookieEnabled {
			clearCookie(w, r)
		}
		if errors.Is(err, errSessionLoginDisabled) {
			return nil, httpError(http.StatusForbidden, "login is disabled for this session")
		}
		return nil, httpError(http.StatusUnauthorized)
	}
	return sess, nil
}

func clearCookie(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(neko.CookieName)
	if err != nil {
		return
	}
	c.Value = ""
	c.Expires = time.Unix(0, 0)
	http.SetCookie(w, c)
}

// decodeJSON is server/pkg/utils/http.go HttpJsonRequest.
func decodeJSON(r *http.Request, v any) error {
	err := json.NewDecoder(r.Body).Decode(v)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return httpError(http.StatusBadRequest, "no data provided")
	}
	return httpError(http.StatusBadRequest, "unable to parse provided data")
}

// ---- /api (internal/api/session.go) ----

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in neko.LoginRequest
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	s.mu.Lock()
	sess, err := s.loginLocked(in.Username, in.Password)
	var out neko.LoginResponse
	if err == nil {
		out = neko.LoginResponse{ID: sess.id, Profile: sess.profile, State: sess.state}
	}
	s.mu.Unlock()
	switch {
	case errors.Is(err, errAlreadyConnected):
		return httpError(http.StatusUnprocessableEntity, "session already connected")
	case errors.Is(err, errInvalidPassword):
		s.log.Info("login refused", "username", in.Username)
		return httpError(http.StatusUnauthorized)
	case errors.Is(err, errLoginsLocked):
		return httpError(http.StatusForbidden, "logins are locked")
	case err != nil:
		return fmt.Errorf("login: %w", err)
	}
	s.log.Info("login", "session_id", out.ID, "admin", out.Profile.IsAdmin)
	if s.opts.CookieEnabled {
		// neko's defaults: session.cookie.secure and http_only true, and
		// SameSite=None because the cookie is secure
		// (internal/session/auth.go CookieSetToken).
		http.SetCookie(w, &http.Cookie{
			Name: neko.CookieName, Value: sess.token, HttpOnly: true, Secure: true,
			Expires: time.Now().Add(24 * time.Hour), SameSite: http.SameSiteNoneMode,
		})
	} else {
		out.Token = sess.token
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *session) error {
	s.mu.Lock()
	ok := s.deleteSessionLocked(sess.id)
	s.mu.Unlock()
	if !ok {
		return httpError(http.StatusBadRequest, "session is not logged in")
	}
	s.log.Info("logout", "session_id", sess.id)
	if s.opts.CookieEnabled {
		clearCookie(w, r)
	}
	writeJSON(w, http.StatusOK, true)
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, sess *session) error {
	s.mu.Lock()
	out := neko.LoginResponse{ID: sess.id, Profile: sess.profile, State: sess.state}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	return nil
}

// updateProfile is POST /api/profile: an admin may change every field of
// their own profile, anyone else only the name and avatar. The change is
// broadcast as session/profile.
func (s *Server) updateProfile(w http.ResponseWriter, r *http.Request, sess *session) error {
	s.mu.Lock()
	profile := sess.profile
	s.mu.Unlock()
	if profile.IsAdmin {
		if err := decodeJSON(r, &profile); err != nil {
			return err
		}
	} else {
		var in neko.MemberProfile
		if err := decodeJSON(r, &in); err != nil {
			return err
		}
		profile.Name, profile.Avatar = in.Name, in.Avatar
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.gone {
		return httpError(http.StatusBadRequest, "session does not exist")
	}
	s.updateProfileLocked(sess, profile)
	writeJSON(w, http.StatusOK, true)
	return nil
}

func (s *Server) stats(w http.ResponseWriter, _ *http.Request, _ *session) error {
	s.mu.Lock()
	out := neko.Stats{
		ServerStartedAt: s.startedAt,
		TotalUsers:      s.totalUsers,
		LastUserLeftAt:  s.lastUserLeftAt,
		TotalAdmins:     s.totalAdmins,
		LastAdminLeftAt: s.lastAdminLeftAt,
	}
	if h, ok := s.getHostLocked(); ok {
		out.HasHost, out.HostID = true, h.id
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
	return nil
}
