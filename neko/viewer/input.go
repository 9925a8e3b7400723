package viewer

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode"
)

// The binary protocol on neko's "data" data channel, as neko v3.1.5 decodes
// it (server/internal/webrtc/handler.go, server/internal/webrtc/payload):
// every message is a header {Event uint8, Length uint16} followed by Length
// bytes of payload, all big-endian. neko's web client writes exactly this
// (a DataView, big-endian by default, Length = the payload's size).
const (
	opMove    = 0x01 // payload.Move {X, Y uint16}
	opScroll  = 0x02 // payload.Scroll {DeltaX, DeltaY int16, ControlKey bool}
	opKeyDown = 0x03 // payload.Key {Key uint32}: an X keysym
	opKeyUp   = 0x04
	opBtnDown = 0x05 // payload.Key {Key uint32}: an X button number
	opBtnUp   = 0x06
	opPing    = 0x07 // payload.Ping {ClientTs1, ClientTs2 uint32}
)

// Server to client (server/internal/webrtc/payload/send.go).
const (
	opCursorPosition = 0x01 // {X, Y uint16}
	opCursorImage    = 0x02 // {Width, Height, Xhot, Yhot uint16} then a PNG
	opPong           = 0x03 // payload.Pong {Ping, ServerTs1, ServerTs2 uint32}
)

const headerLen = 3

// message encodes one client message: opcode, payload length, payload.
func message(op byte, payload []byte) []byte {
	b := make([]byte, headerLen+len(payload))
	b[0] = op
	binary.BigEndian.PutUint16(b[1:3], uint16(len(payload)))
	copy(b[headerLen:], payload)
	return b
}

// encodeMove is OP_MOVE: absolute X screen coordinates. neko hands them to
// XWarpPointer unchanged (server/pkg/xorg/xorg.c XMove), so they must fit
// the screen; they are checked against uint16 here and against the screen
// size by the Viewer.
func encodeMove(x, y int) ([]byte, error) {
	if x < 0 || y < 0 || x > math.MaxUint16 || y > math.MaxUint16 {
		return nil, fmt.Errorf("viewer: move to (%d, %d): coordinates must be 0..%d", x, y, math.MaxUint16)
	}
	p := make([]byte, 4)
	binary.BigEndian.PutUint16(p[0:2], uint16(x))
	binary.BigEndian.PutUint16(p[2:4], uint16(y))
	return message(opMove, p), nil
}

// encodeScroll is OP_SCROLL in its 5-byte form (neko also accepts an old
// 4-byte one without the control key, by its Length).
func encodeScroll(dx, dy int, control bool) ([]byte, error) {
	if dx < math.MinInt16 || dx > math.MaxInt16 || dy < math.MinInt16 || dy > math.MaxInt16 {
		return nil, fmt.Errorf("viewer: scroll (%d, %d): deltas must fit int16", dx, dy)
	}
	p := make([]byte, 5)
	binary.BigEndian.PutUint16(p[0:2], uint16(int16(dx)))
	binary.BigEndian.PutUint16(p[2:4], uint16(int16(dy)))
	if control {
		p[4] = 1
	}
	return message(opScroll, p), nil
}

// encodeKey is OP_KEY_DOWN/UP and OP_BTN_DOWN/UP: one uint32.
func encodeKey(op byte, code uint32) []byte {
	p := make([]byte, 4)
	binary.BigEndian.PutUint32(p, code)
	return message(op, p)
}

// encodePing is OP_PING. neko splits a millisecond timestamp in two uint32
// as ts/MaxUint32 and ts%MaxUint32 (not 2^32: payload.Ping.ClientTs) and
// echoes both back in the pong.
func encodePing(ts uint64) []byte {
	p := make([]byte, 8)
	binary.BigEndian.PutUint32(p[0:4], uint32(ts/math.MaxUint32))
	binary.BigEndian.PutUint32(p[4:8], uint32(ts%math.MaxUint32))
	return message(opPing, p)
}

// pong is a decoded OP_PONG.
type pong struct {
	client, server uint64 // milliseconds
}

func splitTs(hi, lo uint32) uint64 { return uint64(hi)*math.MaxUint32 + uint64(lo) }

// decodeServer reads one server message; ok is false for anything it does
// not know or that is too short (neko never sends those, but a bad message
// must not crash the viewer).
func decodeServer(b []byte) (op byte, x, y int, p pong, ok bool) {
	if len(b) < headerLen {
		return 0, 0, 0, pong{}, false
	}
	op, body := b[0], b[headerLen:]
	switch op {
	case opCursorPosition:
		if len(body) < 4 {
			return op, 0, 0, pong{}, false
		}
		return op, int(binary.BigEndian.Uint16(body[0:2])), int(binary.BigEndian.Uint16(body[2:4])), pong{}, true
	case opPong:
		if len(body) < 16 {
			return op, 0, 0, pong{}, false
		}
		be := binary.BigEndian
		return op, 0, 0, pong{
			client: splitTs(be.Uint32(body[0:4]), be.Uint32(body[4:8])),
			server: splitTs(be.Uint32(body[8:12]), be.Uint32(body[12:16])),
		}, true
	case opCursorImage:
		return op, 0, 0, pong{}, true
	}
	return op, 0, 0, pong{}, false
}

// Button is an X pointer button, as neko's web client sends it
// (MouseEvent.button + 1).
type Button uint32

// The buttons a person clicks with. Wheel buttons (4-7) are what Scroll
// makes neko press.
const (
	ButtonLeft   Button = 1
	ButtonMiddle Button = 2
	ButtonRight  Button = 3
)

func (b Button) valid() bool { return b >= 1 && b <= 9 }

// X keysyms the viewer uses (X11/keysymdef.h); neko's web client sends
// keysyms too (its Guacamole keyboard).
const (
	KeyBackSpace uint32 = 0xff08
	KeyTab       uint32 = 0xff09
	KeyReturn    uint32 = 0xff0d
	KeyEscape    uint32 = 0xff1b
	KeyShiftL    uint32 = 0xffe1
	KeyControlL  uint32 = 0xffe3
)

// usShifted are the ASCII symbols typed with Shift on a US keyboard.
const usShifted = `~!@#$%^&*()_+{}|:"<>?`

// keystroke is one key a person presses to type a character.
type keystroke struct {
	keysym uint32
	shift  bool
}

// keystrokeFor maps a character to the keysym a person's keyboard sends for
// it and whether Shift is held, as the web client's Guacamole keyboard
// does: Shift is pressed first for capitals and shifted symbols. It
// matters: neko looks a keysym up under the current modifiers
// (server/pkg/xorg/xorg.c XkbKeysymToKeycode), so 'A' without Shift held
// lands on a new keycode whose unshifted level types 'a'.
func keystrokeFor(r rune) (keystroke, error) {
	switch r {
	case '\n', '\r':
		return keystroke{keysym: KeyReturn}, nil
	case '\t':
		return keystroke{keysym: KeyTab}, nil
	case '\b':
		return keystroke{keysym: KeyBackSpace}, nil
	}
	switch {
	case r >= 0x20 && r <= 0x7e:
		shift := unicode.IsUpper(r)
		for _, s := range usShifted {
			if r == s {
				shift = true
			}
		}
		return keystroke{keysym: uint32(r), shift: shift}, nil
	case r >= 0xa0 && r <= 0xff:
		// Latin-1 keysyms equal the code point; neko maps a keysym no key
		// has onto a spare keycode (xorg.c XkbAddKeyKeysym).
		return keystroke{keysym: uint32(r), shift: unicode.IsUpper(r)}, nil
	case r > 0xff && r <= 0x10ffff && unicode.IsPrint(r):
		// Unicode keysyms (keysymdef.h: 0x01000000 + code point).
		return keystroke{keysym: 0x01000000 + uint32(r)}, nil
	}
	return keystroke{}, fmt.Errorf("viewer: cannot type %U: no keysym for it", r)
}
