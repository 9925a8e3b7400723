package nekotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/neko"
)

// waitTimeout bounds every wait in these tests; nothing here should come
// close to it, it only turns a bug into a failure instead of a hang.
const waitTimeout = 5 * time.Second

// quiet are options for tests that do not look at heartbeats: no heartbeat
// noise, and a short delayed disconnect.
// quiet is a server whose sockets carry only what a test provokes: no
// heartbeats within a test's time, no plugin messages after connect.
func quiet() Options {
	return Options{HeartbeatPeriod: time.Hour, DelayedDisconnect: 200 * time.Millisecond, NoPlugins: true}
}

// startWithSettings starts a quiet server whose initial settings are neko's
// defaults changed by set.
func startWithSettings(t *testing.T, set func(*neko.Settings)) *Server {
	t.Helper()
	opts := quiet()
	st := neko.DefaultSettings()
	set(&st)
	opts.Settings = &st
	return startServer(t, opts)
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

func waitState(t *testing.T, s *Server, what string, cond func(State) bool) State {
	t.Helper()
	st, err := s.WaitFor(waitCtx(t), cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v (last state %+v)", what, err, st)
	}
	return st
}

func waitHost(t *testing.T, s *Server, want string) {
	t.Helper()
	if err := s.WaitHost(waitCtx(t), want); err != nil {
		t.Fatal(err)
	}
}

// ---- REST ----

type restClient struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newREST(t *testing.T, s *Server) *restClient {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &restClient{t: t, base: s.URL, hc: &http.Client{Transport: tr, Timeout: waitTimeout}}
}

type response struct {
	code   int
	body   []byte
	header http.Header
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.code, bytes.TrimSpace(r.body)) }

// errorBody decodes a neko error body and checks its code matches the status.
func (r response) errorBody(t *testing.T) neko.ErrorBody {
	t.Helper()
	var e neko.ErrorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.body, err)
	}
	if e.Code != r.code {
		t.Fatalf("error body code %d, status %d", e.Code, r.code)
	}
	return e
}

func (c *restClient) do(method, path string, body any, edit func(*http.Request)) response {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			c.t.Fatalf("encode body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatalf("new request: %v", err)
	}
	if edit != nil {
		edit(req)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return response{code: res.StatusCode, body: raw, header: res.Header}
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

// user is one logged-in session.
type user struct {
	neko.LoginResponse
	t    *testing.T
	srv  *Server
	rest *restClient
}

func login(t *testing.T, s *Server, name, password string) *user {
	t.Helper()
	rest := newREST(t, s)
	res := rest.do(http.MethodPost, "/api/login", neko.LoginRequest{Username: name, Password: password}, nil)
	if res.code != http.StatusOK {
		t.Fatalf("login %s: %s", name, res)
	}
	u := &user{t: t, srv: s, rest: rest}
	if err := json.Unmarshal(res.body, &u.LoginResponse); err != nil {
		t.Fatalf("login body: %v", err)
	}
	return u
}

func loginUser(t *testing.T, s *Server, name string) *user  { return login(t, s, name, "neko") }
func loginAdmin(t *testing.T, s *Server, name string) *user { return login(t, s, name, "admin") }

func (u *user) call(method, path string, body any) response {
	u.t.Helper()
	return u.rest.do(method, path, body, bearer(u.Token))
}

// mustCall checks the status code.
func (u *user) mustCall(method, path string, body any, want int) response {
	u.t.Helper()
	res := u.call(method, path, body)
	if res.code != want {
		u.t.Fatalf("%s %s as %s: got %s, want %d", method, path, u.ID, res, want)
	}
	return res
}

func (u *user) dial() *wsConn {
	u.t.Helper()
	c := dialWS(u.t, u.srv, "?token="+url.QueryEscape(u.Token), nil)
	c.id = u.ID
	return c
}

// dialInit dials and consumes system/init (and system/admin for admins).
func (u *user) dialInit() *wsConn {
	u.t.Helper()
	c := u.dial()
	c.expect(neko.EventSystemInit)
	if u.Profile.IsAdmin {
		c.expect(neko.EventSystemAdmin)
	}
	return c
}

// ---- WebSocket ----

type wsFrame struct {
	raw []byte
	msg neko.Message
}

type wsConn struct {
	t      *testing.T
	id     string
	conn   *websocket.Conn
	frames chan wsFrame
	pings  chan struct{}
	done   chan struct{}
	err    error // read error, valid after done
	seq    atomic.Int64
}

func wsURL(s *Server, query string) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/api/ws" + query
}

func dialWS(t *testing.T, s *Server, query string, header http.Header) *wsConn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: waitTimeout}
	conn, res, err := d.Dial(wsURL(s, query), header)
	if err != nil {
		t.Fatalf("dial websocket: %v (response %v)", err, res)
	}
	return watchWS(t, conn)
}

// watchWS reads an open socket into a wsConn until the test ends.
func watchWS(t *testing.T, conn *websocket.Conn) *wsConn {
	t.Helper()
	c := &wsConn{
		t: t, conn: conn,
		frames: make(chan wsFrame, 4096),
		pings:  make(chan struct{}, 4096),
		done:   make(chan struct{}),
	}
	conn.SetPingHandler(func(data string) error {
		select {
		case c.pings <- struct{}{}:
		default:
		}
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	go c.read()
	t.Cleanup(func() {
		_ = conn.Close()
		<-c.done
	})
	return c
}

func (c *wsConn) read() {
	defer close(c.done)
	for {
		_, raw, err := c.conn.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		f := wsFrame{raw: raw}
		if err := json.Unmarshal(raw, &f.msg); err != nil {
			f.msg = neko.Message{Event: "<malformed>"}
		}
		c.frames <- f
	}
}

// nextFrame returns the next frame, heartbeats included.
func (c *wsConn) nextFrame() wsFrame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-c.done:
		select {
		case f := <-c.frames:
			return f
		default:
		}
		c.t.Fatalf("socket %s closed while waiting for a frame: %v", c.id, c.err)
	case <-time.After(waitTimeout):
		c.t.Fatalf("socket %s: no frame within %v", c.id, waitTimeout)
	}
	return wsFrame{}
}

// next returns the next frame that is not a heartbeat.
func (c *wsConn) next() wsFrame {
	c.t.Helper()
	for {
		f := c.nextFrame()
		if f.msg.Event != neko.EventSystemHeartbeat {
			return f
		}
	}
}

// expect fails unless the next non-heartbeat frame is event.
func (c *wsConn) expect(event string) neko.Message {
	c.t.Helper()
	f := c.next()
	if f.msg.Event != event {
		c.t.Fatalf("socket %s: got %s, want %s", c.id, f.raw, event)
	}
	return f.msg
}

// expectPayload is expect plus decoding the payload.
func expectPayload[T any](c *wsConn, event string) T {
	c.t.Helper()
	msg := c.expect(event)
	var v T
	if err := json.Unmarshal(msg.Payload, &v); err != nil {
		c.t.Fatalf("decode %s payload %s: %v", event, msg.Payload, err)
	}
	return v
}

// waitEvent skips frames until event arrives.
func (c *wsConn) waitEvent(event string) neko.Message {
	c.t.Helper()
	for {
		f := c.next()
		if f.msg.Event == event {
			return f.msg
		}
	}
}

func (c *wsConn) send(event string, payload any) {
	c.t.Helper()
	msg := map[string]any{"event": event}
	if payload != nil {
		msg["payload"] = payload
	}
	if err := c.conn.WriteJSON(msg); err != nil {
		c.t.Fatalf("send %s: %v", event, err)
	}
}

func (c *wsConn) sendRaw(text string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("send raw: %v", err)
	}
}

// sync sends a unicast to itself and returns every non-heartbeat frame that
// arrived before it. The server handles one socket's messages in order, so
// anything a previous message caused to be sent to this socket is in there;
// an empty result proves silence.
func (c *wsConn) sync() []wsFrame {
	c.t.Helper()
	subject := fmt.Sprintf("sync-%d", c.seq.Add(1))
	c.send(neko.EventSendUnicast, map[string]any{"receiver": c.id, "subject": subject, "body": nil})
	var before []wsFrame
	for {
		f := c.next()
		if f.msg.Event == neko.EventSendUnicast {
			var p neko.SendUnicast
			if json.Unmarshal(f.msg.Payload, &p) == nil && p.Subject == subject && p.Sender == c.id {
				return before
			}
		}
		before = append(before, f)
	}
}

// silent fails if anything but heartbeats arrived since the last read.
func (c *wsConn) silent() {
	c.t.Helper()
	if got := c.sync(); len(got) > 0 {
		c.t.Fatalf("socket %s: expected silence, got %s", c.id, framesString(got))
	}
}

// syncVia proves, from another socket's point of view, that everything sent
// so far to c has arrived: other sends a unicast to c and c reads up to it.
func (c *wsConn) syncVia(other *wsConn) []wsFrame {
	c.t.Helper()
	subject := fmt.Sprintf("via-%d", c.seq.Add(1))
	other.send(neko.EventSendUnicast, map[string]any{"receiver": c.id, "subject": subject, "body": nil})
	var before []wsFrame
	for {
		f := c.next()
		if f.msg.Event == neko.EventSendUnicast {
			var p neko.SendUnicast
			if json.Unmarshal(f.msg.Payload, &p) == nil && p.Subject == subject {
				return before
			}
		}
		before = append(before, f)
	}
}

func framesString(fs []wsFrame) string {
	var b strings.Builder
	for _, f := range fs {
		b.Write(bytes.TrimSpace(f.raw))
		b.WriteString(" ")
	}
	return b.String()
}

// closed waits for the socket to end and returns the read error.
func (c *wsConn) closed() error {
	c.t.Helper()
	select {
	case <-c.done:
		return c.err
	case <-time.After(waitTimeout):
		c.t.Fatalf("socket %s still open after %v", c.id, waitTimeout)
	}
	return nil
}

// expectDropped checks that the socket ended without a close frame: 1006,
// or a connection reset when the server closed with unread data (pongs) in
// its receive buffer, which real neko does just the same.
func (c *wsConn) expectDropped() {
	c.t.Helper()
	err := c.closed()
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
		c.t.Fatalf("socket %s: want a drop without close frame, got %v", c.id, err)
	}
}

// closeWith sends a close frame with code and waits for the socket to end.
func (c *wsConn) closeWith(code int) {
	c.t.Helper()
	msg := websocket.FormatCloseMessage(code, "")
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
		c.t.Fatalf("write close: %v", err)
	}
	_ = c.closed()
}

// ---- log capture ----

// logRecorder is a slog.Handler that lets a test wait for a log message:
// the server's log is an observable output, and some things (a delayed
// disconnect being armed) are visible nowhere else.
type logRecorder struct {
	mu      sync.Mutex
	records []logRecord
	changed chan struct{}
}

type logRecord struct {
	msg   string
	attrs map[string]string
}

func newLogRecorder() *logRecorder { return &logRecorder{changed: make(chan struct{})} }

func (l *logRecorder) logger() *slog.Logger { return slog.New(l) }

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, rec)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
	return nil
}

func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many records have msg and the given session_id.
func (l *logRecorder) count(msg, sessionID string) (int, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.records {
		if r.msg == msg && (sessionID == "" || r.attrs["session_id"] == sessionID) {
			n++
		}
	}
	return n, l.changed
}

// wait blocks until at least n records have msg for the session.
func (l *logRecorder) wait(t *testing.T, msg, sessionID string, n int) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		got, ch := l.count(msg, sessionID)
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("log %q for %q: %d records within %v, want %d", msg, sessionID, got, waitTimeout, n)
		}
	}
}

// allText is every message with its attributes, to check what was logged.
func (l *logRecorder) allText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.records {
		b.WriteString(r.msg)
		for k, v := range r.attrs {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
		b.WriteString("\n")
	}
	return b.String()
}
