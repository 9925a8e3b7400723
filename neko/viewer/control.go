package viewer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/codrive/codrive/neko"
)

// IsHost reports whether the viewer hosts, as far as its WebSocket has
// been told (neko may already have moved host: input sent then is dropped).
func (v *Viewer) IsHost() bool { return v.conn.IsHost() }

// RequestControl asks for host control as the web client's control button
// does (control/request on the WebSocket) and returns once neko makes the
// viewer host. neko never answers a refused request: while someone else
// hosts and implicit hosting is off, neko only tells the host
// (handler/control.go controlRequest), and this fails after
// Options.HostTimeout.
func (v *Viewer) RequestControl(ctx context.Context) error {
	if err := v.Err(); err != nil {
		return err
	}
	if v.conn.IsHost() {
		return nil
	}
	if v.conn.Room().Settings.LockedControls && !v.client.Profile().IsAdmin {
		// neko drops the request without a word (controlRequest).
		return fmt.Errorf("%w: request control: the room's controls are locked and only admins may host", ErrNotHost)
	}
	me := v.SessionID()
	events, unsubscribe := v.conn.Subscribe()
	defer unsubscribe()
	if err := v.conn.RequestControl(); err != nil {
		return fmt.Errorf("viewer: request control: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.HostTimeout)
	defer cancel()
	if _, err := neko.Await(ctx, events, neko.HostIs(me)); err != nil {
		if v.conn.IsHost() {
			return nil // made host between Subscribe and the request
		}
		host := v.conn.Room().Host
		return fmt.Errorf("viewer: request control: not made host (host now %q, implicit hosting %v): %w",
			host.HostID, v.conn.Room().Settings.ImplicitHosting, err)
	}
	return nil
}

// ReleaseControl gives host control back (control/release) and returns
// once neko has taken it from the viewer.
func (v *Viewer) ReleaseControl(ctx context.Context) error {
	if err := v.Err(); err != nil {
		return err
	}
	if !v.conn.IsHost() {
		return nil
	}
	me := v.SessionID()
	events, unsubscribe := v.conn.Subscribe()
	defer unsubscribe()
	if err := v.conn.ReleaseControl(); err != nil {
		return fmt.Errorf("viewer: release control: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, v.opts.HostTimeout)
	defer cancel()
	_, err := neko.Await(ctx, events, func(ev neko.Event) bool {
		h, ok := ev.Payload.(*neko.ControlHost)
		return ok && ev.Name == neko.EventControlHost && !(h.HasHost && h.HostID == me)
	})
	if err != nil && v.conn.IsHost() {
		return fmt.Errorf("viewer: release control: %w", err)
	}
	return nil
}

// ensureHost makes sure input will be acted on. With implicit hosting on,
// a non-host's input first takes control, as the web client does: it asks
// on the WebSocket (control/request) and replays the input once host,
// because neko's data channel handler ignores non-hosts
// (server/internal/webrtc/handler.go). The web client does this for a
// press; the Viewer for any input, a move included.
func (v *Viewer) ensureHost(ctx context.Context, what string) error {
	if v.conn.IsHost() {
		return nil
	}
	room := v.conn.Room()
	if !room.Settings.ImplicitHosting {
		who := "nobody hosts"
		if room.Host.HasHost {
			who = "session " + room.Host.HostID + " hosts"
		}
		return fmt.Errorf("%w: %s: %s and implicit hosting is off, so neko would drop the input; RequestControl first", ErrNotHost, what, who)
	}
	if err := v.RequestControl(ctx); err != nil {
		return fmt.Errorf("viewer: %s: implicit hosting: %w", what, err)
	}
	return nil
}

// send writes one input message on the data channel.
func (v *Viewer) send(what string, msg []byte) error {
	if err := v.Err(); err != nil {
		return fmt.Errorf("viewer: %s: %w", what, err)
	}
	v.mu.Lock()
	dc := v.dc
	v.mu.Unlock()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		return fmt.Errorf("viewer: %s: %w", what, ErrDataChannel)
	}
	if err := dc.Send(msg); err != nil {
		return fmt.Errorf("viewer: %s: %w: %v", what, ErrDataChannel, err)
	}
	return nil
}

// input takes control if it must and sends msg.
func (v *Viewer) input(ctx context.Context, what string, msg []byte) error {
	if err := v.Err(); err != nil {
		return fmt.Errorf("viewer: %s: %w", what, err)
	}
	if err := v.ensureHost(ctx, what); err != nil {
		return err
	}
	return v.send(what, msg)
}

// Move moves the pointer to (x, y) in screen pixels, the space of the video
// (neko's ScreenSize). neko warps X's pointer there unchanged; where that
// is on a page depends on the browser window's place and scale.
func (v *Viewer) Move(ctx context.Context, x, y int) error {
	what := fmt.Sprintf("move to (%d, %d)", x, y)
	if s := v.ScreenSize(); s.Width > 0 && (x < 0 || y < 0 || x >= s.Width || y >= s.Height) {
		return fmt.Errorf("viewer: %s: outside the %dx%d screen", what, s.Width, s.Height)
	}
	msg, err := encodeMove(x, y)
	if err != nil {
		return err
	}
	return v.input(ctx, what, msg)
}

// ButtonDown presses a pointer button where the pointer is.
func (v *Viewer) ButtonDown(ctx context.Context, b Button) error {
	if !b.valid() {
		return fmt.Errorf("viewer: button %d: X buttons are 1..9", b)
	}
	return v.input(ctx, fmt.Sprintf("button %d down", b), encodeKey(opBtnDown, uint32(b)))
}

// ButtonUp releases a pointer button.
func (v *Viewer) ButtonUp(ctx context.Context, b Button) error {
	if !b.valid() {
		return fmt.Errorf("viewer: button %d: X buttons are 1..9", b)
	}
	return v.input(ctx, fmt.Sprintf("button %d up", b), encodeKey(opBtnUp, uint32(b)))
}

// Click is a left click at (x, y).
func (v *Viewer) Click(ctx context.Context, x, y int) error {
	return v.ClickButton(ctx, x, y, ButtonLeft)
}

// ClickButton clicks b at (x, y) as the web client sends a click: the
// position before the press and again before the release.
func (v *Viewer) ClickButton(ctx context.Context, x, y int, b Button) error {
	if err := v.Move(ctx, x, y); err != nil {
		return err
	}
	if err := v.ButtonDown(ctx, b); err != nil {
		return err
	}
	if err := v.Move(ctx, x, y); err != nil {
		return errors.Join(err, v.ButtonUp(ctx, b))
	}
	return v.ButtonUp(ctx, b)
}

// Scroll sends a wheel event as neko reads it: each unit of dy is one
// press of X button 4 (dy > 0, up) or 5 (dy < 0, down), dx likewise of 6
// (right) and 7 (left) (server/pkg/xorg/xorg.c XScroll); control holds
// Ctrl meanwhile. The web client inverts the browser's wheel delta by
// default, so a person scrolling down sends dy < 0.
func (v *Viewer) Scroll(ctx context.Context, dx, dy int, control bool) error {
	msg, err := encodeScroll(dx, dy, control)
	if err != nil {
		return err
	}
	return v.input(ctx, fmt.Sprintf("scroll (%d, %d)", dx, dy), msg)
}

// KeyDown presses the key of an X keysym.
func (v *Viewer) KeyDown(ctx context.Context, keysym uint32) error {
	return v.input(ctx, fmt.Sprintf("key %#x down", keysym), encodeKey(opKeyDown, keysym))
}

// KeyUp releases the key of an X keysym.
func (v *Viewer) KeyUp(ctx context.Context, keysym uint32) error {
	return v.input(ctx, fmt.Sprintf("key %#x up", keysym), encodeKey(opKeyUp, keysym))
}

// Type types text key by key, as a person on a US keyboard would: Shift
// held around capitals and shifted symbols, Return for a newline. A
// character with no keysym fails before anything is sent.
func (v *Viewer) Type(ctx context.Context, text string) error {
	strokes := make([]keystroke, 0, len(text))
	for _, r := range text {
		k, err := keystrokeFor(r)
		if err != nil {
			return err
		}
		strokes = append(strokes, k)
	}
	for _, k := range strokes {
		if k.shift {
			if err := v.KeyDown(ctx, KeyShiftL); err != nil {
				return err
			}
		}
		err := v.KeyDown(ctx, k.keysym)
		if err == nil {
			err = v.KeyUp(ctx, k.keysym)
		}
		if k.shift {
			err = errors.Join(err, v.KeyUp(ctx, KeyShiftL))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Ping measures a round trip on the data channel: neko answers OP_PING
// with a pong at once, host or not (handler.go), so this is the transport's
// share of a person's input latency.
func (v *Viewer) Ping(ctx context.Context) (time.Duration, error) {
	v.pingMu.Lock()
	defer v.pingMu.Unlock()
	for len(v.pongs) > 0 { // late answers to pings given up on
		<-v.pongs
	}
	start := time.Now()
	ts := uint64(start.UnixMilli())
	if err := v.send("ping", encodePing(ts)); err != nil {
		return 0, err
	}
	for {
		select {
		case p := <-v.pongs:
			if p.client == ts {
				return time.Since(start), nil
			}
		case <-v.failed:
			return 0, fmt.Errorf("viewer: ping: %w", v.Err())
		case <-ctx.Done():
			return 0, fmt.Errorf("viewer: ping: no pong: %w", ctx.Err())
		}
	}
}

// Cursor is the host's pointer position as neko last sent it on the data
// channel (OP_CURSOR_POSITION, sent to every peer when the host moves it
// and once when the channel opens); ok is false before any.
func (v *Viewer) Cursor() (x, y int, ok bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.cursor[0], v.cursor[1], v.cursorSeen
}
