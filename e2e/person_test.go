package e2e

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/internal/pixels"
	"github.com/codrive/codrive/internal/whoclicks"
	"github.com/codrive/codrive/neko"
)

// A person's hands and eyes, end to end, on real neko only (nekotest has
// no display and no media): a WebRTC viewer (neko/viewer) that watches the
// stream and clicks through neko's data channel, X and Chromium, beside a
// script that clicks through codrive's CDP proxy. The page's own log of
// mouse events, with each event's source, is the evidence.
func TestPersonInput(t *testing.T) {
	t.Run(string(nekoserver.KindNeko), func(t *testing.T) {
		requireRealNeko(t)
		t.Parallel()
		st := startPersonStack(t, nekoserver.Options{})
		steps := []struct {
			name string
			run  func(*testing.T, *personStack)
		}{
			{"click_lands_where_the_screen_shows_it", personClickLands},
			{"viewer_watches_automation", viewerWatchesAutomation},
			{"script_held_while_person_hosts", scriptHeldWhilePersonHosts},
			{"implicit_hosting_person_takes_over", implicitHostingPersonTakesOver},
		}
		for _, s := range steps {
			// One stack, taking turns: a failed step leaves it in an
			// unknown state, so the rest are not run.
			if !t.Run(s.name, func(t *testing.T) { s.run(t, st) }) {
				t.Fatalf("%s failed; later scenarios skipped", s.name)
			}
		}
	})
}

// (1) The viewer hosts and clicks the magenta button where neko's screen
// shows it: the page gets the click on the button, although the page is
// smaller than the screen, elsewhere on it and scaled. neko's input path
// passes the viewer's coordinates unchanged to X (XWarpPointer to absolute
// screen pixels, server/pkg/xorg/xorg.c XMove); only where the window is
// and how it scales decide where that is on the page.
func personClickLands(t *testing.T, st *personStack) {
	ctx := ctxT(t)
	base := len(st.entries(t, 0))
	v := st.join(t, "alice")
	if err := v.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	st.a.wait("the person hosting", func(e event) bool { return e.Status.State == "human" && e.Status.Host == v.SessionID() })
	box := st.onScreen(t, whoclicks.PersonColour)
	aim := pixels.Center(box)
	if err := v.Click(ctx, aim.X, aim.Y); err != nil {
		t.Fatal(err)
	}
	es := st.waitEntries(t, base, "the person's click", func(es []whoclicks.Entry) bool { return whoclicks.Count(es, "person", "click") == 1 })

	var geo struct {
		DPR                              float64
		InnerW, InnerH, ScreenX, ScreenY float64
		Left, Top, Right, Bottom         float64
	}
	if err := st.page.Eval(ctx, `(r => ({DPR: devicePixelRatio, InnerW: innerWidth, InnerH: innerHeight, ScreenX: screenX, ScreenY: screenY,
		Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom}))(document.getElementById("person").getBoundingClientRect())`, &geo); err != nil {
		t.Fatal(err)
	}
	screen := v.ScreenSize()
	if geo.DPR <= 1 || geo.InnerW*geo.DPR >= float64(screen.Width) || geo.ScreenX <= 0 {
		t.Fatalf("the page is not smaller, offset and scaled on the %dx%d screen: %+v", screen.Width, screen.Height, geo)
	}
	if types := whoclicks.Types(es); types != "mousedown,mouseup,click" {
		t.Fatalf("page saw %s, want one click", types)
	}
	for _, e := range es {
		if e.Src != "person" || e.Target != "person" || !e.Trusted {
			t.Fatalf("page saw %v, want the person's trusted click on #person", e)
		}
		if e.X < geo.Left || e.X >= geo.Right || e.Y < geo.Top || e.Y >= geo.Bottom {
			t.Fatalf("page saw the %s at (%v, %v), outside #person (%v,%v)-(%v,%v)", e.Type, e.X, e.Y, geo.Left, geo.Top, geo.Right, geo.Bottom)
		}
		// The event's screen position is the viewer's, in the page's
		// (scaled) screen units.
		if math.Abs(e.SX*geo.DPR-float64(aim.X)) > 1.5 || math.Abs(e.SY*geo.DPR-float64(aim.Y)) > 1.5 {
			t.Fatalf("page saw the %s at screen (%v, %v)×%v, the viewer clicked screen pixel (%d, %d)", e.Type, e.SX, e.SY, geo.DPR, aim.X, aim.Y)
		}
	}
	e := es[0]
	t.Logf("screen %dx%d, page viewport %vx%v CSS px at scale %v: #person shows at screen %v; the viewer clicked screen (%d, %d); "+
		"the page got client (%v, %v), screen (%v, %v) CSS px = (%.0f, %.0f) px: client = (screen px - (%.0f, %.0f)) / %v",
		screen.Width, screen.Height, geo.InnerW, geo.InnerH, geo.DPR, box, aim.X, aim.Y, e.X, e.Y, e.SX, e.SY, e.SX*geo.DPR, e.SY*geo.DPR,
		float64(aim.X)-e.X*geo.DPR, float64(aim.Y)-e.Y*geo.DPR, geo.DPR)
	if err := v.ReleaseControl(ctx); err != nil {
		t.Fatal(err)
	}
}

// (4) A viewer who does not host receives the stream while a script drives
// through codrive: people can watch automation.
func viewerWatchesAutomation(t *testing.T, st *personStack) {
	ctx := ctxT(t)
	w := st.join(t, "watcher")
	if _, err := w.WaitFrames(ctx, 1); err != nil {
		t.Fatal(err)
	}
	s := st.startScript(t)
	s.waitReplied(2)
	st.a.wait("automation driving", func(e event) bool { return e.Status.State == "automation" })
	before := w.Video()
	_, replied0 := s.Progress()
	if _, err := w.WaitFrames(ctx, before.Frames+50); err != nil {
		t.Fatal(err)
	}
	_, replied1 := s.Progress()
	s.stop()
	got := w.Video().Since(before)
	if w.IsHost() {
		t.Fatal("the watcher hosts")
	}
	if replied1-replied0 < 2 || got.Keyframes < 1 {
		t.Fatalf("while the script drove (%d commands answered), the watcher got %d frames, %d keyframes", replied1-replied0, got.Frames, got.Keyframes)
	}
	t.Logf("while automation drove (%d script clicks), the watcher received %d frames (%d keyframes) in %v: %.1f frames/s, %d KiB",
		(replied1-replied0)/2, got.Frames, got.Keyframes, got.Last.Sub(before.Last).Round(time.Millisecond),
		float64(got.Frames)/got.Last.Sub(before.Last).Seconds(), got.Bytes/1024)
}

// (2) While the viewer hosts, the script's clicks through codrive's proxy
// are held: the page shows no script event between the person's first and
// last, the script gets no answer meanwhile, and once the person releases
// the held click lands.
func scriptHeldWhilePersonHosts(t *testing.T, st *personStack) {
	ctx := ctxT(t)
	base := len(st.entries(t, 0))
	s := st.startScript(t)
	s.waitReplied(4)
	st.waitEntries(t, base, "the script clicking", func(es []whoclicks.Entry) bool { return whoclicks.Count(es, "script", "click") >= 2 })

	v := st.join(t, "bob")
	if err := v.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	st.a.wait("the person hosting", func(e event) bool { return e.Status.State == "human" && e.Status.Host == v.SessionID() })
	aim := pixels.Center(st.onScreen(t, whoclicks.PersonColour))
	for i := 0; i < 3; i++ {
		if err := v.Click(ctx, aim.X, aim.Y); err != nil {
			t.Fatal(err)
		}
	}
	st.waitEntries(t, base, "the person's 3 clicks", func(es []whoclicks.Entry) bool { return whoclicks.Count(es, "person", "click") == 3 })
	// Held, not slow: over one more click of the person, all the way to
	// the page, the script gets no answer.
	sent0, replied0 := s.Progress()
	if err := v.Click(ctx, aim.X, aim.Y); err != nil {
		t.Fatal(err)
	}
	st.waitEntries(t, base, "the person's 4th click", func(es []whoclicks.Entry) bool { return whoclicks.Count(es, "person", "click") == 4 })
	sent1, replied1 := s.Progress()
	if replied1 != replied0 || sent1 != sent0 || sent1 != replied1+1 {
		t.Fatalf("the script progressed while the person hosted: sent %d→%d, answered %d→%d", sent0, sent1, replied0, replied1)
	}
	held := "mousePressed"
	if sent1%2 == 0 {
		held = "mouseReleased"
	}
	// The hand-over waited for the script to let go of its click: what is
	// held is the next click's press, never a release.
	if held != "mousePressed" {
		t.Fatalf("the script's click was split: its %s was held while the person hosted", held)
	}

	if err := v.ReleaseControl(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitReplied(replied1 + 2)
	st.waitEntries(t, base, "the held click landing", func(es []whoclicks.Entry) bool {
		last := whoclicks.Last(es, "person")
		return last >= 0 && whoclicks.Count(es[last+1:], "script", "") > 0
	})
	s.stop()
	es := st.entries(t, base)
	checkSources(t, es)
	first, last := whoclicks.First(es, "person"), whoclicks.Last(es, "person")
	if n := whoclicks.Count(es[first:last+1], "script", ""); n != 0 {
		t.Fatalf("%d script events between the person's first and last:\n%v", n, es[first:last+1])
	}
	if i := whoclicks.Last(es[:first], "script"); i >= 0 && es[i].Type == "mousedown" {
		t.Fatalf("%s", gesture(es, first))
	}
	after := es[last+1]
	t.Logf("script held (its %s was in flight) while the person clicked 4 times; %d script events before the person, "+
		"the first after it %v, %.1f ms after the person's last event; %s", held, whoclicks.Count(es[:first], "script", ""), after, after.T-es[last].T, gesture(es, first))
}

// (3) With implicit hosting on, the viewer's first mouse move takes control
// from codrive without asking (neko allows it; codrive cannot refuse), and
// codrive pauses as soon as neko tells it: at most the one command already
// on its way lands among the person's events, and the script stays held
// until the person releases.
func implicitHostingPersonTakesOver(t *testing.T, st *personStack) {
	ctx := ctxT(t)
	if err := st.srv.UpdateSettings(ctx, neko.SettingsPatch{ImplicitHosting: ptrTo(true)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = st.srv.UpdateSettings(context.Background(), neko.SettingsPatch{ImplicitHosting: ptrTo(false)})
	})
	aim := pixels.Center(st.onScreen(t, whoclicks.PersonColour))
	base := len(st.entries(t, 0))
	s := st.startScript(t)
	s.waitReplied(4)
	st.a.wait("automation driving", func(e event) bool { return e.Status.State == "automation" })

	v := st.join(t, "carol")
	if !v.Conn().Room().Settings.ImplicitHosting {
		t.Fatal("the viewer does not see implicit hosting on")
	}
	// A person: move, then click at once, without waiting for codrive.
	moved := float64(time.Now().UnixMicro()) / 1000 // the page's clock is the same system clock
	if err := v.Move(ctx, aim.X-20, aim.Y-10); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := v.Click(ctx, aim.X, aim.Y); err != nil {
			t.Fatal(err)
		}
	}
	st.waitEntries(t, base, "the person's 3 clicks", func(es []whoclicks.Entry) bool { return whoclicks.Count(es, "person", "click") == 3 })
	st.a.wait("codrive paused for the person", func(e event) bool { return e.Status.State == "human" && e.Status.Host == v.SessionID() })
	// Still held: one more click by the person, and the script has not
	// moved.
	sent0, replied0 := s.Progress()
	if err := v.Click(ctx, aim.X, aim.Y); err != nil {
		t.Fatal(err)
	}
	st.waitEntries(t, base, "the person's 4th click", func(es []whoclicks.Entry) bool { return whoclicks.Count(es, "person", "click") == 4 })
	if sent1, replied1 := s.Progress(); sent1 != sent0 || replied1 != replied0 || sent1 != replied1+1 {
		t.Fatalf("the script progressed while the person hosted: sent %d→%d, answered %d→%d", sent0, sent1, replied0, replied1)
	}

	if err := v.ReleaseControl(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitReplied(replied0 + 2)
	st.waitEntries(t, base, "the held click landing", func(es []whoclicks.Entry) bool {
		last := whoclicks.Last(es, "person")
		return last >= 0 && whoclicks.Count(es[last+1:], "script", "") > 0
	})
	s.stop()
	es := st.entries(t, base)
	checkSources(t, es)
	first, last := whoclicks.First(es, "person"), whoclicks.Last(es, "person")
	// The person took control without asking: the script's command that
	// codrive let through before neko told it may still land among the
	// person's first events (Chromium's CDP input is slower than X's, more
	// so on a loaded machine). One command at most, since the script sends
	// one at a time; the held ones stayed held (Progress above).
	if n := whoclicks.Count(es[first:last+1], "script", ""); n > 1 {
		t.Fatalf("%d script events between the person's first and last:\n%v", n, es[first:last+1])
	} else if n == 1 {
		t.Logf("the script's command in flight when the person took over landed among their events: %v", es[first:last+1])
	}
	lastScript := whoclicks.Last(es[:first], "script")
	if lastScript < 0 {
		t.Fatal("the script never clicked before the person took over")
	}
	during := 0
	for _, e := range es[:first] {
		if e.Src == whoclicks.Script && e.T >= moved {
			during++
		}
	}
	t.Logf("implicit takeover: %d script events landed after the person's move was sent and before their first click; the last %.1f ms before it (%v then %v); "+
		"none until the person released; %s", during, es[first].T-es[lastScript].T, es[lastScript], es[first], gesture(es, first))
}

// gesture says whether the person's clicks came in the middle of a
// script's click (its press before the person's events, its release after).
// A click is two CDP commands; codrive hands control over only once the
// script has let go, but a person who takes control unasked (implicit
// hosting) can still land inside one.
func gesture(es []whoclicks.Entry, first int) string {
	if i := whoclicks.Last(es[:first], "script"); i >= 0 && es[i].Type == "mousedown" {
		return "the person's clicks split a script click: its mousedown came before them, its mouseup after"
	}
	return "no script click was in progress when the person's began"
}

func ptrTo[T any](v T) *T { return &v }

// checkSources: every script event is on the script's button and every
// person's on the person's, so each source label is borne out by where the
// event landed as well.
func checkSources(t *testing.T, es []whoclicks.Entry) {
	t.Helper()
	for _, e := range es {
		if e.Target != e.Src || !e.Trusted {
			t.Fatalf("page saw %v (trusted %v): the source does not match the button", e, e.Trusted)
		}
	}
}
