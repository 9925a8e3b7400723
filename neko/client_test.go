package neko_test

import (
	"bytes"
	"errors"
	"image/jpeg"
	"net/http"
	"strings"
	"testing"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

func TestLoginProfiles(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	ctx := testCtx(t)

	user := newClient(t, srv, neko.Options{})
	lr, err := user.Login(ctx, "bot", userPW)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(lr.ID, "bot-") || lr.Token == "" || lr.Profile.IsAdmin || !lr.Profile.CanHost {
		t.Fatalf("user login = %+v", lr)
	}
	if user.SessionID() != lr.ID || user.Username() != "bot" || user.Profile().Name != lr.Profile.Name || user.Profile().CanHost != lr.Profile.CanHost {
		t.Fatalf("client state: %q %q %+v", user.SessionID(), user.Username(), user.Profile())
	}
	admin := login(t, srv, "boss", adminPW)
	if !admin.Profile().IsAdmin {
		t.Fatalf("admin profile = %+v", admin.Profile())
	}
	// Two logins with one name are two sessions (multiuser provider).
	again := login(t, srv, "bot", userPW)
	if again.SessionID() == user.SessionID() {
		t.Fatal("second login reused the session id")
	}

	who, err := user.Whoami(ctx)
	if err != nil || who.ID != lr.ID || who.Token != "" {
		t.Fatalf("Whoami = %+v, %v", who, err)
	}
	if err := user.Health(ctx); err != nil {
		t.Fatalf("Health = %v", err)
	}
	st, err := user.Stats(ctx)
	if err != nil || st.ServerStartedAt.IsZero() {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
	sessions, err := admin.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, s := range sessions {
		ids[s.ID] = true
	}
	if !ids[user.SessionID()] || !ids[admin.SessionID()] || !ids[again.SessionID()] {
		t.Fatalf("Sessions = %v", ids)
	}
	if _, err := user.Sessions(ctx); err != nil {
		t.Fatalf("user Sessions = %v", err)
	}
}

func TestLoginWrongPassword(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	c := newClient(t, srv, neko.Options{})
	_, err := c.Login(testCtx(t), "bot", "hunter2")
	if !errors.Is(err, neko.ErrUnauthorized) {
		t.Fatalf("err = %v, want neko.ErrUnauthorized", err)
	}
	if err.Error() != `unauthorized: wrong password for user "bot"` {
		t.Fatalf("message = %q", err.Error())
	}
	var ae *neko.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Op != "login" {
		t.Fatalf("neko.APIError = %+v", ae)
	}
	if c.SessionID() != "" {
		t.Fatal("failed login set a session id")
	}
	if _, err := c.Login(testCtx(t), "", userPW); err == nil {
		t.Fatal("empty username accepted")
	}
}

func TestLoginsLocked(t *testing.T) {
	t.Parallel()
	s := neko.DefaultSettings()
	s.LockedLogins = true
	srv := newServer(t, nekotest.Options{Settings: &s})
	_, err := newClient(t, srv, neko.Options{}).Login(testCtx(t), "bot", userPW)
	if !errors.Is(err, neko.ErrLoginsLocked) || !errors.Is(err, neko.ErrForbidden) || err.Error() != "logins are locked" {
		t.Fatalf("err = %v", err)
	}
	login(t, srv, "boss", adminPW) // admins still get in
}

func TestUnauthenticatedCalls(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	c := newClient(t, srv, neko.Options{})
	ctx := testCtx(t)
	if _, err := c.Whoami(ctx); !errors.Is(err, neko.ErrUnauthorized) || !strings.Contains(err.Error(), "GET /api/whoami: 401") {
		t.Fatalf("Whoami = %v", err)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatalf("Health needs no login: %v", err)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	c := login(t, srv, "bot", userPW)
	ctx := testCtx(t)
	id := c.SessionID()
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := srv.State().Session(id); ok {
		t.Fatal("session still exists on the server")
	}
	if c.SessionID() != "" {
		t.Fatal("session id kept after logout")
	}
	if _, err := c.Whoami(ctx); !errors.Is(err, neko.ErrUnauthorized) {
		t.Fatalf("Whoami after logout = %v", err)
	}
	if _, err := c.Connect(ctx, neko.ConnOptions{}); !errors.Is(err, neko.ErrNotLoggedIn) {
		t.Fatalf("Connect after logout = %v", err)
	}
}

func TestRESTControlPermissions(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	ctx := testCtx(t)
	a := login(t, srv, "alice", userPW)
	b := login(t, srv, "bob", userPW)
	admin := login(t, srv, "boss", adminPW)

	if st, err := a.ControlStatus(ctx); err != nil || st.HasHost {
		t.Fatalf("ControlStatus = %+v, %v", st, err)
	}
	res, err := a.RequestControl(ctx)
	if err != nil || res != neko.ControlGranted || res.String() != "granted" {
		t.Fatalf("first request = %v, %v", res, err)
	}
	if st, _ := b.ControlStatus(ctx); !st.HasHost || st.HostID != a.SessionID() {
		t.Fatalf("host = %+v, want %s", st, a.SessionID())
	}
	res, err = b.RequestControl(ctx)
	if err != nil || res != neko.ControlPending || res.String() != "pending" {
		t.Fatalf("request while hosted = %v, %v", res, err)
	}
	waitHost(t, srv, a.SessionID()) // pending did not move host

	// A user: not host, not admin.
	if err := b.ReleaseControl(ctx); !errors.Is(err, neko.ErrNotHost) || err.Error() != "not the host" {
		t.Fatalf("release by non-host = %v", err)
	}
	if err := b.GiveControl(ctx, b.SessionID()); !errors.Is(err, neko.ErrNotHost) || !errors.Is(err, neko.ErrForbidden) {
		t.Fatalf("give by non-host = %v", err)
	}
	for name, call := range map[string]func() error{
		"take":     func() error { return b.TakeControl(ctx) },
		"reset":    func() error { return b.ResetControl(ctx) },
		"settings": func() error { _, err := b.Settings(ctx); return err },
		"update":   func() error { return b.UpdateSettings(ctx, neko.SettingsPatch{LockedControls: ptr(true)}) },
		"shot":     func() error { _, err := b.ScreenShot(ctx); return err },
	} {
		err := call()
		if !errors.Is(err, neko.ErrNotAdmin) || !errors.Is(err, neko.ErrForbidden) {
			t.Errorf("%s by user = %v, want neko.ErrNotAdmin", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "403 session is not admin") {
			t.Errorf("%s message = %q", name, err.Error())
		}
	}
	if _, err := b.Settings(ctx); err == nil || !strings.HasPrefix(err.Error(), "neko: GET /api/room/settings: 403 session is not admin") {
		t.Errorf("settings message = %v", err)
	}

	// The host may give; an admin may give, take and reset.
	if err := a.GiveControl(ctx, b.SessionID()); err != nil {
		t.Fatalf("give by host = %v", err)
	}
	waitHost(t, srv, b.SessionID())
	if err := admin.GiveControl(ctx, "nobody-12345"); !errors.Is(err, neko.ErrNotFound) {
		t.Fatalf("give to unknown = %v", err)
	}
	if err := admin.TakeControl(ctx); err != nil {
		t.Fatal(err)
	}
	waitHost(t, srv, admin.SessionID())
	if err := admin.GiveControl(ctx, a.SessionID()); err != nil {
		t.Fatal(err)
	}
	waitHost(t, srv, a.SessionID())
	if err := admin.ResetControl(ctx); err != nil {
		t.Fatal(err)
	}
	waitHost(t, srv, "")
	if err := b.GiveControl(ctx, ""); err == nil {
		t.Fatal("give to empty id accepted")
	}

	// The host releases.
	if _, err := b.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.ReleaseControl(ctx); err != nil {
		t.Fatalf("release by host = %v", err)
	}
	waitHost(t, srv, "")
}

func TestRESTControlsLocked(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	ctx := testCtx(t)
	user := login(t, srv, "bot", userPW)
	admin := login(t, srv, "boss", adminPW)
	if err := admin.UpdateSettings(ctx, neko.SettingsPatch{LockedControls: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	_, err := user.RequestControl(ctx)
	if !errors.Is(err, neko.ErrControlsLocked) || !errors.Is(err, neko.ErrForbidden) || err.Error() != "controls are locked" {
		t.Fatalf("request while locked = %v", err)
	}
	if res, err := admin.RequestControl(ctx); err != nil || res != neko.ControlGranted {
		t.Fatalf("admin request while locked = %v, %v", res, err)
	}
}

func TestSettingsPartialMerge(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{})
	ctx := testCtx(t)
	admin := login(t, srv, "boss", adminPW)
	before, err := admin.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if before.ImplicitHosting || !before.MercifulReconnect || before.HeartbeatInterval != 10 {
		t.Fatalf("defaults = %+v", before)
	}
	if err := admin.UpdateSettings(ctx, neko.SettingsPatch{ImplicitHosting: ptr(true), HeartbeatInterval: ptr(3)}); err != nil {
		t.Fatal(err)
	}
	after, err := admin.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := before
	want.ImplicitHosting, want.HeartbeatInterval = true, 3
	if after.ImplicitHosting != true || after.HeartbeatInterval != 3 || after.MercifulReconnect != true ||
		after.LockedControls || after.PrivateMode {
		t.Fatalf("after = %+v, want %+v", after, want)
	}
	// false is sent (a pointer, not omitted) and applied.
	if err := admin.UpdateSettings(ctx, neko.SettingsPatch{MercifulReconnect: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if s := srv.Settings(); s.MercifulReconnect || !s.ImplicitHosting {
		t.Fatalf("server settings = %+v", s)
	}
}

func TestScreenEndpoints(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{ScreencastEnabled: true})
	ctx := testCtx(t)
	user := login(t, srv, "bot", userPW)
	admin := login(t, srv, "boss", adminPW)
	for name, get := range map[string]func() ([]byte, error){
		"cast by user":  func() ([]byte, error) { return user.ScreenCast(ctx) },
		"shot by admin": func() ([]byte, error) { return admin.ScreenShot(ctx) },
	} {
		b, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("%s: not a JPEG: %v", name, err)
		}
	}

	off := newServer(t, nekotest.Options{})
	_, err := login(t, off, "bot", userPW).ScreenCast(ctx)
	var ae *neko.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "cast.jpg: 400") {
		t.Fatalf("cast with screencast disabled = %v", err)
	}
}

func TestCookieModeREST(t *testing.T) {
	t.Parallel()
	srv := newServer(t, nekotest.Options{CookieEnabled: true})
	ctx := testCtx(t)
	c := newClient(t, srv, neko.Options{Cookies: true})
	lr, err := c.Login(ctx, "bot", userPW)
	if err != nil {
		t.Fatal(err)
	}
	if lr.Token != "" {
		t.Fatal("cookie-mode server returned a token")
	}
	if who, err := c.Whoami(ctx); err != nil || who.ID != lr.ID {
		t.Fatalf("Whoami = %+v, %v", who, err)
	}
	if res, err := c.RequestControl(ctx); err != nil || res != neko.ControlGranted {
		t.Fatalf("RequestControl = %v, %v", res, err)
	}
	// A client not in cookie mode falls back to the cookie it was given.
	plain := newClient(t, srv, neko.Options{})
	if _, err := plain.Login(ctx, "bot2", userPW); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Whoami(ctx); err != nil {
		t.Fatalf("fallback Whoami = %v", err)
	}
	// And a cookie-mode client against a token server uses the token.
	tokSrv := newServer(t, nekotest.Options{})
	ck := newClient(t, tokSrv, neko.Options{Cookies: true})
	if _, err := ck.Login(ctx, "bot", userPW); err != nil {
		t.Fatal(err)
	}
	if _, err := ck.Whoami(ctx); err != nil {
		t.Fatalf("token fallback Whoami = %v", err)
	}
}
