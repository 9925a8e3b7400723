package codrive

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// recorder sits between codrive and Chromium and notes when every command
// reaches Chromium: what "forwarded while a person hosts" is measured
// against. It relays /json/* (rewriting Chromium's address to its own) and
// every WebSocket, frame by frame.
type recorder struct {
	*httptest.Server
	upstream string // host:port of Chromium

	mu     sync.Mutex
	frames []forwarded
}

// forwarded is one command on its way to Chromium.
type forwarded struct {
	at         time.Time
	method     string
	expression string
	speculate  bool // throwOnSideEffect: V8 refuses any side effect
}

func newRecorder(t *testing.T, chromiumURL string) *recorder {
	rec := &recorder{upstream: strings.TrimPrefix(chromiumURL, "http://")}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			rec.relay(t, w, r, &up)
			return
		}
		resp, err := http.Get("http://" + rec.upstream + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		self := strings.TrimPrefix(rec.URL, "http://")
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write([]byte(strings.ReplaceAll(string(body), rec.upstream, self)))
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) relay(t *testing.T, w http.ResponseWriter, r *http.Request, up *websocket.Upgrader) {
	server, _, err := websocket.DefaultDialer.Dial("ws://"+rec.upstream+r.URL.RequestURI(), nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, err := up.Upgrade(w, r, nil)
	if err != nil {
		server.Close()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			mt, msg, err := server.ReadMessage()
			if err != nil || client.WriteMessage(mt, msg) != nil {
				client.Close()
				return
			}
		}
	}()
	for {
		mt, msg, err := client.ReadMessage()
		if err != nil {
			break
		}
		rec.note(msg)
		if server.WriteMessage(mt, msg) != nil {
			break
		}
	}
	server.Close()
	<-done
}

func (rec *recorder) note(msg []byte) {
	var m struct {
		Method string `json:"method"`
		Params struct {
			Expression        string `json:"expression"`
			ThrowOnSideEffect bool   `json:"throwOnSideEffect"`
		} `json:"params"`
	}
	if json.Unmarshal(msg, &m) != nil || m.Method == "" {
		return
	}
	rec.mu.Lock()
	rec.frames = append(rec.frames, forwarded{at: time.Now(), method: m.Method, expression: m.Params.Expression, speculate: m.Params.ThrowOnSideEffect})
	rec.mu.Unlock()
}

// marked returns the commands carrying marker that went to Chromium to run
// (not the proxy's side-effect-free trial runs of them).
func (rec *recorder) marked(marker string) []forwarded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []forwarded
	for _, f := range rec.frames {
		if strings.Contains(f.expression, marker) && !f.speculate {
			out = append(out, f)
		}
	}
	return out
}
