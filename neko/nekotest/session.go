package nekotest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/codrive/codrive/neko"
)

// Errors with neko's texts (server/pkg/types/session.go, member.go); the
// WebSocket sends err.Error() in system/disconnect, so the words matter.
var (
	errNoAuth               = errors.New("no authentication provided")
	errSessionNotFound      = errors.New("session not found")
	errSessionLoginDisabled = errors.New("session login disabled")
	errAlreadyConnected     = errors.New("session already connected")
	errLoginsLocked         = errors.New("logins are locked")
	errInvalidPassword      = errors.New("invalid password")

	errNotAllowedToHost = errors.New("is not allowed to host")
	errNotTheHost       = errors.New("is not the host")
	errAlreadyTheHost   = errors.New("is already the host")
	errAlreadyHosted    = errors.New("is already hosted")

	errChatNotAllowed = errors.New("not allowed to send chat messages")
)

// session is neko's SessionCtx (internal/session/session.go) minus media.
type session struct {
	id      string
	token   string
	profile neko.MemberProfile
	state   neko.SessionState
	peer    *peer
	// delayed is the pending delayed disconnect, if any.
	delayed chan struct{}
	// gone is set when the session was forgotten by Restart/Stop/Close, so
	// late events from its old sockets are ignored.
	gone bool
}

func (sess *session) data() neko.SessionData {
	return neko.SessionData{ID: sess.id, Profile: sess.profile, State: sess.state}
}

func (sess *session) cancelDelayed() {
	if sess.delayed != nil {
		close(sess.delayed)
		sess.delayed = nil
	}
}

// uidAlphabet and the 6-bit mask follow server/pkg/utils/uid.go NewUID.
const uidAlphabet = "_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func newUID(size int) (string, error) {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	for i := range b {
		b[i] = uidAlphabet[b[i]&63]
	}
	return string(b), nil
}

// Profiles of the multiuser provider (internal/config/member.go Set).
func userProfile(name string) neko.MemberProfile {
	return neko.MemberProfile{
		Name: name, CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true,
		CanShareMedia: true, CanAccessClipboard: true, SendsInactiveCursor: true,
	}
}

func adminProfile(name string) neko.MemberProfile {
	p := userProfile(name)
	p.IsAdmin, p.CanSeeInactiveCursors = true, true
	return p
}

// authenticateMember is the multiuser provider: the admin password is checked
// first, any username is accepted, and the id is USERNAME-XXXXX
// (internal/member/multiuser/provider.go Authenticate).
func (s *Server) authenticateMember(username, password string) (string, neko.MemberProfile, error) {
	suffix, err := s.opts.newUID(5)
	if err != nil {
		return "", neko.MemberProfile{}, err
	}
	id := username + "-" + suffix
	switch password {
	case s.opts.AdminPassword:
		return id, adminProfile(username), nil
	case s.opts.UserPassword:
		return id, userProfile(username), nil
	}
	return "", neko.MemberProfile{}, errInvalidPassword
}

// loginLocked is internal/member/manager.go Login: locked logins stop
// non-admins; a still connected session with the same id refuses the login,
// a disconnected one is deleted and replaced.
func (s *Server) loginLocked(username, password string) (*session, error) {
	id, profile, err := s.authenticateMember(username, password)
	if err != nil {
		return nil, err
	}
	if !profile.IsAdmin && s.settings.LockedLogins {
		return nil, errLoginsLocked
	}
	if old, ok := s.sessions[id]; ok {
		if old.state.IsConnected {
			return nil, errAlreadyConnected
		}
		s.deleteSessionLocked(id)
	}
	return s.createSessionLocked(id, profile)
}

// createSessionLocked is internal/session/manager.go Create; the created
// event broadcasts session/created to every connected session
// (internal/websocket/handler/session.go SessionCreated).
func (s *Server) createSessionLocked(id string, profile neko.MemberProfile) (*session, error) {
	token, err := s.opts.newUID(64)
	if err != nil {
		return nil, err
	}
	if _, ok := s.tokens[token]; ok {
		return nil, errors.New("session token already exists")
	}
	sess := &session{id: id, token: token, profile: profile}
	s.sessions[id] = sess
	s.tokens[token] = id
	s.broadcastLocked(neko.EventSessionCreated, sess.data(), "")
	s.notifyLocked()
	return sess, nil
}

// deleteSessionLocked is internal/session/manager.go Delete: the session is
// removed first, then its socket destroyed (which runs the disconnect logic,
// clearing host if it was host), then session/deleted is broadcast. The host
// id is not cleared for a session without a socket: GET /api/room/control
// then reports no host but nobody is told.
func (s *Server) deleteSessionLocked(id string) bool {
	sess, ok := s.sessions[id]
	if !ok {
		return false
	}
	delete(s.tokens, sess.token)
	delete(s.sessions, id)
	if sess.state.IsConnected {
		s.destroyPeerLocked(sess, "session deleted")
	}
	sess.cancelDelayed()
	sess.gone = true
	s.broadcastLocked(neko.EventSessionDeleted, neko.SessionID{ID: id}, "")
	s.notifyLocked()
	return true
}

// updateProfileLocked is internal/session/manager.go Update followed by
// session.profileChanged.
func (s *Server) updateProfileLocked(sess *session, profile neko.MemberProfile) {
	sess.profile = profile
	s.broadcastLocked(neko.EventSessionProfile, neko.SessionProfileUpdate{ID: sess.id, MemberProfile: profile}, "")
	if !profile.CanHost && s.isHostLocked(sess) {
		s.setHostLocked(sess, nil)
	}
	if (!profile.CanConnect || !profile.CanLogin) && sess.state.IsConnected {
		s.destroyPeerLocked(sess, "profile changed")
	}
	s.notifyLocked()
}

// authenticateTokenLocked is internal/session/auth.go Authenticate after the
// token was extracted.
func (s *Server) authenticateTokenLocked(token string, found bool) (*session, error) {
	if !found {
		return nil, errNoAuth
	}
	id, ok := s.tokens[token]
	if !ok {
		return nil, errSessionNotFound
	}
	sess := s.sessions[id]
	if !sess.profile.CanLogin {
		return nil, errSessionLoginDisabled
	}
	return sess, nil
}

// ---- host (internal/session/manager.go setHost/GetHost/isHost) ----

// getHostLocked resolves the host id to a live session: a host that was
// deleted is no host at all, though its id stays stored.
func (s *Server) getHostLocked() (*session, bool) {
	if s.hostID == "" {
		return nil, false
	}
	h, ok := s.sessions[s.hostID]
	return h, ok
}

func (s *Server) isHostLocked(sess *session) bool {
	return s.hostID != "" && s.hostID == sess.id
}

// setHostLocked stores the host and always broadcasts control/host with the
// actor as id, even when the host did not change
// (internal/websocket/manager.go OnHostChanged).
func (s *Server) setHostLocked(actor, host *session) {
	payload := neko.ControlHost{}
	if actor != nil {
		payload.ID = actor.id
	}
	if host != nil {
		s.hostID = host.id
		payload.HasHost, payload.HostID = true, host.id
	} else {
		s.hostID = ""
	}
	s.broadcastLocked(neko.EventControlHost, payload, "")
	s.log.Info("session host changed", "session_id", payload.ID, "has_host", payload.HasHost, "host_id", payload.HostID)
	s.notifyLocked()
}

func (s *Server) privateModeEnabledLocked(sess *session) bool {
	return s.settings.PrivateMode && !sess.profile.IsAdmin
}

// controlRequestLocked is the WebSocket control/request logic
// (internal/websocket/handler/control.go controlRequest). Every input event
// runs it first.
func (s *Server) controlRequestLocked(sess *session) error {
	if !sess.profile.CanHost || s.privateModeEnabledLocked(sess) {
		return errNotAllowedToHost
	}
	if s.isHostLocked(sess) {
		return errAlreadyTheHost
	}
	if s.settings.LockedControls && !sess.profile.IsAdmin {
		return errNotAllowedToHost
	}
	// implicit hosting takes control from whoever has it, without asking
	if s.settings.ImplicitHosting {
		s.setHostLocked(sess, sess)
		return nil
	}
	host, ok := s.getHostLocked()
	if !ok {
		s.setHostLocked(sess, sess)
		return nil
	}
	// the host is asked; the requester hears nothing
	s.sendLocked(host, neko.EventControlRequest, neko.SessionID{ID: sess.id})
	return errAlreadyHosted
}

// controlReleaseLocked: only the host may release (shared/neko-protocol.md;
// the release checks of internal/websocket/handler/control.go).
func (s *Server) controlReleaseLocked(sess *session) error {
	if !sess.profile.CanHost || s.privateModeEnabledLocked(sess) {
		return errNotAllowedToHost
	}
	if !s.isHostLocked(sess) {
		return errNotTheHost
	}
	s.setHostLocked(sess, nil)
	return nil
}

// ---- settings (internal/session/manager.go UpdateSettingsFunc/updateSettings) ----

// updateSettingsLocked runs the side effects of a settings change, in neko's
// order, then broadcasts system/settings with the actor id. s.settings must
// already hold next. actor nil means "" (a change made by the test).
func (s *Server) updateSettingsLocked(actor *session, next, old neko.Settings) {
	if old.PrivateMode != next.PrivateMode {
		s.privateImage = next.PrivateMode
		for _, other := range s.sessions {
			if s.privateModeEnabledLocked(other) && s.isHostLocked(other) {
				s.setHostLocked(actor, nil)
			}
		}
	}
	if old.ControlProtection != next.ControlProtection && next.ControlProtection && !next.LockedControls {
		if !s.adminConnectedLocked("") {
			s.settings.LockedControls = true
			next.LockedControls = true
		}
	}
	if old.LockedControls != next.LockedControls && next.LockedControls {
		if host, ok := s.getHostLocked(); ok && !host.profile.IsAdmin {
			s.setHostLocked(actor, nil)
		}
	}
	id := ""
	if actor != nil {
		id = actor.id
	}
	s.broadcastLocked(neko.EventSystemSettings, neko.SystemSettingsUpdate{ID: id, Settings: next}, "")
	s.log.Info("settings changed", "session_id", id)
	s.notifyLocked()
}

func (s *Server) adminConnectedLocked(except string) bool {
	for _, other := range s.sessions {
		if other.profile.IsAdmin && other.id != except && other.state.IsConnected {
			return true
		}
	}
	return false
}

// ---- websocket peer (internal/session/session.go) ----

// connectPeerLocked is ConnectWebSocketPeer plus the connected handler
// (internal/websocket/handler/session.go SessionConnected): system/init,
// system/admin for admins (whose arrival unlocks protected controls), then
// session/state to everyone. A previous socket is then destroyed with
// "connection replaced".
// The handler sends to the session's current socket, which is not
// necessarily p if another connect swapped in meanwhile.
func (s *Server) connectPeerLocked(sess *session, p *peer) {
	old := sess.peer
	if old == p {
		return
	}
	sess.peer = p
	// A pending delayed disconnect would only have concerned the old socket.
	sess.cancelDelayed()
	now := time.Now()
	sess.state.IsConnected = true
	sess.state.ConnectedSince = &now
	sess.state.NotConnectedSince = nil
	// neko counts every connect, a replacement included, and so does this
	// server: the totals in /api/stats drift the same way.
	if sess.profile.IsAdmin {
		s.totalAdmins++
		s.lastAdminLeftAt = nil
	} else {
		s.totalUsers++
		s.lastUserLeftAt = nil
	}
	s.log.Info("set websocket connected", "session_id", sess.id)
	// neko's connected handler runs after the swap, without a lock between:
	// concurrent connects interleave here (see ResumeInterleaved).
	s.yieldLocked()

	s.sendLocked(sess, neko.EventSystemInit, s.systemInitLocked(sess))
	if sess.profile.IsAdmin {
		s.sendLocked(sess, neko.EventSystemAdmin, neko.SystemAdmin{})
		if s.settings.LockedControls && s.settings.ControlProtection {
			old := s.settings
			s.settings.LockedControls = false
			s.updateSettingsLocked(sess, s.settings, old)
		}
	}
	s.broadcastLocked(neko.EventSessionState, neko.SessionStateUpdate{ID: sess.id, SessionState: sess.state}, "")
	s.pluginsConnectedLocked(sess)
	if old != nil {
		old.destroy("connection replaced")
	}
	s.notifyLocked()
}

// disconnectPeerLocked is DisconnectWebSocketPeer: ignored unless p is the
// session's current socket; delayed schedules the real disconnect after
// DelayedDisconnect (cancelled by a reconnect); otherwise the session is
// marked disconnected, loses host if it had it (control/host broadcast),
// protected controls lock when the last admin leaves, and session/state is
// broadcast (internal/websocket/handler/session.go SessionDisconnected).
func (s *Server) disconnectPeerLocked(sess *session, p *peer, delayed bool) {
	if p == nil || sess.peer != p || sess.gone {
		return
	}
	sess.cancelDelayed()
	if delayed {
		if !s.live {
			return
		}
		cancel := make(chan struct{})
		sess.delayed = cancel
		s.wg.Add(1)
		go s.delayedDisconnect(sess, p, cancel)
		s.log.Info("delayed websocket disconnect", "session_id", sess.id)
		return
	}

	now := time.Now()
	sess.state.IsConnected = false
	sess.state.ConnectedSince = nil
	sess.state.NotConnectedSince = &now
	if sess.profile.IsAdmin {
		s.totalAdmins--
		if s.totalAdmins <= 0 {
			s.totalAdmins = 0
			s.lastAdminLeftAt = &now
		}
	} else {
		s.totalUsers--
		if s.totalUsers <= 0 {
			s.totalUsers = 0
			s.lastUserLeftAt = &now
		}
	}
	s.log.Info("set websocket disconnected", "session_id", sess.id)

	if s.isHostLocked(sess) {
		s.setHostLocked(sess, nil)
	}
	if sess.profile.IsAdmin && s.settings.ControlProtection && !s.settings.LockedControls && !s.adminConnectedLocked(sess.id) {
		old := s.settings
		s.settings.LockedControls = true
		s.updateSettingsLocked(sess, s.settings, old)
	}
	s.broadcastLocked(neko.EventSessionState, neko.SessionStateUpdate{ID: sess.id, SessionState: sess.state}, "")
	sess.peer = nil
	s.notifyLocked()
}

func (s *Server) delayedDisconnect(sess *session, p *peer, cancel chan struct{}) {
	defer s.wg.Done()
	t := time.NewTimer(s.opts.DelayedDisconnect)
	defer t.Stop()
	select {
	case <-cancel:
		return
	case <-t.C:
	}
	defer s.hold("")()
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-cancel:
		return // cancelled while we waited for the lock (or a pause)
	default:
	}
	sess.delayed = nil
	s.disconnectPeerLocked(sess, p, false)
}

// destroyPeerLocked is DestroyWebSocketPeer: disconnect at once, then send
// system/disconnect and drop the socket.
func (s *Server) destroyPeerLocked(sess *session, reason string) {
	p := sess.peer
	if p == nil {
		return
	}
	s.disconnectPeerLocked(sess, p, false)
	p.destroy(reason)
}

// systemInitLocked builds system/init (internal/websocket/handler/system.go
// systemInit); control_host.id is always "".
func (s *Server) systemInitLocked(sess *session) neko.SystemInit {
	msg := neko.SystemInit{
		SessionID:         sess.id,
		ScreenSize:        s.opts.ScreenSize,
		Sessions:          make(map[string]neko.SessionData, len(s.sessions)),
		Settings:          s.settings,
		ScreencastEnabled: s.opts.ScreencastEnabled,
		WebRTC:            neko.SystemWebRTC{Videos: []string{"main"}},
	}
	if h, ok := s.getHostLocked(); ok {
		msg.ControlHost.HasHost, msg.ControlHost.HostID = true, h.id
	}
	for id, other := range s.sessions {
		msg.Sessions[id] = other.data()
	}
	return msg
}

// ---- sending ----

func (s *Server) sendLocked(sess *session, event string, payload any) {
	if sess.peer == nil {
		return
	}
	frame, err := encodeFrame(event, payload)
	if err != nil {
		s.log.Error("message marshalling has failed", "event", event, "err", err)
		return
	}
	sess.peer.send(frame)
}

// broadcastLocked sends to every connected session except the one excluded
// (internal/session/manager.go Broadcast).
func (s *Server) broadcastLocked(event string, payload any, exclude string) {
	frame, err := encodeFrame(event, payload)
	if err != nil {
		s.log.Error("message marshalling has failed", "event", event, "err", err)
		return
	}
	for _, other := range s.sessions {
		if !other.state.IsConnected || other.id == exclude || other.peer == nil {
			continue
		}
		other.peer.send(frame)
	}
}
