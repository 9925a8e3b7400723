package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/internal/pagelog"
	"github.com/codrive/codrive/internal/pixels"
	"github.com/codrive/codrive/internal/whoclicks"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/viewer"
)

// personStack is real neko, a headful Chromium on its display showing
// whoClicksPage, codrive attach --listen in front of it, and a direct
// watch of the page's log. Scenarios take turns on it.
type personStack struct {
	srv   nekoserver.Server
	web   *httptest.Server
	c     *cdptest.Chromium
	a     *attachProc
	proxy string
	page  *pagelog.Log[whoclicks.Entry]
	admin *neko.Client
}

// requireRealNeko is the guard of the scenarios that only real neko can
// run (nekotest has no display and no media).
func requireRealNeko(t *testing.T) {
	t.Helper()
	if !nekoserver.Selected(nekoserver.KindNeko) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s=%q leaves real neko out; CI must run the real tier", nekoserver.ServersEnv, os.Getenv(nekoserver.ServersEnv))
		}
		t.Skipf("%s=%s", nekoserver.ServersEnv, os.Getenv(nekoserver.ServersEnv))
	}
	nekoserver.Require(t, nekoserver.KindNeko)
	cdptest.Require(t)
}

func startPersonStack(t *testing.T, opts nekoserver.Options) *personStack {
	t.Helper()
	st := &personStack{srv: nekoserver.Start(t, nekoserver.KindNeko, opts)}
	st.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, whoclicks.Page)
	}))
	t.Cleanup(st.web.Close)
	c, err := cdptest.Start(ctxT(t), cdptest.Options{Display: st.srv.Display(), URL: st.web.URL, ExtraFlags: whoclicks.WindowFlags})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	st.c = c
	if st.page, err = pagelog.Attach[whoclicks.Entry](ctxT(t), c.URL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.page.Close)
	st.a = startAttach(t, st.srv, c.URL, "--listen", "127.0.0.1:0", "--reclaim-after", "100ms")
	st.proxy = st.a.proxyURL()
	st.admin, err = neko.NewClient(st.srv.URL(), neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.admin.Login(ctxT(t), "screen-admin", nekoserver.AdminPassword); err != nil {
		t.Fatal(err)
	}
	return st
}

// join makes name a WebRTC viewer of the room, closed on cleanup.
func (st *personStack) join(t *testing.T, name string) *viewer.Viewer {
	t.Helper()
	c, err := neko.NewClient(st.srv.URL(), neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctxT(t), name, nekoserver.UserPassword); err != nil {
		t.Fatal(err)
	}
	v, err := viewer.Join(ctxT(t), c, viewer.Options{})
	if err != nil {
		t.Fatalf("%s joins as a viewer: %v", name, err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// onScreen is where neko's screen (its own screenshot, what it streams)
// shows c: what a person would aim at.
func (st *personStack) onScreen(t *testing.T, c color.RGBA) image.Rectangle {
	t.Helper()
	box, err := pixels.Find(ctxT(t), func(ctx context.Context) (image.Image, error) {
		b, err := st.admin.ScreenShot(ctx)
		if err != nil {
			return nil, err
		}
		return jpeg.Decode(bytes.NewReader(b))
	}, c, 48, 2000)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// entries is the page's own log from index from on.
func (st *personStack) entries(t *testing.T, from int) []whoclicks.Entry {
	t.Helper()
	var all []whoclicks.Entry
	if err := st.page.Eval(ctxT(t), "window.log", &all); err != nil {
		t.Fatal(err)
	}
	if from > len(all) {
		return nil
	}
	return all[from:]
}

// waitEntries waits until the log from index from on satisfies ok.
func (st *personStack) waitEntries(t *testing.T, from int, what string, ok func([]whoclicks.Entry) bool) []whoclicks.Entry {
	t.Helper()
	es, err := st.page.Wait(ctxT(t), what, func(es []whoclicks.Entry) bool {
		if from > len(es) {
			return false
		}
		return ok(es[from:])
	})
	if err != nil {
		t.Fatalf("%v\npage log: %v", err, tailEntries(st.entries(t, from), 20))
	}
	return es[from:]
}

func tailEntries(es []whoclicks.Entry, n int) []whoclicks.Entry {
	if len(es) > n {
		return es[len(es)-n:]
	}
	return es
}

// script is whoclicks' clicker through codrive's proxy, stopped on
// cleanup (a scenario releases control first, so that it can finish).
type script struct {
	*whoclicks.ScriptClicker
	t *testing.T
}

func (st *personStack) startScript(t *testing.T) *script {
	t.Helper()
	s, err := whoclicks.StartScript(ctxT(t), st.proxy)
	if err != nil {
		t.Fatal(err)
	}
	sc := &script{ScriptClicker: s, t: t}
	t.Cleanup(sc.stop)
	return sc
}

func (s *script) waitReplied(n int) {
	s.t.Helper()
	if err := s.WaitReplied(ctxT(s.t), n); err != nil {
		s.t.Fatal(err)
	}
}

func (s *script) stop() {
	if err := s.Stop(ctxT(s.t)); err != nil {
		s.t.Error(err)
	}
}
