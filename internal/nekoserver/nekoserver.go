// Package nekoserver gives tests one interface over the two neko servers
// codrive is checked against, so that one scenario runs on both:
//
//   - nekotest: neko/nekotest, in process, fast, with knobs real neko lacks;
//   - neko: the real neko v3.1.5 server, built from source by
//     scripts/build-neko.sh into .cache/neko/bin/neko and started here like
//     the official image runs it (multiuser provider, implicit hosting and
//     cookies off), on free loopback ports, under its own Xvfb.
//
// [Each] runs a scenario as two subtests named "nekotest" and "neko", so test
// output names the server. Where real neko cannot run (no binary, no Xvfb)
// the "neko" subtest is skipped with one line saying how to get it, except
// under CI=true, where it fails: CI must run the real tier.
//
// REST views (Settings, Control, Sessions) and UpdateSettings go through
// neko's REST API on both servers, logged in as an admin named
// [AdminName] (a REST-only session: it never opens a WebSocket, so neko
// does not count it as connected), so that both answer alike.
package nekoserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// Kind names a server implementation; it is also the subtest name.
type Kind string

const (
	// KindNekotest is neko/nekotest, in process.
	KindNekotest Kind = "nekotest"
	// KindNeko is the real neko v3.1.5 server.
	KindNeko Kind = "neko"
)

// Kinds lists both, in the order Each runs them.
var Kinds = []Kind{KindNekotest, KindNeko}

// Shutdown says how Stop and Restart take a server down: Abrupt is SIGTERM
// on real neko (v3.1.5 dies at once: clients see close 1006 and nothing
// else), Graceful is SIGINT (clients get system/disconnect "connection
// shutdown" first). nekotest reproduces both.
type Shutdown = nekotest.Shutdown

const (
	// Abrupt is neko v3.1.5 on SIGTERM.
	Abrupt = nekotest.Abrupt
	// Graceful is neko v3.1.5 on SIGINT.
	Graceful = nekotest.Graceful
)

// The multiuser passwords both servers use: the nekotest defaults, and what
// real neko is started with (NEKO_MEMBER_MULTIUSER_*_PASSWORD).
const (
	UserPassword  = "neko"
	AdminPassword = "admin"
)

// AdminName is the user name of the REST-only admin session the REST views
// log in with.
const AdminName = "nekoserver-admin"

// ErrUnsupported is returned by a method a server kind cannot do yet.
var ErrUnsupported = errors.New("nekoserver: not supported by this server kind")

// Options configure a server. The zero value is the official image's
// configuration: neko.DefaultSettings() (implicit hosting off), cookies off.
type Options struct {
	// Settings are the initial room settings; default neko.DefaultSettings().
	// A restart returns the room to them. Real neko gets the booleans and
	// the heartbeat interval as NEKO_SESSION_* variables, and Plugins, which
	// no variable sets, by a settings POST right after it is up.
	Settings *neko.Settings
	// Cookies is session.cookie.enabled (with neko's default Secure,
	// HttpOnly, SameSite=None cookie).
	Cookies bool
	// BinaryDefaults starts the server as the bare v3.1.5 binary, without
	// the image's config: session.implicit_hosting and session.cookie.enabled
	// take their flag defaults, both true (server/internal/config/session.go).
	// Settings.ImplicitHosting and Cookies are then ignored.
	BinaryDefaults bool
	// Env adds NEKO_* variables to real neko's environment, after the
	// ones set here, so that they override them (e.g. a wrong
	// NEKO_WEBRTC_NAT1TO1 to see WebRTC fail). nekotest ignores it.
	Env []string
}

// Server is a neko server a test can start, stop, restart, pause and change
// the settings of. Methods taking a context give up when it ends.
type Server interface {
	// Kind says which implementation this is.
	Kind() Kind
	// URL is the base URL, http://127.0.0.1:PORT; it survives Stop/Start
	// and Restart.
	URL() string
	// Display is the X display real neko captures (":N"), where a headful
	// Chromium shows what neko streams; "" for nekotest, which has none.
	Display() string
	// Start serves again after Stop, on the same port, with a fresh room
	// (no sessions, initial settings). An error if it is running.
	Start(ctx context.Context) error
	// Stop takes the server down the way how says; all state is lost.
	// Stopping a stopped server does nothing.
	Stop(ctx context.Context, how Shutdown) error
	// Restart is Stop then Start. On nekotest there is no window in which
	// connections are refused; on real neko there is (a new process).
	Restart(ctx context.Context, how Shutdown) error
	// Pause freezes the server as SIGSTOP does: sockets stay open, nothing
	// is answered, no heartbeat is sent. Resume continues it.
	Pause() error
	// Resume undoes Pause.
	Resume() error
	// Settings reads GET /api/room/settings as an admin.
	Settings(ctx context.Context) (neko.Settings, error)
	// UpdateSettings posts a partial update as an admin (a merge, as
	// neko does; system/settings is broadcast with the admin as actor).
	UpdateSettings(ctx context.Context, p neko.SettingsPatch) error
	// Control reads GET /api/room/control as an admin.
	Control(ctx context.Context) (neko.ControlStatus, error)
	// Sessions reads GET /api/sessions as an admin (its own session
	// included).
	Sessions(ctx context.Context) ([]neko.SessionData, error)
	// Log is what the server logged so far (the tail, when it is long).
	Log() string
	// Close stops the server for good and frees everything it holds.
	Close()
}

// New starts a server of the given kind. For KindNeko it fails with an
// error wrapping ErrNoRealNeko when the real server cannot run here.
func New(ctx context.Context, kind Kind, opts Options) (Server, error) {
	switch kind {
	case KindNekotest:
		return StartNekotest(opts)
	case KindNeko:
		return StartNeko(ctx, opts)
	}
	return nil, fmt.Errorf("nekoserver: unknown kind %q (want %q or %q)", kind, KindNekotest, KindNeko)
}

// Require skips the test (locally) or fails it (CI=true) when servers of
// kind cannot run here, with one line saying why and how to fix it.
func Require(tb testing.TB, kind Kind) {
	tb.Helper()
	if kind != KindNeko {
		return
	}
	if err := NekoAvailable(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("real neko tier: %v", err)
		}
		tb.Skipf("real neko tier skipped: %v", err)
	}
}

// Start starts a server of kind for one test, closes it on cleanup, and
// prints its log if the test failed. It calls Require first.
func Start(tb testing.TB, kind Kind, opts Options) Server {
	tb.Helper()
	Require(tb, kind)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, err := New(ctx, kind, opts)
	if err != nil {
		tb.Fatalf("start %s: %v", kind, err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("%s server log (tail):\n%s", kind, tail(srv.Log(), 8000))
		}
		srv.Close()
	})
	return srv
}

// ServersEnv names the environment variable that selects the kinds Each runs:
// "nekotest", "neko", or both (the default; also "nekotest,neko"). Under
// CI=true leaving real neko out fails the test: CI must run both tiers.
const ServersEnv = "CODRIVE_NEKO_SERVERS"

// Selected reports whether ServersEnv lets Each run kind.
func Selected(kind Kind) bool {
	v := strings.TrimSpace(os.Getenv(ServersEnv))
	if v == "" || v == "all" {
		return true
	}
	for _, k := range strings.Split(v, ",") {
		if Kind(strings.TrimSpace(k)) == kind {
			return true
		}
	}
	return false
}

// Each runs scenario once per server kind, as parallel subtests named after
// the kind ("nekotest", "neko"), each with a fresh server started with opts.
// Run one tier alone with CODRIVE_NEKO_SERVERS=nekotest (or neko).
func Each(t *testing.T, opts Options, scenario func(t *testing.T, srv Server)) {
	t.Helper()
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			if !Selected(kind) {
				if kind == KindNeko && os.Getenv("CI") == "true" {
					t.Fatalf("%s=%q leaves real neko out; CI must run the real tier", ServersEnv, os.Getenv(ServersEnv))
				}
				t.Skipf("%s=%s", ServersEnv, os.Getenv(ServersEnv))
			}
			Require(t, kind)
			t.Parallel()
			scenario(t, Start(t, kind, opts))
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
