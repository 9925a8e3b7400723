package cdpproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/gorilla/websocket"
)

// pumpUpstream relays Chromium → client. It reads a message's head, which
// is nearly always all of it, and streams the rest as it arrives: a
// screenshot or a 50 MB result is never held whole. The gate reads only
// answers' ids (to map them back, see ids.go) and a few small events.
func (r *relay) pumpUpstream() {
	for {
		mt, rd, err := r.upstream.NextReader()
		if err != nil {
			r.upstreamGone(err)
			return
		}
		hb := r.p.getHead()
		n, whole, err := readHead(rd, hb)
		var clientErr error
		if err == nil {
			clientErr, err = r.fromChromium(mt, hb, n, whole, rd)
		}
		r.p.heads.Put(hb)
		if err != nil {
			r.upstreamGone(err)
			return
		}
		if clientErr != nil {
			r.finish(0, "", websocket.CloseNormalClosure, "")
			return
		}
	}
}

// fromChromium relays one message whose first n bytes are in hb.
func (r *relay) fromChromium(mt int, hb *headBuf, n int, whole bool, rd io.Reader) (clientErr, upErr error) {
	msg := hb.b[headroom : headroom+n]
	if r.p.opts.LogCDP {
		r.log.Debug("cdpproxy: chromium → client", "cdp", truncate(string(msg), 4096))
	}
	out := msg
	if id, numEnd, ok := answerID(msg); ok {
		if e, found := r.ids.take(id); found {
			if e.done != nil {
				e.done()
			}
			if e.spec == nil {
				r.p.observeAnswer(e)
			}
			if e.spec != nil {
				if whole {
					e.tell(specAnswer{msg: bytes.Clone(msg)})
					return nil, nil
				}
				// A large answer is the evaluation's own result: V8's
				// refusal and Chromium's errors are a few hundred bytes.
				// It goes to the client as the held command's answer,
				// streamed, unless the command was answered meanwhile.
				if !r.settle(e.held, HeldAnswered, "") {
					e.tell(specAnswer{})
					_, err := io.Copy(io.Discard, rd)
					return nil, err
				}
				e.tell(specAnswer{relayed: true})
				r.p.nPassed.Add(1)
			}
			out = clientID(hb, numEnd, n, e.client)
		}
	} else if whole {
		r.noteEvent(msg)
	}
	if whole {
		return r.writeClientType(mt, out), nil
	}
	return r.streamToClient(mt, out, rd)
}

// clientID puts the client's id in place of the proxy's in the answer in
// hb, whose id ends at numEnd: `{"id":` and the client's digits end where
// ours did, in the headroom before the message. It returns the answer.
func clientID(hb *headBuf, numEnd, n int, client int32) []byte {
	var num [11]byte
	cid := formatID(num[:0], client)
	start := headroom + numEnd - len(prefixID) - len(cid)
	copy(hb.b[start:], prefixID)
	copy(hb.b[start+len(prefixID):], cid)
	return hb.b[start : headroom+n]
}

// streamToClient writes a message's head and copies the rest through as
// Chromium sends it.
func (r *relay) streamToClient(mt int, head []byte, rd io.Reader) (clientErr, upErr error) {
	r.clientMu.Lock()
	defer r.clientMu.Unlock()
	w, err := r.client.NextWriter(mt)
	if err != nil {
		return err, nil
	}
	if _, err := w.Write(head); err != nil {
		return err, nil
	}
	src := &errReader{r: rd}
	if _, err := io.Copy(w, src); err != nil {
		if src.err != nil {
			return nil, src.err
		}
		return err, nil
	}
	return w.Close(), nil
}

// errReader remembers its reader's error, to tell it from the writer's
// after io.Copy.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

// pumpClient relays client → Chromium through the gate.
func (r *relay) pumpClient() {
	for {
		mt, rd, err := r.client.NextReader()
		if err != nil {
			r.clientGone(err)
			return
		}
		if mt != websocket.TextMessage {
			// Chromium drops the connection without a word on one.
			r.refuse(websocket.CloseUnsupportedData, "codrive: binary frames are not CDP: send each message as a JSON text frame")
			return
		}
		hb := r.p.getHead()
		n, whole, err := readHead(rd, hb)
		ok := err == nil
		if !ok {
			r.clientGone(err)
		} else if msg := hb.b[headroom : headroom+n]; whole {
			r.sc.reset()
			r.sc.feed(msg)
			r.route(r.sc.finish(), payload{head: msg})
		} else {
			ok = r.fromClientLarge(msg, rd)
		}
		r.p.heads.Put(hb)
		if !ok {
			return
		}
	}
}

// fromClientLarge handles a client message longer than headSize whose
// head is read. When the head tells all the gate needs (the id, and a
// method that needs no params to decide) the rest is streamed to Chromium;
// otherwise the message is buffered in chunks, up to MaxMessage. False
// when the relay ended.
func (r *relay) fromClientLarge(head []byte, rd io.Reader) bool {
	r.sc.reset()
	r.sc.feed(head)
	if mapped, step, ok := r.streamable(); ok {
		return r.streamToChromium(head, rd, mapped, step)
	}
	pl := payload{head: head}
	total := int64(len(head))
	size := 4 * headSize
	for {
		chunk := make([]byte, size)
		size = min(2*size, chunkSize)
		n, err := io.ReadFull(rd, chunk)
		r.sc.feed(chunk[:n])
		total += int64(n)
		if total > r.p.opts.MaxMessage {
			pl.rest = nil
			return r.tooBig(rd, total)
		}
		if n > 0 {
			pl.rest = append(pl.rest, chunk[:n:n])
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			r.clientGone(err)
			return false
		}
	}
	r.route(r.sc.finish(), pl)
	r.p.mem.released(total)
	return true
}

// streamable decides, from the head alone, whether a large message can go
// to Chromium as it arrives: mapped tells whether its id is mapped, done
// is an acting command's step.
func (r *relay) streamable() (mapped bool, step Step, ok bool) {
	h := &r.sc.h
	switch {
	case r.sc.state == stError:
		return false, nil, true // not JSON Chromium takes: it answers without an id
	case !h.idDone:
		return false, nil, false
	case !h.idOK:
		return false, nil, true // an id Chromium refuses: it answers without one
	case !h.methodDone || isCodrive(h):
		return false, nil, false
	case r.ctrl == nil || (!h.hasMethod && !h.methodLong):
		return true, nil, true
	}
	if h.methodLong {
		return false, nil, false
	}
	switch Classify(h.method) {
	case Observing:
		return true, nil, true
	case Acting:
		if !r.busy() {
			if step, err := r.ctrl.Begin(r.p.ended, r.gest.kind(h)); err == nil {
				return true, step, true
			}
		}
	}
	return false, nil, false
}

// streamToChromium sends a large message on as it arrives, still scanning
// it: an answer Chromium will not give must not be waited for.
func (r *relay) streamToChromium(head []byte, rd io.Reader, mapped bool, step Step) bool {
	h := &r.sc.h
	var pid int32
	var num [11]byte
	var repl []byte
	cut0, cut1 := 0, 0
	if mapped {
		pid = r.ids.add(r.p.stamp(sent{client: h.id, session: h.session, done: r.gest.passed(h, step)}, h))
		repl = formatID(num[:0], pid)
		cut0, cut1 = int(h.idStart), int(h.idEnd)
	}
	r.p.nPassed.Add(1)
	src := &scanReader{r: rd, sc: &r.sc, left: r.p.opts.MaxMessage - int64(len(head))}
	err := r.streamUpstream(head, cut0, cut1, repl, src)
	if step != nil {
		step.Sent()
	}
	switch {
	case src.tooBig:
		r.refuse(websocket.CloseMessageTooBig, fmt.Sprintf("codrive: message larger than --max-message (%s); part of it went to Chromium", sizeText(r.p.opts.MaxMessage)))
		return false
	case src.err != nil:
		r.clientGone(src.err)
		return false
	case err != nil:
		return true // Chromium's side is gone: its pump tells the client
	}
	if mapped && !r.sc.finish().valid {
		// Chromium answers a message it cannot parse without an id.
		if e, ok := r.ids.take(pid); ok {
			end([]sent{e})
		}
	}
	return true
}

// streamUpstream writes head, with [cut0, cut1) replaced by repl, and then
// the rest of src, as one message.
func (r *relay) streamUpstream(head []byte, cut0, cut1 int, repl []byte, src io.Reader) error {
	r.upMu.Lock()
	defer r.upMu.Unlock()
	w, err := r.upstream.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	if cut1 == 0 {
		cut0, cut1 = len(head), len(head)
	}
	for _, p := range [][]byte{head[:cut0], repl, head[cut1:]} {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	if _, err := io.Copy(w, src); err != nil {
		return err
	}
	return w.Close()
}

var errTooBig = errors.New("message too big")

// scanReader feeds what it reads to the scanner, and stops at the limit.
type scanReader struct {
	r      io.Reader
	sc     *scanner
	left   int64
	tooBig bool
	err    error // the client's read error
}

func (s *scanReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if s.left -= int64(n); s.left < 0 {
		s.tooBig = true
		return 0, errTooBig
	}
	s.sc.feed(p[:n])
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// tooBig reads the rest of a message over MaxMessage without keeping it,
// still scanning for its id, and answers it with an error. False when the
// relay ended.
func (r *relay) tooBig(rd io.Reader, read int64) bool {
	var buf [32 << 10]byte
	for {
		n, err := rd.Read(buf[:])
		r.sc.feed(buf[:n])
		read += int64(n)
		if err == io.EOF {
			break
		}
		if err != nil {
			r.clientGone(err)
			return false
		}
	}
	h := r.sc.finish()
	msg := fmt.Sprintf("codrive: message of %s is larger than the proxy's --max-message (%s): not sent to Chromium", sizeText(read), sizeText(r.p.opts.MaxMessage))
	r.log.Info("cdpproxy: message too big", "bytes", read, "limit", r.p.opts.MaxMessage)
	_ = r.replyError(h.replyTo(), -32600, msg)
	r.p.mem.released(r.p.opts.MaxMessage)
	return true
}

func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// writeClient writes one text message to the client.
func (r *relay) writeClient(b []byte) error { return r.writeClientType(websocket.TextMessage, b) }

func (r *relay) writeClientType(mt int, b []byte) error {
	r.clientMu.Lock()
	defer r.clientMu.Unlock()
	return r.client.WriteMessage(mt, b)
}

// writeUpstream writes a client message to Chromium, its id replaced by
// pid when mapped.
func (r *relay) writeUpstream(pl *payload, h *header, pid int32, mapped bool) error {
	var num [11]byte
	var cut0, cut1 int64
	var repl []byte
	if mapped {
		repl = formatID(num[:0], pid)
		cut0, cut1 = h.idStart, h.idEnd
	}
	r.upMu.Lock()
	defer r.upMu.Unlock()
	w, err := r.upstream.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	if err := pl.writeTo(w, cut0, cut1, repl); err != nil {
		return err
	}
	return w.Close()
}

// writeUpstreamRaw writes the proxy's own message to Chromium.
func (r *relay) writeUpstreamRaw(b []byte) error {
	r.upMu.Lock()
	defer r.upMu.Unlock()
	return r.upstream.WriteMessage(websocket.TextMessage, b)
}
