package fleet

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
)

// Client speaks one codrive's operator API (package codrive/operator):
// GET /codrive/state, the event stream GET /codrive/events and the
// control actions POST /codrive/NAME. The token goes in an Authorization
// header, never in a URL, so that no error message or proxy log shows it.
type Client struct {
	room Room
	hc   *http.Client
}

// NewClient returns a client for r's listener; hc nil uses a transport
// of its own (NewTransport).
func NewClient(r Room, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: NewTransport()}
	}
	return &Client{room: r, hc: hc}
}

// NewTransport is an HTTP transport for many codrives at once: a dial that
// gives up after 5s (one unreachable room must not hold anything up) and
// no proxy from the environment (the listeners are on the operator's own
// network; HTTP_PROXY would see every token).
func NewTransport() *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// HTTPError is an answer other than 2xx, with the error codrive gave.
type HTTPError struct {
	Code int
	// Msg is codrive's {"error": ...}, or the body's start.
	Msg string
}

func (e *HTTPError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("HTTP %d", e.Code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Code, e.Msg)
}

// Unauthorized reports whether the token was missing or wrong.
func (e *HTTPError) Unauthorized() bool { return e.Code == http.StatusUnauthorized }

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.room.URL+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.room.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.room.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends req and returns the response when it is 2xx; otherwise the
// body is read into an HTTPError. Transport errors lose the URL (it is the
// room's, shown beside the error anyway) and keep their cause.
func (c *Client) do(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	he := &HTTPError{Code: resp.StatusCode}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		he.Msg = e.Error
	} else {
		he.Msg = strings.TrimSpace(string(b))
	}
	he.Msg = strings.TrimPrefix(he.Msg, "codrive: ")
	return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, he)
}

// maxAnswer bounds an answer's body: a room's state is a few KB.
const maxAnswer = 4 << 20

// call sends body (nil for none) as JSON to path and decodes the answer
// into out.
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, rd)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
		return fmt.Errorf("%s %s: bad answer: %w", method, path, err)
	}
	return nil
}

// State is GET /codrive/state.
func (c *Client) State(ctx context.Context) (operator.State, error) {
	var st operator.State
	err := c.call(ctx, http.MethodGet, "/codrive/state", nil, &st)
	return st, err
}

// Act is POST /codrive/NAME with body (nil for none) and answers the
// Status codrive returned. The request lasts as long as ctx: a handoff
// takes as long as the person does.
func (c *Client) Act(ctx context.Context, name string, body any) (codrive.Status, error) {
	var st codrive.Status
	err := c.call(ctx, http.MethodPost, "/codrive/"+name, body, &st)
	return st, err
}

// Stream is an open GET /codrive/events.
type Stream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// maxEventLine bounds one line of the stream: an event is a few KB.
const maxEventLine = 1 << 20

// Events opens the event stream. connectTimeout bounds the wait for the
// answer's headers only; the stream then lasts until ctx ends or Close.
func (c *Client) Events(ctx context.Context, connectTimeout time.Duration) (*Stream, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/codrive/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	// The connect timeout must not end the stream once it is open, so it
	// is a timer that cancels only while the headers are awaited.
	cctx, cancel := context.WithCancel(ctx)
	req = req.WithContext(cctx)
	t := time.AfterFunc(connectTimeout, cancel)
	resp, err := c.do(req)
	if !t.Stop() {
		cancel()
		if err == nil {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("GET /codrive/events: no answer within %s", connectTimeout)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		cancel()
		resp.Body.Close()
		return nil, fmt.Errorf("GET /codrive/events: answered %q, not an event stream (is this a codrive --http listener?)", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 16<<10), maxEventLine)
	return &Stream{body: &cancelBody{resp.Body, cancel}, sc: sc}, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	b.cancel()
	return b.ReadCloser.Close()
}

// Close ends the stream.
func (s *Stream) Close() error { return s.body.Close() }

// Next returns the stream's next event. Comments (keep-alives) are
// skipped but call alive, so a watchdog knows the stream still breathes.
// An event codrive may add later that does not decode as an Event is
// skipped, not fatal.
func (s *Stream) Next(alive func()) (codrive.Event, error) {
	var data []byte
	var kind string
	for s.sc.Scan() {
		line := s.sc.Bytes()
		if alive != nil {
			alive()
		}
		switch {
		case len(line) == 0:
			if data == nil {
				kind = ""
				continue
			}
			var ev codrive.Event
			err := json.Unmarshal(data, &ev)
			data = nil
			if ev.Kind == "" {
				ev.Kind = codrive.EventKind(kind)
			}
			kind = ""
			if err != nil || ev.Kind == "" {
				continue
			}
			return ev, nil
		case line[0] == ':':
			// A comment: keep-alive, or "session closed".
		default:
			field, value, _ := bytes.Cut(line, []byte(":"))
			value = bytes.TrimPrefix(value, []byte(" "))
			switch string(field) {
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			case "event":
				kind = string(value)
			}
		}
	}
	if err := s.sc.Err(); err != nil {
		return codrive.Event{}, fmt.Errorf("event stream: %w", err)
	}
	return codrive.Event{}, io.EOF
}
