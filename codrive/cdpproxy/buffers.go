package cdpproxy

import (
	"io"
	"strconv"
)

// headSize is how much of a message the proxy reads before it decides
// what to do with it: nearly every command and answer fits, and a message
// that does not is streamed (Chromium's screenshots, results, screencast
// frames) or buffered in chunks (a client message the gate must hold
// whole).
const headSize = 16 << 10

// headroom is free space before the head, where an answer's id is
// rewritten in place: `{"id":` and the longest int32 fit in 17 bytes, and
// the proxy's own id takes at least one digit of them.
const headroom = 16

type headBuf struct{ b [headroom + headSize]byte }

// getHead takes a head buffer from the proxy's pool: a sync.Pool, cheap
// per message (no lock, no allocation), and an idle connection holds none.
func (p *Proxy) getHead() *headBuf {
	if h, ok := p.heads.Get().(*headBuf); ok {
		return h
	}
	return new(headBuf)
}

// readHead reads up to headSize bytes of a message; whole tells whether
// that was all of it.
func readHead(rd io.Reader, h *headBuf) (n int, whole bool, err error) {
	n, err = io.ReadFull(rd, h.b[headroom:])
	switch err {
	case nil:
		return n, false, nil
	case io.EOF, io.ErrUnexpectedEOF:
		return n, true, nil
	}
	return n, false, err
}

// chunkSize is the largest unit a large client message is buffered in
// (they grow from 64 KiB): no copy doubles it as a growing slice would.
const chunkSize = 1 << 20

// payload is a client message the proxy holds: its head (nearly always
// the whole message) and, for a large one, the chunks after it.
type payload struct {
	head []byte
	rest [][]byte
}

func (pl *payload) size() int64 {
	n := int64(len(pl.head))
	for _, c := range pl.rest {
		n += int64(len(c))
	}
	return n
}

// own copies the head, which may live in a pooled buffer.
func (pl *payload) own() payload {
	return payload{head: append([]byte(nil), pl.head...), rest: pl.rest}
}

// bytes is the message in one piece; it copies only a chunked one.
func (pl *payload) bytes() []byte {
	if len(pl.rest) == 0 {
		return pl.head
	}
	b := make([]byte, 0, pl.size())
	b = append(b, pl.head...)
	for _, c := range pl.rest {
		b = append(b, c...)
	}
	return b
}

// writeTo writes the message with the bytes at [cut0, cut1) replaced by
// repl (cut1 == 0: unchanged).
func (pl *payload) writeTo(w io.Writer, cut0, cut1 int64, repl []byte) error {
	var off int64
	for i := -1; i < len(pl.rest); i++ {
		p := pl.head
		if i >= 0 {
			p = pl.rest[i]
		}
		start, end := off, off+int64(len(p))
		off = end
		if cut1 == 0 || end <= cut0 || start >= cut1 {
			if _, err := w.Write(p); err != nil {
				return err
			}
			continue
		}
		if cut0 > start {
			if _, err := w.Write(p[:cut0-start]); err != nil {
				return err
			}
		}
		if cut0 >= start {
			if _, err := w.Write(repl); err != nil {
				return err
			}
		}
		if cut1 < end {
			if _, err := w.Write(p[cut1-start:]); err != nil {
				return err
			}
		}
	}
	return nil
}

// formatID is an id as Chromium writes it.
func formatID(buf []byte, id int32) []byte { return strconv.AppendInt(buf, int64(id), 10) }

// retainPool is a websocket.BufferPool that, unlike sync.Pool, keeps its
// few buffers across garbage collections: a collection would otherwise
// empty it, and the next message would allocate and zero a fresh one.
type retainPool chan any

func newRetainPool(n int) retainPool { return make(retainPool, n) }

func (p retainPool) Get() any {
	select {
	case v := <-p:
		return v
	default:
		return nil
	}
}

func (p retainPool) Put(v any) {
	select {
	case p <- v:
	default:
	}
}
