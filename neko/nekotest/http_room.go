package nekotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/codrive/codrive/neko"
)

// The REST API of the room and its sessions, as neko v3.1.5 serves it
// (internal/api/sessions, internal/api/room); http.go routes to it.

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
		id, ok := s.Host()
		writeJSON(w, http.StatusOK, neko.ControlStatus{HasHost: ok, HostID: id})
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
	switch {
	case private && !fallback:
		return httpError(http.StatusBadRequest, "private mode is enabled but no fallback image available")
	case !private && !s.opts.ScreencastEnabled:
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
