package operator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/sanitize"
)

// serveEvents streams the session's events as Server-Sent Events: one
// "event: KIND" with "data: JSON" (the object `codrive attach --json`
// prints) per event, in order, after a first "state" event with the status
// as it is. A stream opened while codrive still starts waits for the
// session. It ends when the session closes, the client leaves, or Close.
func (o *Operator) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// EventSource reconnects after this long when the stream ends.
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	keep := time.NewTicker(o.opts.KeepAlive)
	defer keep.Stop()

	var s *codrive.Session
	for s == nil {
		select {
		case <-o.ready:
			s, _ = o.current()
		case <-keep.C:
			_, waiting := o.current()
			if !comment(w, rc, "codrive is starting: "+waiting) {
				return
			}
		case <-r.Context().Done():
			return
		case <-o.closed:
			return
		}
	}

	events, cancel := s.Subscribe()
	defer cancel()
	info := s.PageInfo()
	first := codrive.Event{Time: time.Now(), Kind: codrive.EventState, Reason: "subscribed", Status: s.Status(), Page: &info}
	seq := 0
	send := func(ev codrive.Event) bool {
		b, err := json.Marshal(ev)
		if err != nil {
			o.opts.Logger.Warn("codrive: event stream: cannot encode an event", "err", err)
			return true
		}
		seq++
		if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, ev.Kind, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(first) {
		return
	}
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				comment(w, rc, "session closed")
				return
			}
			if !send(ev) {
				return
			}
		case <-keep.C:
			if !comment(w, rc, "keep-alive") {
				return
			}
		case <-r.Context().Done():
			return
		case <-o.closed:
			return
		}
	}
}

// comment writes an SSE comment line, which clients ignore; a line break
// in text would end it early (sanitize.Text replaces it).
func comment(w http.ResponseWriter, rc *http.ResponseController, text string) bool {
	if _, err := fmt.Fprintf(w, ": %s\n\n", sanitize.Text(text)); err != nil {
		return false
	}
	return rc.Flush() == nil
}
