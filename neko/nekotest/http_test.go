package nekotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/codrive/codrive/neko"
)

func TestHealth(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	rest := newREST(t, s)
	res := rest.do(http.MethodGet, "/health", nil, nil)
	if res.code != http.StatusOK || string(res.body) != "true" {
		t.Fatalf("GET /health: %s", res)
	}
	if res := rest.do(http.MethodPost, "/health", nil, nil); res.code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /health: %s, want 405", res)
	}
}

func TestUnknownRoute404(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	rest := newREST(t, s)
	for _, p := range []string{"/nope", "/api/nope", "/api"} {
		if res := rest.do(http.MethodGet, p, nil, nil); res.code != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", p, res)
		}
	}
	// Inside a mounted router authentication runs first, as with chi.
	if res := rest.do(http.MethodGet, "/api/room/nope", nil, nil); res.code != http.StatusUnauthorized {
		t.Errorf("GET /api/room/nope without token: %s, want 401", res)
	}
	u := loginUser(t, s, "u")
	u.mustCall(http.MethodGet, "/api/room/nope", nil, http.StatusNotFound)
	u.mustCall(http.MethodGet, "/api/logout", nil, http.StatusMethodNotAllowed)
}

var sessionIDPattern = regexp.MustCompile(`^alice-[_\-0-9a-zA-Z]{5}$`)

func TestLoginUserProfile(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u := loginUser(t, s, "alice")
	if !sessionIDPattern.MatchString(u.ID) {
		t.Errorf("id %q is not USERNAME-XXXXX", u.ID)
	}
	if len(u.Token) != 64 {
		t.Errorf("token length %d, want 64", len(u.Token))
	}
	want := neko.MemberProfile{
		Name: "alice", CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true,
		CanShareMedia: true, CanAccessClipboard: true, SendsInactiveCursor: true,
	}
	if !profileEqual(u.Profile, want) {
		t.Errorf("user profile %+v, want %+v", u.Profile, want)
	}
	if u.State.IsConnected {
		t.Error("new session reported connected")
	}
}

func TestLoginAdminProfile(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a := loginAdmin(t, s, "alice")
	want := neko.MemberProfile{
		Name: "alice", IsAdmin: true, CanLogin: true, CanConnect: true, CanWatch: true, CanHost: true,
		CanShareMedia: true, CanAccessClipboard: true, SendsInactiveCursor: true, CanSeeInactiveCursors: true,
	}
	if !profileEqual(a.Profile, want) {
		t.Errorf("admin profile %+v, want %+v", a.Profile, want)
	}
}

func profileEqual(a, b neko.MemberProfile) bool {
	a.Plugins, b.Plugins = nil, nil
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func TestLoginSameNameTwiceIsTwoSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a, b := loginUser(t, s, "bob"), loginUser(t, s, "bob")
	if a.ID == b.ID || a.Token == b.Token {
		t.Fatalf("two logins share id or token: %s %s", a.ID, b.ID)
	}
	if n := len(s.Sessions()); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
}

func TestLoginWrongPassword(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	res := newREST(t, s).do(http.MethodPost, "/api/login", neko.LoginRequest{Username: "x", Password: "wrong"}, nil)
	if res.code != http.StatusUnauthorized || string(bytes.TrimSpace(res.body)) != `{"code":401,"message":"Unauthorized"}` {
		t.Fatalf("wrong password: %s", res)
	}
}

func TestLoginCustomPasswords(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.UserPassword, opts.AdminPassword = "u-secret", "a-secret"
	s := startServer(t, opts)
	if u := login(t, s, "u", "u-secret"); u.Profile.IsAdmin {
		t.Error("user password gave admin")
	}
	if a := login(t, s, "a", "a-secret"); !a.Profile.IsAdmin {
		t.Error("admin password gave user")
	}
	if res := newREST(t, s).do(http.MethodPost, "/api/login", neko.LoginRequest{Username: "x", Password: "neko"}, nil); res.code != http.StatusUnauthorized {
		t.Errorf("default password still accepted: %s", res)
	}
}

func TestLoginBadBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	rest := newREST(t, s)
	for body, msg := range map[string]string{"": "no data provided", "{": "unable to parse provided data", "[1]": "unable to parse provided data"} {
		res := rest.do(http.MethodPost, "/api/login", body, nil)
		if res.code != http.StatusBadRequest || res.errorBody(t).Message != msg {
			t.Errorf("body %q: %s, want 400 %q", body, res, msg)
		}
	}
}

func TestLoginLockedLogins(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.LockedLogins = true
	})
	res := newREST(t, s).do(http.MethodPost, "/api/login", neko.LoginRequest{Username: "u", Password: "neko"}, nil)
	if res.code != http.StatusForbidden || res.errorBody(t).Message != "logins are locked" {
		t.Fatalf("user login with locked logins: %s", res)
	}
	loginAdmin(t, s, "a") // admins still get in
}

// With multiuser ids are random, so the id collision of member/manager.go
// Login is forced through the id generator.
func TestLoginSameIDConnectedIs422(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.newUID = fixedSuffix()
	s := startServer(t, opts)
	first := loginUser(t, s, "dup")
	first.dialInit()
	waitState(t, s, "connected", func(st State) bool {
		d, ok := st.Session(first.ID)
		return ok && d.State.IsConnected
	})
	res := newREST(t, s).do(http.MethodPost, "/api/login", neko.LoginRequest{Username: "dup", Password: "neko"}, nil)
	if res.code != http.StatusUnprocessableEntity || res.errorBody(t).Message != "session already connected" {
		t.Fatalf("second login: %s", res)
	}
}

func TestLoginSameIDDisconnectedReplaces(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.newUID = fixedSuffix()
	s := startServer(t, opts)
	watcher := loginAdmin(t, s, "watcher")
	w := watcher.dialInit()
	w.expect(neko.EventSessionState)

	first := loginUser(t, s, "dup")
	w.expect(neko.EventSessionCreated)
	second := loginUser(t, s, "dup")
	if second.ID != first.ID || second.Token == first.Token {
		t.Fatalf("replacement: id %s->%s", first.ID, second.ID)
	}
	if got := expectPayload[neko.SessionID](w, neko.EventSessionDeleted); got.ID != first.ID {
		t.Fatalf("session/deleted for %s", got.ID)
	}
	if got := expectPayload[neko.SessionData](w, neko.EventSessionCreated); got.ID != first.ID {
		t.Fatalf("session/created for %s", got.ID)
	}
	first.mustCall(http.MethodGet, "/api/whoami", nil, http.StatusUnauthorized)
	second.mustCall(http.MethodGet, "/api/whoami", nil, http.StatusOK)
}

// fixedSuffix makes session ids predictable (USERNAME-AAAAA) while tokens
// stay unique.
func fixedSuffix() func(int) (string, error) {
	return func(n int) (string, error) {
		if n == 5 {
			return "AAAAA", nil
		}
		return newUID(n)
	}
}

func TestAuthMissingOrUnknownToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	rest := newREST(t, s)
	for name, edit := range map[string]func(*http.Request){
		"none":           nil,
		"unknown bearer": bearer("nope"),
		"unknown query":  func(r *http.Request) { r.URL.RawQuery = "token=nope" },
		"not bearer":     func(r *http.Request) { r.Header.Set("Authorization", "Basic abc") },
	} {
		res := rest.do(http.MethodGet, "/api/whoami", nil, edit)
		if res.code != http.StatusUnauthorized || res.errorBody(t).Message != "Unauthorized" {
			t.Errorf("%s: %s, want 401", name, res)
		}
	}
}

func TestAuthOrderHeaderBeforeQuery(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a, b := loginUser(t, s, "a"), loginUser(t, s, "b")
	res := a.rest.do(http.MethodGet, "/api/whoami?token="+b.Token, nil, bearer(a.Token))
	var who neko.LoginResponse
	if err := json.Unmarshal(res.body, &who); err != nil || who.ID != a.ID {
		t.Fatalf("whoami with header a and query b: %s", res)
	}
	// A bad header wins over a good query token.
	if res := a.rest.do(http.MethodGet, "/api/whoami?token="+b.Token, nil, bearer("bad")); res.code != http.StatusUnauthorized {
		t.Fatalf("bad header, good query: %s, want 401", res)
	}
	// The query alone works.
	if res := a.rest.do(http.MethodGet, "/api/whoami?token="+b.Token, nil, nil); res.code != http.StatusOK {
		t.Fatalf("query token: %s", res)
	}
}

func TestCookieMode(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.CookieEnabled = true
	s := startServer(t, opts)
	rest := newREST(t, s)
	res := rest.do(http.MethodPost, "/api/login", neko.LoginRequest{Username: "c", Password: "neko"}, nil)
	if res.code != http.StatusOK {
		t.Fatalf("login: %s", res)
	}
	if bytes.Contains(res.body, []byte(`"token"`)) {
		t.Fatalf("token in body with cookies on: %s", res.body)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == neko.CookieName {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value == "" || !cookie.HttpOnly {
		t.Fatalf("no usable %s cookie in %v", neko.CookieName, res.header)
	}
	// neko's defaults: session.cookie.secure (hence SameSite=None) and http_only.
	if !cookie.Secure || cookie.SameSite != http.SameSiteNoneMode {
		t.Fatalf("cookie attributes: want Secure; SameSite=None, got %q", res.header.Get("Set-Cookie"))
	}
	withCookie := func(value string) func(*http.Request) {
		return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: neko.CookieName, Value: value}) }
	}
	if res := rest.do(http.MethodGet, "/api/whoami", nil, withCookie(cookie.Value)); res.code != http.StatusOK {
		t.Fatalf("whoami with cookie: %s", res)
	}
	// The cookie is looked at first: a bad cookie is 401 even with a good
	// header, and the bad cookie is cleared.
	res = rest.do(http.MethodGet, "/api/whoami", nil, func(r *http.Request) {
		withCookie("bad")(r)
		bearer(cookie.Value)(r)
	})
	if res.code != http.StatusUnauthorized || !strings.Contains(res.header.Get("Set-Cookie"), neko.CookieName+"=;") {
		t.Fatalf("bad cookie + good header: %s, Set-Cookie %q", res, res.header.Get("Set-Cookie"))
	}
	// The header still works without a cookie.
	if res := rest.do(http.MethodGet, "/api/whoami", nil, bearer(cookie.Value)); res.code != http.StatusOK {
		t.Fatalf("header without cookie: %s", res)
	}
	// The WebSocket accepts the cookie.
	c := dialWS(t, s, "", http.Header{"Cookie": {neko.CookieName + "=" + cookie.Value}})
	c.expect(neko.EventSystemInit)
	// Logout clears the cookie.
	res = rest.do(http.MethodPost, "/api/logout", nil, withCookie(cookie.Value))
	if res.code != http.StatusOK || !strings.Contains(res.header.Get("Set-Cookie"), neko.CookieName+"=;") {
		t.Fatalf("logout: %s, Set-Cookie %q", res, res.header.Get("Set-Cookie"))
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	watcher := loginUser(t, s, "w")
	w := watcher.dialInit()
	w.expect(neko.EventSessionState)
	u := loginUser(t, s, "u")
	w.expect(neko.EventSessionCreated)
	c := u.dialInit()
	c.expect(neko.EventSessionState)
	w.expect(neko.EventSessionState)

	res := u.mustCall(http.MethodPost, "/api/logout", nil, http.StatusOK)
	if string(bytes.TrimSpace(res.body)) != "true" {
		t.Fatalf("logout body %q", res.body)
	}
	if got := expectPayload[neko.SystemDisconnect](c, neko.EventSystemDisconnect); got.Message != "session deleted" {
		t.Fatalf("logged-out socket got %q", got.Message)
	}
	c.expectDropped()
	st := expectPayload[neko.SessionStateUpdate](w, neko.EventSessionState)
	if st.ID != u.ID || st.IsConnected {
		t.Fatalf("session/state after logout: %+v", st)
	}
	if got := expectPayload[neko.SessionID](w, neko.EventSessionDeleted); got.ID != u.ID {
		t.Fatalf("session/deleted for %s", got.ID)
	}
	u.mustCall(http.MethodGet, "/api/whoami", nil, http.StatusUnauthorized)
	u.mustCall(http.MethodPost, "/api/logout", nil, http.StatusUnauthorized)
}

func TestWhoamiStatsSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	var who neko.LoginResponse
	if err := json.Unmarshal(u.mustCall(http.MethodGet, "/api/whoami", nil, http.StatusOK).body, &who); err != nil {
		t.Fatal(err)
	}
	if who.ID != u.ID || who.Token != "" || who.Profile.Name != "u" {
		t.Fatalf("whoami: %+v", who)
	}

	c := a.dialInit()
	c.expect(neko.EventSessionState)
	u.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	var stats neko.Stats
	if err := json.Unmarshal(u.mustCall(http.MethodGet, "/api/stats", nil, http.StatusOK).body, &stats); err != nil {
		t.Fatal(err)
	}
	if !stats.HasHost || stats.HostID != u.ID || stats.TotalAdmins != 1 || stats.TotalUsers != 0 || stats.ServerStartedAt.IsZero() {
		t.Fatalf("stats: %+v", stats)
	}

	var list []neko.SessionData
	if err := json.Unmarshal(u.mustCall(http.MethodGet, "/api/sessions", nil, http.StatusOK).body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("sessions: %+v", list)
	}
	// Reading one session is for admins.
	u.mustCall(http.MethodGet, "/api/sessions/"+a.ID, nil, http.StatusForbidden)
	a.mustCall(http.MethodGet, "/api/sessions/"+u.ID, nil, http.StatusOK)
	a.mustCall(http.MethodGet, "/api/sessions/nope", nil, http.StatusNotFound)
}

func TestAdminDisconnectAndDeleteSession(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a, u := loginAdmin(t, s, "a"), loginUser(t, s, "u")
	c := u.dialInit()
	c.expect(neko.EventSessionState)
	a.mustCall(http.MethodPost, "/api/sessions/"+u.ID+"/disconnect", nil, http.StatusNoContent)
	if got := expectPayload[neko.SystemDisconnect](c, neko.EventSystemDisconnect); got.Message != "session disconnected" {
		t.Fatalf("disconnect reason %q", got.Message)
	}
	c.expectDropped()
	if res := a.call(http.MethodDelete, "/api/sessions/"+a.ID, nil); res.code != http.StatusBadRequest || res.errorBody(t).Message != "cannot delete own session" {
		t.Fatalf("delete own: %s", res)
	}
	a.mustCall(http.MethodDelete, "/api/sessions/"+u.ID, nil, http.StatusNoContent)
	u.mustCall(http.MethodGet, "/api/whoami", nil, http.StatusUnauthorized)
	if res := a.call(http.MethodDelete, "/api/sessions/"+u.ID, nil); res.code != http.StatusBadRequest || res.errorBody(t).Message != "session not found" {
		t.Fatalf("delete again: %s", res)
	}
}

// ---- room control over REST ----

func controlStatus(t *testing.T, u *user) neko.ControlStatus {
	t.Helper()
	var st neko.ControlStatus
	if err := json.Unmarshal(u.mustCall(http.MethodGet, "/api/room/control", nil, http.StatusOK).body, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRESTControlRequestNoHost(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	w := loginUser(t, s, "w")
	wc := w.dialInit()
	wc.expect(neko.EventSessionState)
	u := loginUser(t, s, "u")
	wc.expect(neko.EventSessionCreated)

	if st := controlStatus(t, u); st.HasHost || st.HostID != "" {
		t.Fatalf("initial control: %+v", st)
	}
	if res := u.call(http.MethodGet, "/api/room/control", nil); bytes.Contains(res.body, []byte("host_id")) {
		t.Fatalf("host_id present without host: %s", res.body)
	}
	u.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	got := expectPayload[neko.ControlHost](wc, neko.EventControlHost)
	if got != (neko.ControlHost{ID: u.ID, HasHost: true, HostID: u.ID}) {
		t.Fatalf("control/host: %+v", got)
	}
	if st := controlStatus(t, w); !st.HasHost || st.HostID != u.ID {
		t.Fatalf("control after request: %+v", st)
	}
}

func TestRESTControlRequestWhenHostedIs202(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.ImplicitHosting = true // REST never takes, even with implicit hosting
	})
	h := loginUser(t, s, "h")
	hc := h.dialInit()
	hc.expect(neko.EventSessionState)
	h.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	hc.expect(neko.EventControlHost)

	v := loginUser(t, s, "v")
	hc.expect(neko.EventSessionCreated)
	res := v.call(http.MethodPost, "/api/room/control/request", nil)
	if res.code != http.StatusAccepted || string(bytes.TrimSpace(res.body)) != `{"code":202,"message":"control request sent"}` {
		t.Fatalf("request while hosted: %s", res)
	}
	if got := expectPayload[neko.SessionID](hc, neko.EventControlRequest); got.ID != v.ID {
		t.Fatalf("control/request names %s", got.ID)
	}
	if host, _ := s.Host(); host != h.ID {
		t.Fatalf("host changed to %s", host)
	}
}

func TestRESTControlRequestByHostNotifiesItself(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h := loginUser(t, s, "h")
	hc := h.dialInit()
	hc.expect(neko.EventSessionState)
	h.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	hc.expect(neko.EventControlHost)
	h.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusAccepted)
	if got := expectPayload[neko.SessionID](hc, neko.EventControlRequest); got.ID != h.ID {
		t.Fatalf("self control/request names %s", got.ID)
	}
	hc.silent()
}

func TestRESTControlRequestLockedControls(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.LockedControls = true
	})
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	if res := u.call(http.MethodPost, "/api/room/control/request", nil); res.code != http.StatusForbidden || res.errorBody(t).Message != "controls are locked" {
		t.Fatalf("user request with locked controls: %s", res)
	}
	a.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	waitHost(t, s, a.ID)
}

func TestRESTControlRelease(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h, o := loginUser(t, s, "h"), loginUser(t, s, "o")
	oc := o.dialInit()
	oc.expect(neko.EventSessionState)
	if res := h.call(http.MethodPost, "/api/room/control/release", nil); res.code != http.StatusUnprocessableEntity || res.errorBody(t).Message != "session is not the host" {
		t.Fatalf("release without being host: %s", res)
	}
	h.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	oc.expect(neko.EventControlHost)
	o.mustCall(http.MethodPost, "/api/room/control/release", nil, http.StatusUnprocessableEntity)
	h.mustCall(http.MethodPost, "/api/room/control/release", nil, http.StatusNoContent)
	got := expectPayload[neko.ControlHost](oc, neko.EventControlHost)
	if got != (neko.ControlHost{ID: h.ID}) {
		t.Fatalf("control/host after release: %+v", got)
	}
}

func TestRESTControlTake(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	if res := u.call(http.MethodPost, "/api/room/control/take", nil); res.code != http.StatusForbidden || res.errorBody(t).Message != "session is not admin" {
		t.Fatalf("user take: %s", res)
	}
	u.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	ac.expect(neko.EventControlHost)
	a.mustCall(http.MethodPost, "/api/room/control/take", nil, http.StatusNoContent)
	if got := expectPayload[neko.ControlHost](ac, neko.EventControlHost); got != (neko.ControlHost{ID: a.ID, HasHost: true, HostID: a.ID}) {
		t.Fatalf("take: %+v", got)
	}
	// Taking again while already host broadcasts again.
	a.mustCall(http.MethodPost, "/api/room/control/take", nil, http.StatusNoContent)
	if got := expectPayload[neko.ControlHost](ac, neko.EventControlHost); got != (neko.ControlHost{ID: a.ID, HasHost: true, HostID: a.ID}) {
		t.Fatalf("second take: %+v", got)
	}
}

func TestRESTControlGive(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	h, o, a := loginUser(t, s, "h"), loginUser(t, s, "o"), loginAdmin(t, s, "a")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	h.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	ac.expect(neko.EventControlHost)

	if res := o.call(http.MethodPost, "/api/room/control/give/"+o.ID, nil); res.code != http.StatusForbidden || res.errorBody(t).Message != "session is not host or admin" {
		t.Fatalf("give by bystander: %s", res)
	}
	if res := h.call(http.MethodPost, "/api/room/control/give/nope", nil); res.code != http.StatusNotFound || res.errorBody(t).Message != "target session was not found" {
		t.Fatalf("give to unknown: %s", res)
	}
	h.mustCall(http.MethodPost, "/api/room/control/give/"+o.ID, nil, http.StatusNoContent)
	if got := expectPayload[neko.ControlHost](ac, neko.EventControlHost); got != (neko.ControlHost{ID: h.ID, HasHost: true, HostID: o.ID}) {
		t.Fatalf("give by host: %+v", got)
	}
	// An admin may give without hosting.
	a.mustCall(http.MethodPost, "/api/room/control/give/"+h.ID, nil, http.StatusNoContent)
	if got := expectPayload[neko.ControlHost](ac, neko.EventControlHost); got != (neko.ControlHost{ID: a.ID, HasHost: true, HostID: h.ID}) {
		t.Fatalf("give by admin: %+v", got)
	}

	// A target that cannot host is refused: an admin drops its own can_host.
	noHost := loginAdmin(t, s, "nohost")
	p := noHost.Profile
	p.CanHost = false
	noHost.mustCall(http.MethodPost, "/api/profile", p, http.StatusOK)
	if res := a.call(http.MethodPost, "/api/room/control/give/"+noHost.ID, nil); res.code != http.StatusBadRequest || res.errorBody(t).Message != "target session is not allowed to host" {
		t.Fatalf("give to non-host: %s", res)
	}
	// And such a session cannot use the control endpoints at all.
	if res := noHost.call(http.MethodGet, "/api/room/control", nil); res.code != http.StatusForbidden || res.errorBody(t).Message != "session cannot host" {
		t.Fatalf("control status without can_host: %s", res)
	}
}

func TestRESTControlReset(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	// Without a host reset does nothing.
	a.mustCall(http.MethodPost, "/api/room/control/reset", nil, http.StatusNoContent)
	ac.silent()
	u.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	ac.expect(neko.EventControlHost)
	if res := u.call(http.MethodPost, "/api/room/control/reset", nil); res.code != http.StatusForbidden || res.errorBody(t).Message != "session is not admin" {
		t.Fatalf("user reset: %s", res)
	}
	a.mustCall(http.MethodPost, "/api/room/control/reset", nil, http.StatusNoContent)
	if got := expectPayload[neko.ControlHost](ac, neko.EventControlHost); got != (neko.ControlHost{ID: a.ID}) {
		t.Fatalf("reset broadcast: %+v, want the admin as id", got)
	}
}

func TestRESTControlPrivateMode(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.PrivateMode = true
	})
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	if res := u.call(http.MethodGet, "/api/room/control", nil); res.code != http.StatusUnprocessableEntity || res.errorBody(t).Message != "private mode is enabled" {
		t.Fatalf("user control in private mode: %s", res)
	}
	a.mustCall(http.MethodGet, "/api/room/control", nil, http.StatusOK)
}

// A host with no socket that logs out leaves REST showing no host, and no
// control/host is broadcast.
func TestLogoutOfRESTOnlyHostIsSilent(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	w := loginUser(t, s, "w")
	wc := w.dialInit()
	wc.expect(neko.EventSessionState)
	h := loginUser(t, s, "h")
	wc.expect(neko.EventSessionCreated)
	h.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	wc.expect(neko.EventControlHost)

	h.mustCall(http.MethodPost, "/api/logout", nil, http.StatusOK)
	wc.expect(neko.EventSessionDeleted)
	wc.silent()
	if st := controlStatus(t, w); st.HasHost {
		t.Fatalf("REST still shows host: %+v", st)
	}
	// The stale host id does not block the next request.
	w.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
}

// ---- settings ----

func TestSettingsAdminOnly(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u := loginUser(t, s, "u")
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if res := u.call(m, "/api/room/settings", `{}`); res.code != http.StatusForbidden || res.errorBody(t).Message != "session is not admin" {
			t.Errorf("%s settings as user: %s", m, res)
		}
	}
}

func TestSettingsPartialMerge(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a := loginAdmin(t, s, "a")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	a.mustCall(http.MethodPost, "/api/room/settings", `{"implicit_hosting":true}`, http.StatusNoContent)
	got := expectPayload[neko.SystemSettingsUpdate](ac, neko.EventSystemSettings)
	want := neko.DefaultSettings()
	want.ImplicitHosting = true
	if got.ID != a.ID || !settingsEqual(got.Settings, want) {
		t.Fatalf("system/settings: %+v", got)
	}
	var cur neko.Settings
	if err := json.Unmarshal(a.mustCall(http.MethodGet, "/api/room/settings", nil, http.StatusOK).body, &cur); err != nil {
		t.Fatal(err)
	}
	if !settingsEqual(cur, want) {
		t.Fatalf("GET settings %+v, want %+v", cur, want)
	}
	// Posting the same again still broadcasts.
	a.mustCall(http.MethodPost, "/api/room/settings", `{"implicit_hosting":true}`, http.StatusNoContent)
	if got := expectPayload[neko.SystemSettingsUpdate](ac, neko.EventSystemSettings); !settingsEqual(got.Settings, want) {
		t.Fatalf("unchanged settings broadcast: %+v", got)
	}
}

func settingsEqual(a, b neko.Settings) bool {
	return reflect.DeepEqual(a.Plugins, b.Plugins) &&
		a.PrivateMode == b.PrivateMode && a.LockedLogins == b.LockedLogins &&
		a.LockedControls == b.LockedControls && a.ControlProtection == b.ControlProtection &&
		a.ImplicitHosting == b.ImplicitHosting && a.InactiveCursors == b.InactiveCursors &&
		a.MercifulReconnect == b.MercifulReconnect && a.HeartbeatInterval == b.HeartbeatInterval
}

func TestSettingsBadJSON(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a := loginAdmin(t, s, "a")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	for _, body := range []string{"", "{", `{"private_mode":"yes","locked_controls":true}`} {
		res := a.call(http.MethodPost, "/api/room/settings", body)
		if res.code != http.StatusBadRequest || res.errorBody(t).Message != "unable to parse provided data" {
			t.Errorf("body %q: %s", body, res)
		}
	}
	ac.silent()
	if !settingsEqual(s.Settings(), neko.DefaultSettings()) {
		t.Fatalf("settings changed by bad bodies: %+v", s.Settings())
	}
}

func TestSettingsLockedControlsClearsUserHostFirst(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	u.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	ac.expect(neko.EventControlHost)
	a.mustCall(http.MethodPost, "/api/room/settings", `{"locked_controls":true}`, http.StatusNoContent)
	if got := expectPayload[neko.ControlHost](ac, neko.EventControlHost); got != (neko.ControlHost{ID: a.ID}) {
		t.Fatalf("control/host before settings: %+v", got)
	}
	if got := expectPayload[neko.SystemSettingsUpdate](ac, neko.EventSystemSettings); !got.LockedControls {
		t.Fatalf("settings: %+v", got)
	}
	// An admin host keeps control when controls are locked.
	a.mustCall(http.MethodPost, "/api/room/settings", `{"locked_controls":false}`, http.StatusNoContent)
	ac.expect(neko.EventSystemSettings)
	a.mustCall(http.MethodPost, "/api/room/control/take", nil, http.StatusNoContent)
	ac.expect(neko.EventControlHost)
	a.mustCall(http.MethodPost, "/api/room/settings", `{"locked_controls":true}`, http.StatusNoContent)
	ac.expect(neko.EventSystemSettings)
	if host, _ := s.Host(); host != a.ID {
		t.Fatalf("admin host lost control: %q", host)
	}
}

func TestSettingsPrivateModeClearsUserHost(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	u.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	ac.expect(neko.EventControlHost)
	a.mustCall(http.MethodPost, "/api/room/settings", `{"private_mode":true}`, http.StatusNoContent)
	if got := expectPayload[neko.ControlHost](ac, neko.EventControlHost); got != (neko.ControlHost{ID: a.ID}) {
		t.Fatalf("control/host: %+v", got)
	}
	ac.expect(neko.EventSystemSettings)
}

func TestSetSettingsKnob(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u := loginUser(t, s, "u")
	uc := u.dialInit()
	uc.expect(neko.EventSessionState)
	st := neko.DefaultSettings()
	st.ImplicitHosting = true
	s.SetSettings(st)
	got := expectPayload[neko.SystemSettingsUpdate](uc, neko.EventSystemSettings)
	if got.ID != "" || !got.ImplicitHosting {
		t.Fatalf("system/settings from SetSettings: %+v", got)
	}
	if !s.Settings().ImplicitHosting {
		t.Fatal("Settings() not updated")
	}
}

// ---- control_protection (internal/websocket/handler/session.go) ----

func TestControlProtection(t *testing.T) {
	t.Parallel()
	s := startWithSettings(t, func(st *neko.Settings) {
		st.ControlProtection = true
	})
	if !s.Settings().LockedControls {
		t.Fatal("control_protection does not start with controls locked")
	}
	u := loginUser(t, s, "u")
	uc := u.dialInit()
	uc.expect(neko.EventSessionState)

	a := loginAdmin(t, s, "a")
	uc.expect(neko.EventSessionCreated)
	ac := a.dialInit()
	got := expectPayload[neko.SystemSettingsUpdate](uc, neko.EventSystemSettings)
	if got.ID != a.ID || got.LockedControls {
		t.Fatalf("admin arrival: %+v", got)
	}
	uc.expect(neko.EventSessionState)
	ac.expect(neko.EventSystemSettings)
	ac.expect(neko.EventSessionState)

	ac.closeWith(1000)
	got = expectPayload[neko.SystemSettingsUpdate](uc, neko.EventSystemSettings)
	if got.ID != a.ID || !got.LockedControls {
		t.Fatalf("last admin left: %+v", got)
	}
	uc.expect(neko.EventSessionState)
}

func TestControlProtectionTurnedOnWithoutAdminLocks(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	a, u := loginAdmin(t, s, "a"), loginUser(t, s, "u")
	uc := u.dialInit()
	uc.expect(neko.EventSessionState)
	u.mustCall(http.MethodPost, "/api/room/control/request", nil, http.StatusNoContent)
	uc.expect(neko.EventControlHost)
	// The admin posts over REST without a socket: no admin is connected.
	a.mustCall(http.MethodPost, "/api/room/settings", `{"control_protection":true}`, http.StatusNoContent)
	if got := expectPayload[neko.ControlHost](uc, neko.EventControlHost); got.HasHost {
		t.Fatalf("user host kept: %+v", got)
	}
	if got := expectPayload[neko.SystemSettingsUpdate](uc, neko.EventSystemSettings); !got.LockedControls || !got.ControlProtection {
		t.Fatalf("settings: %+v", got)
	}
}

// ---- screen ----

func TestScreenCastDisabled(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	u := loginUser(t, s, "u")
	if res := u.call(http.MethodGet, "/api/room/screen/cast.jpg", nil); res.code != http.StatusBadRequest || res.errorBody(t).Message != "screencast pipeline is not enabled" {
		t.Fatalf("cast.jpg disabled: %s", res)
	}
}

func TestScreenCastAndShot(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.ScreencastEnabled = true
	opts.ScreenSize = neko.ScreenSize{Width: 320, Height: 200, Rate: 25}
	s := startServer(t, opts)
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	checkJPEG := func(res response) {
		t.Helper()
		if res.header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("content type %q", res.header.Get("Content-Type"))
		}
		img, err := jpeg.Decode(bytes.NewReader(res.body))
		if err != nil {
			t.Fatalf("not a JPEG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 200 {
			t.Fatalf("image %v, want 320x200", b)
		}
	}
	checkJPEG(u.mustCall(http.MethodGet, "/api/room/screen/cast.jpg", nil, http.StatusOK))
	if res := u.call(http.MethodGet, "/api/room/screen/shot.jpg", nil); res.code != http.StatusForbidden || res.errorBody(t).Message != "session is not admin" {
		t.Fatalf("shot.jpg as user: %s", res)
	}
	checkJPEG(a.mustCall(http.MethodGet, "/api/room/screen/shot.jpg?quality=10", nil, http.StatusOK))
	var size neko.ScreenSize
	if err := json.Unmarshal(u.mustCall(http.MethodGet, "/api/room/screen", nil, http.StatusOK).body, &size); err != nil || size != opts.ScreenSize {
		t.Fatalf("screen size %+v %v", size, err)
	}
	u.mustCall(http.MethodGet, "/api/room/screen/cast.jpg", nil, http.StatusOK)
	u.mustCall(http.MethodGet, "/api/room/screen/cast.jpg", nil, http.StatusOK)
}

func TestScreenCastPrivateMode(t *testing.T) {
	t.Parallel()
	opts := quiet()
	st := neko.DefaultSettings()
	st.PrivateMode = true
	opts.Settings = &st
	opts.ScreenSize = neko.ScreenSize{Width: 64, Height: 48, Rate: 30}
	s := startServer(t, opts)
	u, a := loginUser(t, s, "u"), loginAdmin(t, s, "a")
	// Private mode from the start has no fallback image.
	if res := u.call(http.MethodGet, "/api/room/screen/cast.jpg", nil); res.code != http.StatusBadRequest || res.errorBody(t).Message != "private mode is enabled but no fallback image available" {
		t.Fatalf("cast.jpg in initial private mode: %s", res)
	}
	// Switching it on while running captures one, served even though the
	// screencast itself is disabled.
	a.mustCall(http.MethodPost, "/api/room/settings", `{"private_mode":false}`, http.StatusNoContent)
	a.mustCall(http.MethodPost, "/api/room/settings", `{"private_mode":true}`, http.StatusNoContent)
	u.mustCall(http.MethodGet, "/api/room/screen/cast.jpg", nil, http.StatusOK)
	// Admins are not affected by private mode.
	a.mustCall(http.MethodGet, "/api/room/screen/cast.jpg", nil, http.StatusBadRequest)
}

func TestProfileUpdateBroadcasts(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	w, u := loginUser(t, s, "w"), loginUser(t, s, "u")
	wc := w.dialInit()
	wc.expect(neko.EventSessionState)
	p := u.Profile
	p.Name, p.IsAdmin = "renamed", true // a user may only change the name
	u.mustCall(http.MethodPost, "/api/profile", p, http.StatusOK)
	got := expectPayload[neko.SessionProfileUpdate](wc, neko.EventSessionProfile)
	if got.ID != u.ID || got.Name != "renamed" || got.IsAdmin {
		t.Fatalf("session/profile: %+v", got)
	}
}

func TestCORSOriginsREST(t *testing.T) {
	t.Parallel()
	opts := quiet()
	opts.AllowedOrigins = []string{"http://good.example"}
	s := startServer(t, opts)
	rest := newREST(t, s)
	res := rest.do(http.MethodGet, "/health", nil, func(r *http.Request) { r.Header.Set("Origin", "http://good.example") })
	if res.header.Get("Access-Control-Allow-Origin") != "http://good.example" || res.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("allowed origin headers: %v", res.header)
	}
	res = rest.do(http.MethodGet, "/health", nil, func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") })
	if res.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("evil origin allowed: %v", res.header)
	}
	res = rest.do(http.MethodOptions, "/api/login", nil, func(r *http.Request) {
		r.Header.Set("Origin", "http://good.example")
		r.Header.Set("Access-Control-Request-Method", "POST")
	})
	if res.code != http.StatusOK || res.header.Get("Access-Control-Allow-Methods") != "POST" {
		t.Fatalf("preflight: %s %v", res, res.header)
	}
}

// internal/session/session.go profileChanged: losing can_host drops control,
// losing can_connect drops the socket.
func TestProfileChangeSideEffects(t *testing.T) {
	t.Parallel()
	s := startServer(t, quiet())
	w, a := loginUser(t, s, "w"), loginAdmin(t, s, "a")
	wc := w.dialInit()
	wc.expect(neko.EventSessionState)
	ac := a.dialInit()
	ac.expect(neko.EventSessionState)
	wc.expect(neko.EventSessionState)
	a.mustCall(http.MethodPost, "/api/room/control/take", nil, http.StatusNoContent)
	wc.expect(neko.EventControlHost)

	p := a.Profile
	p.CanHost = false
	a.mustCall(http.MethodPost, "/api/profile", p, http.StatusOK)
	if got := expectPayload[neko.SessionProfileUpdate](wc, neko.EventSessionProfile); got.CanHost {
		t.Fatalf("session/profile %+v", got)
	}
	if got := expectPayload[neko.ControlHost](wc, neko.EventControlHost); got != (neko.ControlHost{ID: a.ID}) {
		t.Fatalf("control/host %+v", got)
	}

	p.CanConnect = false
	a.mustCall(http.MethodPost, "/api/profile", p, http.StatusOK)
	if got := ac.waitEvent(neko.EventSystemDisconnect); !bytes.Contains(got.Payload, []byte(`"profile changed"`)) {
		t.Fatalf("system/disconnect %s", got.Payload)
	}
	ac.expectDropped()
	// A session that cannot connect is refused on the socket.
	c := a.dial()
	if got := expectPayload[neko.SystemDisconnect](c, neko.EventSystemDisconnect); got.Message != "connection disabled" {
		t.Fatalf("reconnect: %q", got.Message)
	}
}
