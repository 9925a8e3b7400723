// Package whoclicks is test and benchmark support for a person and a script
// clicking the same page: a page that logs every mouse event with its
// source, and a script that clicks it again and again through a CDP
// endpoint (codrive's proxy, or Chromium itself).
//
// The evidence is the page's own. A script's events come through CDP
// Input.dispatchMouseEvent, which Script sends with Alt held (modifiers 1),
// on the green button; a person's come from X (XTEST, fed by neko from the
// WebRTC data channel), where nobody holds Alt, on the magenta one. So each
// event says who sent it twice over: by the Alt key and by where it landed.
package whoclicks

import (
	"context"
	"fmt"
	"image/color"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/internal/pagelog"
)

// Page logs every mousedown, mouseup and click, in window.log and as
// pagelog entries (Entry). Each has the page's clock: ms since the epoch,
// from the same system clock as Go's time.Now.
const Page = `<!doctype html><meta charset=utf-8><title>who clicks</title>
<style>html,body{margin:0;background:#fff}
#person{position:fixed;left:40px;top:40px;width:220px;height:140px;background:#ff00ff;border:0}
#script{position:fixed;left:300px;top:40px;width:220px;height:140px;background:#00c000;border:0}</style>
<button id=person></button><button id=script></button>
<script>
window.log = [];
for (const type of ["mousedown", "mouseup", "click"])
  addEventListener(type, e => {
    const entry = {n: log.length, type, src: e.altKey ? "script" : "person", target: e.target.id,
      x: e.clientX, y: e.clientY, sx: e.screenX, sy: e.screenY, trusted: e.isTrusted,
      t: performance.timeOrigin + performance.now()};
    log.push(entry);
    console.log("` + pagelog.Prefix + `" + JSON.stringify(entry));
  }, true);
</script>`

// WindowFlags place Chromium's window on neko's 1280x720 screen smaller
// than the screen, away from its corner, and scaled (device scale factor
// 1.25), so that screen pixels and page pixels differ in origin and in
// size: where desktop streaming goes wrong if a client maps one onto the
// other. Pass them as cdp.LaunchOptions.ExtraFlags.
var WindowFlags = []string{"--window-position=100,60", "--window-size=800,480", "--force-device-scale-factor=1.25"}

// PersonColour is the person's button, to find it on neko's screen.
var PersonColour = color.RGBA{0xff, 0x00, 0xff, 0xff}

// Sources, as Entry.Src has them.
const (
	Person = "person"
	Script = "script"
)

// Entry is one event of Page's log.
type Entry struct {
	N       int     `json:"n"`
	Type    string  `json:"type"` // mousedown, mouseup, click
	Src     string  `json:"src"`  // Person or Script
	Target  string  `json:"target"`
	X       float64 `json:"x"` // clientX, CSS px
	Y       float64 `json:"y"`
	SX      float64 `json:"sx"` // screenX, CSS px of the screen
	SY      float64 `json:"sy"`
	Trusted bool    `json:"trusted"`
	T       float64 `json:"t"` // ms since the epoch, the page's clock
}

func (e Entry) String() string {
	return fmt.Sprintf("#%d %s %s on %s at (%v, %v)", e.N, e.Src, e.Type, e.Target, e.X, e.Y)
}

// Count counts the events of src (and of type typ, unless "").
func Count(es []Entry, src, typ string) int {
	n := 0
	for _, e := range es {
		if e.Src == src && (typ == "" || e.Type == typ) {
			n++
		}
	}
	return n
}

// First is the index of the first event of src, -1 if none.
func First(es []Entry, src string) int {
	for i, e := range es {
		if e.Src == src {
			return i
		}
	}
	return -1
}

// Last is the index of the last event of src, -1 if none.
func Last(es []Entry, src string) int {
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Src == src {
			return i
		}
	}
	return -1
}

// Types lists the events' types, comma-separated.
func Types(es []Entry) string {
	ts := make([]string, len(es))
	for i, e := range es {
		ts[i] = e.Type
	}
	return strings.Join(ts, ",")
}

// scriptButton resolves to the middle of the script's button once the
// page has it.
const scriptButton = `new Promise(resolve => {
  const find = () => {
    const el = document.getElementById("script");
    if (!el) return false;
    const r = el.getBoundingClientRect();
    resolve({X: r.left + r.width / 2, Y: r.top + r.height / 2});
    return true;
  };
  if (!find()) addEventListener("DOMContentLoaded", find);
})`

// ScriptClicker clicks Page's green button through a CDP endpoint, each
// click a mousePressed and a mouseReleased command with Alt held, the next
// command sent as soon as the last is answered.
type ScriptClicker struct {
	page *cdp.Page
	x, y float64

	mu      sync.Mutex
	sent    int // commands sent
	replied int // commands answered
	err     error
	changed chan struct{}
	halt    bool
	done    chan struct{}
	stopped sync.Once
}

// StartScript attaches to the first tab at endpoint and starts clicking.
func StartScript(ctx context.Context, endpoint string) (*ScriptClicker, error) {
	page, err := cdp.Attach(ctx, endpoint, cdp.AttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("whoclicks: the script attaches: %w", err)
	}
	s := &ScriptClicker{page: page, changed: make(chan struct{}), done: make(chan struct{})}
	// A read, which codrive lets through whoever hosts. The tab may still
	// be loading the page (or be on the blank page before it): the promise
	// waits for the button, and a navigation that destroys the context it
	// runs in makes it fail, to be asked again in the new one.
	type point struct{ X, Y float64 }
	var p point
	rctx, cancel := context.WithCancel(page.Context())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	for {
		p, err = chromedp.Run(rctx, chromedp.Evaluate[point](scriptButton, chromedp.EvalAwaitPromise))
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "context") {
			break
		}
	}
	if err != nil {
		_ = page.Detach()
		return nil, fmt.Errorf("whoclicks: the script reads the page: %w", err)
	}
	s.x, s.y = p.X, p.Y
	go s.loop()
	return s, nil
}

func (s *ScriptClicker) loop() {
	defer close(s.done)
	for {
		for _, typ := range []input.DispatchMouseEventType{input.DispatchMouseEventTypeMousePressed, input.DispatchMouseEventTypeMouseReleased} {
			s.note(func() { s.sent++ })
			_, err := chromedp.Call(s.page.Context(), input.DispatchMouseEvent, input.DispatchMouseEventParams{
				Type: typ, X: s.x, Y: s.y, Button: input.MouseButtonLeft, ClickCount: 1, Modifiers: 1,
			})
			if err != nil {
				s.note(func() { s.err = err })
				return
			}
			s.note(func() { s.replied++ })
		}
		s.mu.Lock()
		halt := s.halt
		s.mu.Unlock()
		if halt {
			return
		}
	}
}

func (s *ScriptClicker) note(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
}

// Progress is (commands sent, commands answered).
func (s *ScriptClicker) Progress() (sent, replied int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.replied
}

// WaitReplied returns once n commands in all have been answered.
func (s *ScriptClicker) WaitReplied(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		replied, err, changed := s.replied, s.err, s.changed
		s.mu.Unlock()
		if replied >= n {
			return nil
		}
		if err != nil {
			return fmt.Errorf("whoclicks: the script failed after %d answers: %w", replied, err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("whoclicks: the script got %d answers, want %d: %w", replied, n, ctx.Err())
		}
	}
}

// Stop lets the click in progress finish (never half a click: the page
// would keep a pressed button) and detaches. A held command holds Stop
// until it is let through or ctx ends; then the script is cut off.
func (s *ScriptClicker) Stop(ctx context.Context) error {
	var err error
	s.stopped.Do(func() {
		s.mu.Lock()
		s.halt = true
		s.mu.Unlock()
		select {
		case <-s.done:
		case <-ctx.Done():
			err = fmt.Errorf("whoclicks: the script's last click never finished: %w", ctx.Err())
		}
		_ = s.page.Detach()
		<-s.done
	})
	return err
}
