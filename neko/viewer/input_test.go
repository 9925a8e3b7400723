package viewer

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// Shapes of neko v3.1.5's payload types (server/internal/webrtc/payload),
// read the way its handler reads them: binary.Read, big-endian, header
// first. If the encoding drifts from what neko decodes, these fail.
type (
	nekoHeader struct {
		Event  uint8
		Length uint16
	}
	nekoMove   struct{ X, Y uint16 }
	nekoScroll struct {
		DeltaX, DeltaY int16
		ControlKey     bool
	}
	nekoKey  struct{ Key uint32 }
	nekoPing struct{ ClientTs1, ClientTs2 uint32 }
)

// decodeAsNeko reads msg as neko's handler does and checks that the header
// Length is the payload's size (neko picks the scroll variant by it).
func decodeAsNeko(t *testing.T, msg []byte, body any) nekoHeader {
	t.Helper()
	r := bytes.NewReader(msg)
	var h nekoHeader
	if err := binary.Read(r, binary.BigEndian, &h); err != nil {
		t.Fatalf("header of % x: %v", msg, err)
	}
	if int(h.Length) != r.Len() {
		t.Fatalf("header length %d, payload %d bytes (% x)", h.Length, r.Len(), msg)
	}
	if err := binary.Read(r, binary.BigEndian, body); err != nil {
		t.Fatalf("payload of % x: %v", msg, err)
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes left over in % x", r.Len(), msg)
	}
	return h
}

func TestEncodingAsNekoDecodesIt(t *testing.T) {
	msg, err := encodeMove(1279, 719)
	if err != nil {
		t.Fatal(err)
	}
	var mv nekoMove
	if h := decodeAsNeko(t, msg, &mv); h.Event != 0x01 || mv != (nekoMove{1279, 719}) {
		t.Fatalf("move: %+v %+v", h, mv)
	}
	// The exact bytes neko's web client writes for a move to (300, 2).
	if want := []byte{0x01, 0x00, 0x04, 0x01, 0x2c, 0x00, 0x02}; !bytes.Equal(mustMove(t, 300, 2), want) {
		t.Fatalf("move bytes % x, want % x", mustMove(t, 300, 2), want)
	}

	msg, err = encodeScroll(-3, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	var sc nekoScroll
	if h := decodeAsNeko(t, msg, &sc); h.Event != 0x02 || h.Length != 5 || sc != (nekoScroll{-3, 2, true}) {
		t.Fatalf("scroll: %+v %+v", h, sc)
	}

	for _, c := range []struct {
		op   byte
		code uint32
	}{{opKeyDown, 0x61}, {opKeyUp, KeyShiftL}, {opBtnDown, 1}, {opBtnUp, 3}, {opKeyDown, 0x010020ac}} {
		var k nekoKey
		if h := decodeAsNeko(t, encodeKey(c.op, c.code), &k); h.Event != c.op || k.Key != c.code {
			t.Fatalf("key %#x: %+v %+v", c.code, h, k)
		}
	}

	var p nekoPing
	ts := uint64(1_790_000_000_123)
	if h := decodeAsNeko(t, encodePing(ts), &p); h.Event != 0x07 {
		t.Fatalf("ping header %+v", h)
	}
	// neko's own recombination (payload.Ping.ClientTs).
	if got := uint64(p.ClientTs1)*uint64(math.MaxUint32) + uint64(p.ClientTs2); got != ts {
		t.Fatalf("ping ts %d, want %d", got, ts)
	}
}

func mustMove(t *testing.T, x, y int) []byte {
	t.Helper()
	b, err := encodeMove(x, y)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodingRejectsWhatNekoCannotCarry(t *testing.T) {
	for _, p := range [][2]int{{-1, 0}, {0, -1}, {65536, 0}, {0, 70000}} {
		if _, err := encodeMove(p[0], p[1]); err == nil || !strings.Contains(err.Error(), "0..65535") {
			t.Errorf("move %v: %v", p, err)
		}
	}
	for _, d := range [][2]int{{40000, 0}, {0, -40000}} {
		if _, err := encodeScroll(d[0], d[1], false); err == nil || !strings.Contains(err.Error(), "int16") {
			t.Errorf("scroll %v: %v", d, err)
		}
	}
}

// neko's answers as its server writes them (webrtc/handler.go pong, peer.go
// cursor position): header then payload, big-endian.
func TestDecodeServer(t *testing.T) {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, nekoHeader{opPong, 19})
	_ = binary.Write(&b, binary.BigEndian, []uint32{0, 123, 0, 456})
	op, _, _, p, ok := decodeServer(b.Bytes())
	if !ok || op != opPong || p.client != 123 || p.server != 456 {
		t.Fatalf("pong: %v %v %+v", op, ok, p)
	}
	b.Reset()
	_ = binary.Write(&b, binary.BigEndian, nekoHeader{opCursorPosition, 4})
	_ = binary.Write(&b, binary.BigEndian, nekoMove{640, 360})
	if op, x, y, _, ok := decodeServer(b.Bytes()); !ok || op != opCursorPosition || x != 640 || y != 360 {
		t.Fatalf("cursor: %v %v %d %d", op, ok, x, y)
	}
	for _, bad := range [][]byte{nil, {1}, {1, 0, 4, 0}, {3, 0, 19, 1, 2}, {0x7f, 0, 0}} {
		if _, _, _, _, ok := decodeServer(bad); ok {
			t.Errorf("% x decoded", bad)
		}
	}
}

func FuzzDecodeServer(f *testing.F) {
	f.Add([]byte{1, 0, 4, 0, 1, 0, 2})
	f.Add([]byte{3, 0, 19})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeServer(b) // must not panic
	})
}

func TestKeystrokes(t *testing.T) {
	cases := []struct {
		r     rune
		sym   uint32
		shift bool
	}{
		{'a', 0x61, false}, {'A', 0x41, true}, {'1', 0x31, false}, {'!', 0x21, true},
		{' ', 0x20, false}, {'?', 0x3f, true}, {'\n', KeyReturn, false}, {'é', 0xe9, false},
		{'€', 0x010020ac, false},
	}
	for _, c := range cases {
		k, err := keystrokeFor(c.r)
		if err != nil || k.keysym != c.sym || k.shift != c.shift {
			t.Errorf("%q: %+v %v, want %#x shift=%v", c.r, k, err, c.sym, c.shift)
		}
	}
	for _, r := range []rune{0x01, 0x7f, 0x9b} {
		if _, err := keystrokeFor(r); err == nil || !strings.Contains(err.Error(), "no keysym") {
			t.Errorf("%U: %v", r, err)
		}
	}
}

func TestIsKeyframe(t *testing.T) {
	// VP8 payload descriptor: S=1, PID=0 (0x10), then the payload header
	// whose lowest bit is 0 for a key frame (RFC 7741).
	if !isKeyframe("video/VP8", []byte{0x10, 0x00, 0x9d, 0x01}) {
		t.Error("VP8 key frame not seen")
	}
	if isKeyframe("video/VP8", []byte{0x10, 0x01}) {
		t.Error("VP8 delta frame taken for a key frame")
	}
	if isKeyframe("video/VP8", []byte{0x00, 0x00}) {
		t.Error("VP8 continuation packet taken for a key frame")
	}
	if !isKeyframe("video/H264", []byte{0x65}) || !isKeyframe("video/H264", []byte{24, 0, 1, 0x67}) || !isKeyframe("video/H264", []byte{28, 0x85}) {
		t.Error("H264 IDR, STAP-A with SPS or FU-A start of IDR not seen")
	}
	if isKeyframe("video/H264", []byte{0x41}) || isKeyframe("video/H264", []byte{28, 0x05}) || isKeyframe("video/H264", nil) {
		t.Error("H264 non-IDR taken for a key frame")
	}
}
