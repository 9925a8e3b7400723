package nekotest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"strconv"
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

// ---- /api/sessions (internal/api/sessions) ----

func (s *Server) routeSessions(w http.ResponseWriter, r *http.Request, sess *session, rest string) error {
	if rest == "/" {
		if r.Method != http.MethodGet {
			return errMethodNotAllowed
		}
		writeJSON(w, http.StatusOK, s.Sessions())
		return nil
	}
	id, sub, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
	if id == "" {
		return errNotFound
	}
	if err := adminsOnly(s.profileOf(sess)); err != nil {
		return err
	}
	switch sub {
	case "":
		switch r.Method {
		case http.MethodGet:
			s.mu.Lock()
			target, ok := s.sessions[id]
			var out neko.SessionData
			if ok {
				out = target.data()
			}
			s.mu.Unlock()
			if !ok {
				return httpError(http.StatusNotFound, "session not found")
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		case http.MethodDelete:
			if id == sess.id {
				return httpError(http.StatusBadRequest, "cannot delete own session")
			}
			s.mu.Lock()
			ok := s.deleteSessionLocked(id)
			s.mu.Unlock()
			if !ok {
				return httpError(http.StatusBadRequest, "session not found")
			}
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return errMethodNotAllowed
	case "disconnect":
		if r.Method != http.MethodPost {
			return errMethodNotAllowed
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		target, ok := s.sessions[id]
		if !ok {
			return httpError(http.StatusBadRequest, "session not found")
		}
		if target.state.IsConnected {
			s.destroyPeerLocked(target, "session disconnected")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return errNotFound
}

// ---- /api/room (internal/api/room) ----

func (s *Server) routeRoom(w http.ResponseWriter, r *http.Request, sess *session, rest string) error {
	profile := s.profileOf(sess)
	if sub, ok := mounted(rest, "/settings"); ok {
		if err := adminsOnly(profile); err != nil {
			return err
		}
		if sub != "/" {
			return errNotFound
		}
		switch r.Method {
		case http.MethodGet:
			writeJSON(w, http.StatusOK, s.Settings())
			return nil
		case http.MethodPost:
			return s.settingsSet(w, r, sess)
		}
		return errMethodNotAllowed
	}
	if sub, ok := mounted(rest, "/control"); ok {
		if err := s.canHostOnly(sess); err != nil {
			return err
		}
		return s.routeControl(w, r, sess, sub)
	}
	if sub, ok := mounted(rest, "/screen"); ok {
		if !profile.CanWatch {
			return httpError(http.StatusForbidden, "session cannot watch")
		}
		switch sub {
		case "/":
			if r.Method != http.MethodGet {
				return errMethodNotAllowed
			}
			writeJSON(w, http.StatusOK, s.opts.ScreenSize)
			return nil
		case "/cast.jpg":
			if r.Method != http.MethodGet {
				return errMethodNotAllowed
			}
			return s.screenCast(w, sess)
		case "/shot.jpg":
			if r.Method != http.MethodGet {
				return errMethodNotAllowed
			}
			if err := adminsOnly(profile); err != nil {
				return err
			}
			return s.screenShot(w, r)
		}
		return errNotFound
	}
	return errNotFound
}

// profileOf reads a session's profile, which /api/profile may change.
func (s *Server) profileOf(sess *session) neko.MemberProfile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sess.profile
}

// Middlewares of server/pkg/auth/auth.go.
func adminsOnly(profile neko.MemberProfile) error {
	if !profile.IsAdmin {
		return httpError(http.StatusForbidden, "session is not admin")
	}
	return nil
}

func (s *Server) canHostOnly(sess *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !sess.profile.CanHost {
		return httpError(http.StatusForbidden, "session cannot host")
	}
	if s.privateModeEnabledLocked(sess) {
		return httpError(http.StatusUnprocessableEntity, "private mode is enabled")
	}
	return nil
}

// settingsSet is a partial merge: the body is unmarshalled over the current
// settings and, if it parses, the result is applied and broadcast even when
// nothing changed (internal/api/room/settings.go).
func (s *Server) settingsSet(w http.ResponseWriter, r *http.Request, sess *session) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return httpError(http.StatusBadRequest, "unable to read request body")
	}
	s.mu.Lock()
	// next shares the plugins map with the current settings, as neko's
	// UpdateSettingsFunc copies the struct, not the map
	// (internal/session/manager.go). So "plugins" keys merge into the live
	// map in place, and a body that fails to parse after its "plugins"
	// (a bad type further on) still leaves those keys merged, with a 400
	// and no broadcast: real neko v3.1.5 does exactly that.
	next := s.settings
	if err := json.Unmarshal(body, &next); err != nil {
		s.mu.Unlock()
		return httpError(http.StatusBadRequest, "unable to parse provided data")
	}
	old := s.settings
	s.settings = next
	s.updateSettingsLocked(sess, next, old)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// routeControl is internal/api/room/control.go.
func (s *Server) routeControl(w http.ResponseWriter, r *http.Request, sess *session, sub string) error {
	if sub == "/" {
		if r.Method != http.MethodGet {
			return errMethodNotAllowed
		}
		s.mu.Lock()
		var out neko.ControlStatus
		if h, ok := s.getHostLocked(); ok {
			out.HasHost, out.HostID = true, h.id
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	if r.Method != http.MethodPost {
		if sub == "/request" || sub == "/release" || sub == "/take" || sub == "/reset" || strings.HasPrefix(sub, "/give/") {
			return errMethodNotAllowed
		}
		return errNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.gone {
		return httpError(http.StatusUnauthorized)
	}
	switch {
	case sub == "/request":
		// Anyone hosting is asked, the caller included, and the answer is
		// 202 even then; REST never takes control, implicit hosting or not.
		if host, ok := s.getHostLocked(); ok {
			s.sendLocked(host, neko.EventControlRequest, neko.SessionID{ID: sess.id})
			return httpError(http.StatusAccepted, "control request sent")
		}
		if s.settings.LockedControls && !sess.profile.IsAdmin {
			return httpError(http.StatusForbidden, "controls are locked")
		}
		s.setHostLocked(sess, sess)
	case sub == "/release":
		if !s.isHostLocked(sess) {
			return httpError(http.StatusUnprocessableEntity, "session is not the host")
		}
		s.setHostLocked(sess, nil)
	case sub == "/take":
		if err := adminsOnly(sess.profile); err != nil {
			return err
		}
		// broadcast even when the admin already hosts
		s.setHostLocked(sess, sess)
	case sub == "/reset":
		if err := adminsOnly(sess.profile); err != nil {
			return err
		}
		if _, ok := s.getHostLocked(); ok {
			s.setHostLocked(sess, nil)
		}
	case strings.HasPrefix(sub, "/give/"):
		targetID := strings.TrimPrefix(sub, "/give/")
		if targetID == "" || strings.Contains(targetID, "/") {
			return errNotFound
		}
		if !s.isHostLocked(sess) && !sess.profile.IsAdmin {
			return httpError(http.StatusForbidden, "session is not host or admin")
		}
		target, ok := s.sessions[targetID]
		if !ok {
			return httpError(http.StatusNotFound, "target session was not found")
		}
		if !target.profile.CanHost {
			return httpError(http.StatusBadRequest, "target session is not allowed to host")
		}
		s.setHostLocked(sess, target)
	default:
		return errNotFound
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// screenCast is GET /api/room/screen/cast.jpg (internal/api/room/screen.go):
// a non-admin in private mode gets the fallback image captured when private
// mode was switched on, or 400 if there is none (private mode configured
// from the start); otherwise the screencast must be enabled.
func (s *Server) screenCast(w http.ResponseWriter, sess *session) error {
	s.mu.Lock()
	private, fallback := s.privateModeEnabledLocked(sess), s.privateImage
	s.mu.Unlock()
	if private {
		if !fallback {
			return httpError(http.StatusBadRequest, "private mode is enabled but no fallback image available")
		}
		return s.writeJPEG(w, 90)
	}
	if !s.opts.ScreencastEnabled {
		return httpError(http.StatusBadRequest, "screencast pipeline is not enabled")
	}
	return s.writeJPEG(w, 90)
}

func (s *Server) screenShot(w http.ResponseWriter, r *http.Request) error {
	quality, err := strconv.Atoi(r.URL.Query().Get("quality"))
	if err != nil {
		quality = 90
	}
	return s.writeJPEG(w, quality)
}

func (s *Server) writeJPEG(w http.ResponseWriter, quality int) error {
	quality = min(max(quality, 1), 100)
	img, err := s.screenJPEG(quality)
	if err != nil {
		return fmt.Errorf("screen image: %w", err)
	}
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Content-Type", "image/jpeg")
	_, err = w.Write(img)
	return err
}

// screenJPEG renders a plain test picture of the screen size once per
// quality.
func (s *Server) screenJPEG(quality int) ([]byte, error) {
	s.jpegMu.Lock()
	defer s.jpegMu.Unlock()
	if b, ok := s.jpegs[quality]; ok {
		return b, nil
	}
	size := s.opts.ScreenSize
	img := image.NewRGBA(image.Rect(0, 0, max(size.Width, 1), max(size.Height, 1)))
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / b.Dx()), G: uint8(y * 255 / b.Dy()), B: 0x80, A: 0xff})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	s.jpegs[quality] = buf.Bytes()
	return buf.Bytes(), nil
}
