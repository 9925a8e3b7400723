package cdpproxy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// rawConn sends raw messages and reads raw answers, skipping events.
type rawConn struct {
	t    testing.TB
	conn *websocket.Conn
}

func dialRaw(t testing.TB, url string) *rawConn {
	t.Helper()
	d := websocket.Dialer{WriteBufferSize: 1 << 20}
	conn, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	conn.SetReadLimit(0)
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn}
}

func (c *rawConn) send(msg string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatalf("send %.80s: %v", msg, err)
	}
}

// answer reads until a message that is not an event.
func (c *rawConn) answer() string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if !strings.HasPrefix(string(b), `{"method":`) {
			return string(b)
		}
	}
}

// exchange sends msg and returns the answer.
func (c *rawConn) exchange(msg string) string {
	c.t.Helper()
	c.send(msg)
	return c.answer()
}

// TestIDsAsChromiumAnswers: every id a client may use, including the ones
// the proxy once used for its own commands, is answered through the proxy
// exactly as Chromium answers it directly, byte for byte; an id Chromium
// refuses gets Chromium's own refusal.
func TestIDsAsChromiumAnswers(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{Controller: newGate(true)})
	direct, proxied := dialRaw(t, c.WebSocketURL), dialRaw(t, browserWS(t, p))
	for _, id := range []string{"-1073741824", "-2147483648", "-1", "0", "1073741824", "2147483647",
		"9007199254740992", "2147483648", "-2147483649", "2.0", "1e2", "-0", "1.5", `"x"`, "null"} {
		for _, msg := range []string{
			`{"id":` + id + `,"method":"Browser.getVersion"}`,
			`{"method":"Browser.getVersion","id":` + id + `}`,
		} {
			want, got := direct.exchange(msg), proxied.exchange(msg)
			if got != want {
				t.Errorf("%s\n through the proxy: %.200s\n          directly: %.200s", msg, got, want)
			}
		}
	}
}

// positions differ where the proxy's id is not as long as the client's:
// Chromium names offsets in its errors.
var positionRE = regexp.MustCompile(`at position \d+`)

// TestMalformedAsChromiumAnswers: messages Chromium refuses get Chromium's
// own answer through the proxy, with the client's id where Chromium gives
// one and none where it does not; the connection keeps working.
func TestMalformedAsChromiumAnswers(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	p := listen(t, c, Options{Controller: newGate(false)})
	direct, proxied := dialRaw(t, c.WebSocketURL), dialRaw(t, browserWS(t, p))
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, msg := range []string{
		`not json`, `[]`, `5`, ``, ` `,
		`{"method":"Browser.getVersion"}`,
		`{"id":77}`,
		`{"id":78,"method":5}`,
		`{"id":79,"id":80,"method":"Browser.getVersion"}`,
		`{"id":81,"method":"Browser.getVersion","method":"Target.getTargets"}`,
		`{"method":"Browser.getVersion","method":"b","id":5}`,
		`{"x":1,"id":8,"method":"Browser.getVersion"}`,
		`{"id":7,"x":1,"method":"Browser.getVersion"}`,
		`{"id":82,"meth\u006fd":"Browser.getVersion"}`,
		`{"\u0069d":83,"method":"Browser.getVersion"}`,
		`{"id":84,"method":"Browser.getVersion","params":5}`,
		`{"id":85,"method":"Browser.getVersion","params":null}`,
		`{"id":86,"method":"Browser.getVersion","sessionId":"nope"}`,
		`{"id":87,"method":"Browser.getVersion","sessionId":5}`,
		`{"id":88,"method":"Browser.getVersion"} trailing`,
		`{"id":89,"method":"Browser.getVersion",}`,
		`{"id":90,"method":"Browser.getVersion"`,
		`{"id":91,"method":"Browser.getVersion","params":{"x":NaN}}`,
		`{"id":92,"method":"Browser.getVersion","params":{"x":1e309}}`,
		`{"id":93,"method":"Browser.getVersion","params":{"x":1e-400}}`,
		`{"id":94,"method":"Browser.getVersion","params":{"x":` + deep(299) + `}}`,
		`{"id":95,"method":"Browser.getVersion","params":{"x":` + deep(300) + `}}`,
		"{\"id\":96,\"method\":\"Browser.getVersion\",\"params\":{\"x\":\"\xff\"}}",
		"{\"id\":97,\"method\":\"Browser.getVersion\",\"params\":{\"x\":\"\xed\xa0\x80\x01\"}}",
		"{\"id\":98,\v\"method\":\"Browser.getVersion\"\f}",
		`{"id":99,"method":"Input.dispatchMouseEvent","params":[1]}`,
		`{"id":100,"method":"Codrive.getState","params":"x"}`,
	} {
		want, got := direct.exchange(msg), proxied.exchange(msg)
		if strings.HasPrefix(msg, `{"id":100,"method":"Codrive`) {
			want = `{"id":100,"error":{"code":-32600,"message":"Message may have object 'params' property"}}`
		}
		if positionRE.ReplaceAllString(got, "at position N") != positionRE.ReplaceAllString(want, "at position N") {
			t.Errorf("%.100q\n through the proxy: %.200s\n          directly: %.200s", msg, got, want)
		}
	}
	// Still in order and usable.
	if got := proxied.exchange(`{"id":1,"method":"Browser.getVersion"}`); !strings.HasPrefix(got, `{"id":1,"result":`) {
		t.Fatalf("after the malformed ones: %.200s", got)
	}
}

// TestSameIDConcurrently: the same id in flight on two connections, and on
// two sessions of one connection, at once: each answer reaches its own
// command with its id, as directly.
func TestSameIDConcurrently(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, _ := openPage(t, c)
	p := listen(t, c, Options{Controller: newGate(true)})
	slow := func(v int, session string) string {
		s := ""
		if session != "" {
			s = `,"sessionId":"` + session + `"`
		}
		return fmt.Sprintf(`{"id":7,"method":"Runtime.evaluate"%s,"params":{"expression":"new Promise(r => setTimeout(() => r(%d), 200))","awaitPromise":true,"returnByValue":true}}`, s, v)
	}
	a, b := dialRaw(t, "ws://"+hostport(p)+"/devtools/page/"+id), dialRaw(t, "ws://"+hostport(p)+"/devtools/page/"+id)
	a.send(slow(1, ""))
	b.send(slow(2, ""))
	for i, cl := range []*rawConn{a, b} {
		want := fmt.Sprintf(`{"id":7,"result":{"result":{"type":"number","value":%d,"description":"%d"}}}`, i+1, i+1)
		if got := cl.answer(); got != want {
			t.Errorf("connection %d: %s, want %s", i, got, want)
		}
	}

	// Two flat sessions on one browser connection, both with id 7.
	cl := newCDPOn(t, dialRaw(t, browserWS(t, p)))
	s1, s2 := cl.attach(id), cl.attach(id)
	cl.send(slow(1, s1))
	cl.send(slow(2, s2))
	got := map[string]string{}
	for range 2 {
		var m struct {
			ID        int64           `json:"id"`
			SessionID string          `json:"sessionId"`
			Result    json.RawMessage `json:"result"`
		}
		raw := cl.answer()
		if err := json.Unmarshal([]byte(raw), &m); err != nil || m.ID != 7 {
			t.Fatalf("answer %s", raw)
		}
		got[m.SessionID] = string(m.Result)
	}
	if !strings.Contains(got[s1], `"value":1`) || !strings.Contains(got[s2], `"value":2`) {
		t.Fatalf("answers by session: %v", got)
	}
}

// cdpOn adds attach to a rawConn.
type cdpOn struct {
	*rawConn
	n int
}

func newCDPOn(t testing.TB, c *rawConn) *cdpOn { return &cdpOn{rawConn: c, n: 1000} }

func (c *cdpOn) attach(target string) string {
	c.t.Helper()
	c.n++
	raw := c.exchange(fmt.Sprintf(`{"id":%d,"method":"Target.attachToTarget","params":{"targetId":%q,"flatten":true}}`, c.n, target))
	var m struct {
		Result struct {
			SessionID string `json:"sessionId"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m.Result.SessionID == "" {
		c.t.Fatalf("attach: %s", raw)
	}
	return m.Result.SessionID
}

// TestOwnIDsNeverMeetClients: during a hold the proxy runs evaluations of
// its own (speculations); clients using any ids meanwhile, including the
// proxy's, still get exactly their answers.
func TestOwnIDsNeverMeetClients(t *testing.T) {
	t.Parallel()
	c := chromium(t)
	id, dc := openPage(t, c)
	g := newGate(false)
	p := listen(t, c, Options{Controller: g})
	cl := dialRaw(t, "ws://"+hostport(p)+"/devtools/page/"+id)
	// Held: V8 refuses it side-effect-free.
	cl.send(`{"id":-1073741824,"method":"Runtime.evaluate","params":{"expression":"window.w = 1","returnByValue":true}}`)
	g.waitBlocked(t)
	// Proven side-effect-free meanwhile, with the ids the proxy gives its
	// own commands first.
	for _, n := range []string{"1", "2", "-1073741825"} {
		cl.send(`{"id":` + n + `,"method":"Runtime.evaluate","params":{"expression":"6*7","returnByValue":true}}`)
	}
	for range 3 {
		got := cl.answer()
		if !strings.Contains(got, `"value":42`) {
			t.Errorf("read during the hold: %s", got)
		}
	}
	if got := dc.evaluate("", "window.w"); got != "" {
		t.Fatalf("the held write ran during the hold: %s", got)
	}
	g.Open()
	if got := cl.answer(); got != `{"id":-1073741824,"result":{"result":{"type":"number","value":1,"description":"1"}}}` {
		t.Fatalf("released: %s", got)
	}
}
