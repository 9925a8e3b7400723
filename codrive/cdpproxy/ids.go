package cdpproxy

import (
	"strconv"
	"sync"
	"time"
)

// idTable gives every command the proxy sends to Chromium on one
// connection an id of its own, and maps Chromium's answer back to the
// client's id. Client ids and the proxy's own commands (speculations) so
// never share a space: a client may use any int32 id, negative, zero, or
// the same on two sessions at once, and still gets exactly the answer
// Chromium would have given it directly.
//
// Only messages Chromium answers with an id are entered (header.idOK); the
// others pass unchanged, and Chromium answers them without one.
type idTable struct {
	mu   sync.Mutex
	next int32
	m    map[int32]sent
}

// sent is a command in flight, by the proxy's id.
type sent struct {
	client  int32           // the client's id
	session string          // its session: Chromium never answers commands of a session that detached
	done    func()          // an acting command's step, ended by the answer
	spec    chan specAnswer // a speculation's answer goes here instead of to the client
	held    *heldCmd        // the held command a speculation is for
	at      time.Time       // when it was written to Chromium; zero unless an Observer listens
	class   Class           // how the gate treats its method, for the Observer
}

// specAnswer is what a speculation learns of Chromium's answer: the
// message when it fits the head, or that the pump relayed it itself (a
// large answer, see fromChromium); the zero value when none will come.
type specAnswer struct {
	msg     []byte
	relayed bool
}

func (t *idTable) init() { t.m = make(map[int32]sent) }

// add enters a command and returns its id for Chromium: positive, and
// unused on this connection.
func (t *idTable) add(e sent) int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		if t.next == 1<<31-1 {
			t.next = 0
		}
		t.next++
		if _, used := t.m[t.next]; !used {
			t.m[t.next] = e
			return t.next
		}
	}
}

// take removes and returns the command Chromium answered.
func (t *idTable) take(id int32) (sent, bool) {
	t.mu.Lock()
	e, ok := t.m[id]
	if ok {
		delete(t.m, id)
	}
	t.mu.Unlock()
	return e, ok
}

// dropSession forgets the commands of a session that detached: Chromium
// will not answer them (probed: an awaitPromise in flight stays
// unanswered after Target.detachFromTarget).
func (t *idTable) dropSession(session string) []sent {
	t.mu.Lock()
	defer t.mu.Unlock()
	var gone []sent
	for id, e := range t.m {
		if e.session == session {
			gone = append(gone, e)
			delete(t.m, id)
		}
	}
	return gone
}

// clear forgets everything, when the connection ends.
func (t *idTable) clear() []sent {
	t.mu.Lock()
	defer t.mu.Unlock()
	gone := make([]sent, 0, len(t.m))
	for _, e := range t.m {
		gone = append(gone, e)
	}
	clear(t.m)
	return gone
}

// size is the number of commands in flight.
func (t *idTable) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// end settles commands that will get no answer: their steps end and their
// speculations learn it.
func end(gone []sent) {
	for _, e := range gone {
		if e.done != nil {
			e.done()
		}
		e.tell(specAnswer{})
	}
}

// tell hands a speculation its answer; its channel holds one, and only
// one answer ever comes (the entry is gone once answered).
func (e sent) tell(a specAnswer) {
	if e.spec == nil {
		return
	}
	select {
	case e.spec <- a:
	default:
	}
}

var prefixID = []byte(`{"id":`)

// answerID reads the id of an answer from Chromium, which writes it first:
// {"id":N,...}. end is the offset just after N; ok is false for anything
// else (events, and the id-less errors for messages it could not parse).
func answerID(msg []byte) (id int32, end int, ok bool) {
	if len(msg) < len(prefixID)+2 || string(msg[:len(prefixID)]) != string(prefixID) {
		return 0, 0, false
	}
	i := len(prefixID)
	if msg[i] == '-' {
		i++
	}
	for i < len(msg) && msg[i] >= '0' && msg[i] <= '9' {
		i++
	}
	if i == len(prefixID) || i >= len(msg) || (msg[i] != ',' && msg[i] != '}') {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(string(msg[len(prefixID):i]), 10, 32)
	if err != nil {
		return 0, 0, false
	}
	return int32(n), i, true
}
