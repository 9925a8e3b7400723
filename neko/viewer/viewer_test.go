package viewer

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/internal/pagelog"
	"github.com/codrive/codrive/internal/pixels"
	"github.com/codrive/codrive/neko"
)

// The page the shared Chromium shows: a magenta button, a cyan text field
// and a tall body, each reporting what reaches it (pagelog entries, and
// window.events as the page's own record).
const testPage = `<!doctype html><meta charset=utf-8><title>viewer test</title>
<style>html,body{margin:0;background:#fff}body{height:5000px}
#btn{position:fixed;left:80px;top:60px;width:240px;height:120px;background:#ff00ff;border:0}
#text{position:fixed;left:400px;top:60px;width:360px;height:60px;background:#00ffff;border:0;font-size:24px;outline:0;caret-color:transparent}</style>
<button id=btn></button><input id=text autocomplete=off spellcheck=false>
<script>
window.events = [];
const log = e => { events.push(e); console.log("pagelog " + JSON.stringify(e)); };
for (const type of ["mousedown", "mouseup", "click"])
  addEventListener(type, e => log({type, target: e.target.id, x: e.clientX, y: e.clientY, sx: e.screenX, sy: e.screenY, trusted: e.isTrusted}), true);
document.getElementById("text").addEventListener("input", e => log({type: "input", value: e.target.value}));
addEventListener("scroll", () => log({type: "scroll", y: scrollY}));
</script>`

var (
	magenta = color.RGBA{0xff, 0x00, 0xff, 0xff}
	cyan    = color.RGBA{0x00, 0xff, 0xff, 0xff}
)

type pageEvent struct {
	Type    string  `json:"type"`
	Target  string  `json:"target"`
	X       float64 `json:"x"`
	Y       float64 `json:"y"`
	SX      float64 `json:"sx"`
	SY      float64 `json:"sy"`
	Trusted bool    `json:"trusted"`
	Value   string  `json:"value"`
}

// nekotest has no media: Join must say so, not hang.
func TestJoinWithoutMediaFailsClearly(t *testing.T) {
	if _, err := Join(context.Background(), nil, Options{}); err == nil {
		t.Fatal("Join with a nil client succeeded")
	}
	srv := nekoserver.Start(t, nekoserver.KindNekotest, nekoserver.Options{})
	_, err := Join(ctxT(t), login(t, srv, "alice", nekoserver.UserPassword), Options{ConnectTimeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrNoOffer) || !strings.Contains(err.Error(), "signal/request") {
		t.Fatalf("join on nekotest: %v, want ErrNoOffer", err)
	}
	// A sooner deadline of the caller's bounds it too, with the same account.
	ctx, cancel := context.WithTimeout(ctxT(t), 300*time.Millisecond)
	defer cancel()
	_, err = Join(ctx, login(t, srv, "bob", nekoserver.UserPassword), Options{})
	if !errors.Is(err, ErrNoOffer) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("join with a 300ms context: %v, want ErrNoOffer and the deadline", err)
	}
}

// neko advertising an address nothing listens on (a NAT1TO1 mistake, the
// most common deployment failure): Join reports ICE, with neko's candidates.
func TestJoinReportsUnreachableCandidates(t *testing.T) {
	requireNeko(t)
	srv := nekoserver.Start(t, nekoserver.KindNeko, nekoserver.Options{Env: []string{"NEKO_WEBRTC_NAT1TO1=127.0.0.2"}})
	_, err := Join(ctxT(t), login(t, srv, "alice", nekoserver.UserPassword), Options{ConnectTimeout: 3 * time.Second})
	if !errors.Is(err, ErrNotConnected) && !errors.Is(err, ErrICEFailed) {
		t.Fatalf("join with unreachable candidates: %v, want ErrNotConnected or ErrICEFailed", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.2") {
		t.Fatalf("the error does not show neko's candidates: %v", err)
	}
}

// A viewer watches: frames and keyframes arrive, the data channel answers
// pings, neko tells it where the pointer is; Close ends everything.
func TestWatch(t *testing.T) {
	srv, _ := sharedStack(t)
	v := join(t, srv, "watcher")
	st, err := v.WaitFrames(ctxT(t), 30)
	if err != nil {
		t.Fatal(err)
	}
	if st.Codec != "video/VP8" || st.Keyframes < 1 || st.Packets < st.Frames || st.Bytes == 0 {
		t.Fatalf("video: %+v", st)
	}
	t.Logf("video: %d frames (%d keyframes) in %v, %.1f frames/s, %d packets, %d bytes",
		st.Frames, st.Keyframes, st.Last.Sub(st.First).Round(time.Millisecond), st.FPS(), st.Packets, st.Bytes)
	if _, err := v.Ping(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := v.Cursor(); !ok {
		t.Fatal("neko sent no cursor position when the data channel opened")
	}
	if s := v.ScreenSize(); s.Width != 1280 || s.Height != 720 {
		t.Fatalf("screen %+v", s)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(v.Err(), ErrClosed) {
		t.Fatalf("Err after Close: %v", v.Err())
	}
	if err := v.Move(ctxT(t), 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("move after Close: %v", err)
	}
	if _, err := v.Ping(ctxT(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("ping after Close: %v", err)
	}
}

// A person's input reaches the page through neko and X: a click where the
// button shows on neko's screen, typed text, the wheel. Input without
// control is refused; with implicit hosting, input takes control.
func TestInputReachesThePage(t *testing.T) {
	srv, chrome := sharedStack(t)
	page, err := pagelog.Attach[pageEvent](ctxT(t), chrome.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	v := join(t, srv, "person")
	ctx := ctxT(t)

	if err := v.Move(ctx, 10, 10); !errors.Is(err, ErrNotHost) {
		t.Fatalf("move without control, implicit hosting off: %v, want ErrNotHost", err)
	}
	if err := v.Move(ctx, 1280, 10); err == nil || !strings.Contains(err.Error(), "outside the 1280x720 screen") {
		t.Fatalf("move off screen: %v", err)
	}
	if err := v.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}

	// Aim as a person does: at where the button shows on the screen.
	btn := findOnScreen(t, srv, magenta)
	aim := pixels.Center(btn)
	if err := v.Click(ctx, aim.X, aim.Y); err != nil {
		t.Fatal(err)
	}
	es, err := page.Wait(ctx, "the click", func(es []pageEvent) bool { return countType(es, "click") == 1 })
	if err != nil {
		t.Fatal(err)
	}
	var rect struct{ Left, Top, Right, Bottom float64 }
	if err := page.Eval(ctx, `(r => ({left: r.left, top: r.top, right: r.right, bottom: r.bottom}))(document.getElementById("btn").getBoundingClientRect())`, &rect); err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !e.Trusted || e.Target != "btn" || e.X < rect.Left || e.X >= rect.Right || e.Y < rect.Top || e.Y >= rect.Bottom {
			t.Fatalf("page saw %+v, want trusted events on #btn %+v", e, rect)
		}
		// neko warps X's pointer to exactly the viewer's coordinates.
		if e.SX != float64(aim.X) || e.SY != float64(aim.Y) {
			t.Fatalf("page saw the %s at screen (%v, %v), the viewer clicked (%d, %d)", e.Type, e.SX, e.SY, aim.X, aim.Y)
		}
	}
	if types := typesOf(es); strings.Join(types, ",") != "mousedown,mouseup,click" {
		t.Fatalf("events %v", types)
	}
	t.Logf("clicked screen (%d, %d): the page saw client (%v, %v) on #btn %+v", aim.X, aim.Y, es[0].X, es[0].Y, rect)

	field := pixels.Center(findOnScreen(t, srv, cyan))
	if err := v.Click(ctx, field.X, field.Y); err != nil {
		t.Fatal(err)
	}
	const text = "Hello, World! 1+1=2 ~"
	if err := v.Type(ctx, text); err != nil {
		t.Fatal(err)
	}
	if _, err := page.Wait(ctx, "the typed text", func(es []pageEvent) bool {
		return len(es) > 0 && es[len(es)-1].Type == "input" && es[len(es)-1].Value == text
	}); err != nil {
		var value string
		_ = page.Eval(ctx, `document.getElementById("text").value`, &value)
		t.Fatalf("%v; the field holds %q", err, value)
	}
	if err := v.Type(ctx, "\x01"); err == nil {
		t.Fatal("typing a control character succeeded")
	}

	// The web client's "scroll down" (neko: dy < 0 is button 5).
	if err := v.Scroll(ctx, 0, -3, false); err != nil {
		t.Fatal(err)
	}
	if _, err := page.Wait(ctx, "a scroll down", func(es []pageEvent) bool {
		return len(es) > 0 && es[len(es)-1].Type == "scroll" && es[len(es)-1].Y > 0
	}); err != nil {
		t.Fatal(err)
	}

	if err := v.ReleaseControl(ctx); err != nil {
		t.Fatal(err)
	}
	if v.IsHost() {
		t.Fatal("still host after ReleaseControl")
	}
}

// With implicit hosting on, the first input of a viewer takes control from
// whoever hosts (over the WebSocket, as neko's web client does), and only
// then is sent: neko moves the pointer, which it does for the host alone,
// and tells the other viewers where it went.
func TestImplicitHostingTakesControl(t *testing.T) {
	srv, _ := sharedStack(t)
	ctx := ctxT(t)
	if err := srv.UpdateSettings(ctx, neko.SettingsPatch{ImplicitHosting: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.UpdateSettings(context.Background(), neko.SettingsPatch{ImplicitHosting: ptr(false)}) })

	bob := join(t, srv, "bob")
	if err := bob.RequestControl(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bob.Move(ctx, 5, 5); err != nil {
		t.Fatal(err)
	}
	carol := join(t, srv, "carol")
	if !carol.Conn().Room().Settings.ImplicitHosting {
		t.Fatal("carol's system/init does not show implicit hosting on")
	}
	if err := carol.Move(ctx, 640, 360); err != nil {
		t.Fatalf("move with implicit hosting: %v", err)
	}
	if !carol.IsHost() {
		t.Fatal("carol's move did not make her host")
	}
	// neko handles carol's messages in order and tells bob synchronously
	// (cursor/position.go Set): after carol's pong, bob's next pong is
	// queued behind the position on bob's ordered channel.
	if _, err := carol.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if x, y, ok := bob.Cursor(); !ok || x != 640 || y != 360 {
		t.Fatalf("bob sees the pointer at (%d, %d) %v, want carol's (640, 360)", x, y, ok)
	}
	if err := bob.Move(ctx, 1, 1); err != nil {
		t.Fatalf("bob takes control back by moving: %v", err)
	}
	if !bob.IsHost() {
		t.Fatal("bob's move did not make him host again")
	}
}

func ptr[T any](v T) *T { return &v }

func countType(es []pageEvent, typ string) int {
	n := 0
	for _, e := range es {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func typesOf(es []pageEvent) []string {
	var ts []string
	for _, e := range es {
		ts = append(ts, e.Type)
	}
	return ts
}

// findOnScreen waits until neko's own screenshot (what it streams) shows a
// sizeable patch of c, and returns its box in screen pixels.
func findOnScreen(t *testing.T, srv nekoserver.Server, c color.RGBA) image.Rectangle {
	t.Helper()
	admin := login(t, srv, "screen-admin", nekoserver.AdminPassword)
	box, err := pixels.Find(ctxT(t), func(ctx context.Context) (image.Image, error) {
		b, err := admin.ScreenShot(ctx)
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

// neko going away ends the viewer with a reason, and input then fails
// with it instead of hanging.
func TestNekoGoneEndsTheViewer(t *testing.T) {
	requireNeko(t)
	srv := nekoserver.Start(t, nekoserver.KindNeko, nekoserver.Options{})
	v, err := Join(ctxT(t), login(t, srv, "dana", nekoserver.UserPassword), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.WaitFrames(ctxT(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(ctxT(t), nekoserver.Abrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-v.Done():
	case <-ctxT(t).Done():
		t.Fatal("the viewer did not notice neko was gone")
	}
	if !errors.Is(v.Err(), ErrClosed) && !errors.Is(v.Err(), ErrICEFailed) {
		t.Fatalf("Err after neko died: %v", v.Err())
	}
	if err := v.Click(ctxT(t), 10, 10); err == nil || !errors.Is(err, v.Err()) {
		t.Fatalf("click after neko died: %v, want %v", err, v.Err())
	}
	if _, err := v.WaitFrames(ctxT(t), 1<<40); err == nil {
		t.Fatal("waiting for frames from a dead neko succeeded")
	}
}

// With the controls locked, neko drops a user's request without a word;
// the viewer says so at once instead of waiting for a host that never comes.
func TestLockedControlsRefuseAtOnce(t *testing.T) {
	srv, _ := sharedStack(t)
	ctx := ctxT(t)
	if err := srv.UpdateSettings(ctx, neko.SettingsPatch{LockedControls: ptr(true), ImplicitHosting: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.UpdateSettings(context.Background(), neko.SettingsPatch{LockedControls: ptr(false), ImplicitHosting: ptr(false)})
	})
	// Were it to wait for a host, it would fail with the context's
	// deadline (HostTimeout is longer), not ErrNotHost.
	c := login(t, srv, "erin", nekoserver.UserPassword)
	v, err := Join(ctx, c, Options{HostTimeout: 2 * deadline})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.RequestControl(ctx); !errors.Is(err, ErrNotHost) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("request with locked controls: %v", err)
	}
	if err := v.Move(ctx, 10, 10); !errors.Is(err, ErrNotHost) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("implicit hosting with locked controls: %v", err)
	}
}
