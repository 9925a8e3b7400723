package operator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
	"github.com/codrive/codrive/neko/nekotest"
)

// sseEvent is one event of the stream as a client reads it.
type sseEvent struct {
	id, name string
	ev       codrive.Event
}

// openEvents opens GET /codrive/events and delivers what it reads, and
// the comment lines, until the stream ends (the channel closes).
func openEvents(t *testing.T, url string) (<-chan sseEvent, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body.Close()
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events, comments := make(chan sseEvent, 64), make(chan string, 64)
	go func() {
		defer resp.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sseEvent
		var data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if data != "" {
					if err := json.Unmarshal([]byte(data), &cur.ev); err != nil {
						cur.name = "UNDECODABLE " + data
					}
					events <- cur
				}
				cur, data = sseEvent{}, ""
			case strings.HasPrefix(line, ":"):
				select {
				case comments <- strings.TrimSpace(line[1:]):
				default:
				}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				data += line[6:]
			}
		}
	}()
	return events, comments
}

// next returns the first event satisfying ok, failing after testTimeout
// or when the stream ends.
func next(t *testing.T, events <-chan sseEvent, what string, ok func(sseEvent) bool) sseEvent {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case e, open := <-events:
			if !open {
				t.Fatalf("the stream ended before %s", what)
			}
			if strings.HasPrefix(e.name, "UNDECODABLE") {
				t.Fatalf("an event's data is not an Event: %s", e.name)
			}
			if ok(e) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s within %v", what, testTimeout)
		}
	}
}

// The stream delivers the session's events, named by kind, in order, with
// the JSON of attach --json, starting with the status as it is.
func TestEventStream(t *testing.T) {
	t.Parallel()
	r := newRig(t, operator.Options{}, nil)
	events, _ := openEvents(t, r.http.URL+"/codrive/events")
	first := next(t, events, "the first event", func(sseEvent) bool { return true })
	if first.name != "state" || first.ev.Reason != "subscribed" || first.id != "1" || first.ev.Status.Session == "" || first.ev.Page == nil {
		t.Fatalf("first event %+v", first)
	}
	if code, body := call(t, "POST", r.http.URL+"/codrive/pause", ""); code != 200 || !status(t, body).Paused {
		t.Fatalf("pause: %d %s", code, body)
	}
	p := next(t, events, "the pause event", func(e sseEvent) bool { return e.name == "pause" })
	if p.ev.Kind != codrive.EventPause || !p.ev.Status.Paused || p.id == "1" {
		t.Fatalf("pause event %+v", p)
	}
	if code, body := call(t, "POST", r.http.URL+"/codrive/resume", ""); code != 200 {
		t.Fatalf("resume: %d %s", code, body)
	}
	next(t, events, "the resume event", func(e sseEvent) bool { return e.name == "resume" && !e.ev.Status.Paused })

	// The stream ends when the session closes.
	if err := r.s.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ended(t, events, "the stream outlived its session")
}

// ended waits for the stream to end.
func ended(t *testing.T, events <-chan sseEvent, failure string) {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case _, open := <-events:
			if !open {
				return
			}
		case <-deadline:
			t.Fatal(failure)
		}
	}
}

// A stream opened while codrive still starts stays open, says so in
// comments, and delivers once the session exists.
func TestEventStreamWaitsForTheSession(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	o := operator.New(operator.Options{NoRuntimeMetrics: true, KeepAlive: 20 * time.Millisecond})
	h := httptest.NewServer(o)
	defer h.Close()
	o.SetWaiting("waiting for neko")
	events, comments := openEvents(t, h.URL+"/codrive/events")
	select {
	case cm := <-comments:
		if !strings.Contains(cm, "waiting for neko") {
			t.Fatalf("comment while starting: %q", cm)
		}
	case <-time.After(testTimeout):
		t.Fatal("no keep-alive comment while starting")
	}

	srv := nekotest.NewServer(nekotest.Options{})
	defer srv.Close()
	s, err := codrive.Attach(ctxT(t), codrive.Options{NekoURL: srv.URL, User: "codrive", Password: "admin", CDPURL: c.URL, Target: c.NewTabT(t, "about:blank")})
	if err != nil {
		t.Fatal(err)
	}
	o.SetSession(s)
	first := next(t, events, "the first event", func(sseEvent) bool { return true })
	if first.name != "state" || first.ev.Status.Session == "" {
		t.Fatalf("first event after the session came: %+v", first)
	}
	// Close ends the streams even while the session lives on.
	o.Close()
	ended(t, events, "the stream outlived Operator.Close")
	_ = s.Close(ctxT(t))
}
