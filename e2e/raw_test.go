package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/neko"
)

// Raw HTTP and WebSocket access, for the scenarios that check neko's wire
// behaviour itself (frame order, close codes, headers), below what the neko
// client shows.

type loginResult struct {
	token  string
	cookie *http.Cookie
	header http.Header
	body   []byte
}

func rawLogin(t *testing.T, srv nekoserver.Server, name, password string) loginResult {
	t.Helper()
	body, _ := json.Marshal(neko.LoginRequest{Username: name, Password: password})
	resp, err := http.Post(srv.URL()+"/api/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %s %s", name, resp.Status, b)
	}
	var lr neko.LoginResponse
	if err := json.Unmarshal(b, &lr); err != nil {
		t.Fatal(err)
	}
	res := loginResult{token: lr.Token, header: resp.Header, body: b}
	for _, c := range resp.Cookies() {
		if c.Name == neko.CookieName {
			res.cookie = c
		}
	}
	return res
}

// rawCall makes an authenticated REST call and returns status and body.
func rawCall(t *testing.T, srv nekoserver.Server, token, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

type rawFrame struct {
	raw []byte
	msg neko.Message
}

// rawSocket is a WebSocket read by a goroutine; err is the read error that
// ended it, valid once done is closed.
type rawSocket struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan rawFrame
	done   chan struct{}
	err    error
}

func dialRaw(t *testing.T, srv nekoserver.Server, token string) *rawSocket {
	t.Helper()
	url := "ws" + strings.TrimPrefix(srv.URL(), "http") + "/api/ws?token=" + token
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &rawSocket{t: t, conn: conn, frames: make(chan rawFrame, 1024), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				s.err = err
				return
			}
			f := rawFrame{raw: b}
			_ = json.Unmarshal(b, &f.msg)
			s.frames <- f
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-s.done
	})
	return s
}

// next returns the next frame other than system/heartbeat.
func (s *rawSocket) next() rawFrame {
	s.t.Helper()
	for {
		select {
		case f := <-s.frames:
			if f.msg.Event == neko.EventSystemHeartbeat {
				continue
			}
			return f
		case <-s.done:
			select {
			case f := <-s.frames:
				if f.msg.Event != neko.EventSystemHeartbeat {
					return f
				}
				continue
			default:
			}
			s.t.Fatalf("socket closed while waiting for a frame: %v", s.err)
		case <-time.After(deadline):
			s.t.Fatal("no frame")
		}
	}
}

// until skips frames until event arrives and returns it.
func (s *rawSocket) until(event string) rawFrame {
	s.t.Helper()
	for {
		if f := s.next(); f.msg.Event == event {
			return f
		}
	}
}

// closed waits for the socket to end and returns every non-heartbeat frame
// that came first, and the read error.
func (s *rawSocket) closed() ([]rawFrame, error) {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(deadline):
		s.t.Fatal("socket still open")
	}
	var rest []rawFrame
	for {
		select {
		case f := <-s.frames:
			if f.msg.Event != neko.EventSystemHeartbeat {
				rest = append(rest, f)
			}
		default:
			return rest, s.err
		}
	}
}

// droppedWithoutCloseFrame: 1006 as gorilla reports it, or a reset.
func droppedWithoutCloseFrame(err error) bool {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code == websocket.CloseAbnormalClosure
	}
	return err != nil
}
