package neko_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// Idle keep-alive connections of http.DefaultTransport (used by Clients
// without an HTTPClient) are shared by the process, not owned by a Client.
var leakOpts = []goleak.Option{
	goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, leakOpts...)
}

const (
	userPW  = "neko"
	adminPW = "admin"
	// waitFor bounds every wait on an event; reaching it is a failure.
	waitFor = 10 * time.Second
)

func newServer(t testing.TB, o nekotest.Options) *nekotest.Server {
	t.Helper()
	srv := nekotest.NewServer(o)
	t.Cleanup(srv.Close)
	return srv
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t testing.TB, srv *nekotest.Server, opts neko.Options) *neko.Client {
	t.Helper()
	c, err := neko.NewClient(srv.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func login(t testing.TB, srv *nekotest.Server, name, pw string) *neko.Client {
	t.Helper()
	c := newClient(t, srv, neko.Options{})
	if _, err := c.Login(testCtx(t), name, pw); err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return c
}

func connect(t testing.TB, c *neko.Client, o neko.ConnOptions) *neko.Conn {
	t.Helper()
	cn, err := c.Connect(testCtx(t), o)
	if err != nil {
		t.Fatalf("connect %s: %v", c.Username(), err)
	}
	t.Cleanup(func() { cn.Close() })
	return cn
}

// events reads one subscription in a test.
type events struct {
	t  testing.TB
	ch <-chan neko.Event
}

func subscribe(t testing.TB, cn *neko.Conn) *events {
	ch, cancel := cn.Subscribe()
	t.Cleanup(cancel)
	return &events{t: t, ch: ch}
}

// next returns the next event, failing the test on timeout or close.
func (e *events) next() neko.Event {
	e.t.Helper()
	select {
	case ev, ok := <-e.ch:
		if !ok {
			e.t.Fatal("subscription closed while waiting for an event")
		}
		return ev
	case <-time.After(waitFor):
		e.t.Fatal("no event within the deadline")
	}
	return neko.Event{}
}

// until skips events until match returns true.
func (e *events) until(what string, match func(neko.Event) bool) neko.Event {
	e.t.Helper()
	deadline := time.After(waitFor)
	var seen []string
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				e.t.Fatalf("subscription closed while waiting for %s (saw %v)", what, seen)
			}
			if match(ev) {
				return ev
			}
			seen = append(seen, describe(ev))
		case <-deadline:
			e.t.Fatalf("no %s within %v (saw %v)", what, waitFor, seen)
		}
	}
}

func (e *events) named(name string) neko.Event {
	e.t.Helper()
	return e.until(name, func(ev neko.Event) bool { return ev.Name == name })
}

// closed waits for the channel to be closed, returning what came before.
func (e *events) closed() []neko.Event {
	e.t.Helper()
	var got []neko.Event
	deadline := time.After(waitFor)
	for {
		select {
		case ev, ok := <-e.ch:
			if !ok {
				return got
			}
			got = append(got, ev)
		case <-deadline:
			e.t.Fatalf("subscription not closed within %v", waitFor)
		}
	}
}

func describe(ev neko.Event) string {
	if st, ok := ev.Payload.(*neko.ConnState); ok {
		return fmt.Sprintf("%s%+v", ev.Name, *st)
	}
	if len(ev.Raw) > 0 {
		return ev.Name + string(ev.Raw)
	}
	return ev.Name
}

func hostIs(id string) func(neko.Event) bool {
	return func(ev neko.Event) bool {
		h, ok := ev.Payload.(*neko.ControlHost)
		if !ok {
			return false
		}
		if id == "" {
			return !h.HasHost
		}
		return h.HasHost && h.HostID == id
	}
}

func waitHost(t testing.TB, srv *nekotest.Server, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := srv.WaitHost(ctx, id); err != nil {
		got, _ := srv.Host()
		t.Fatalf("server host is %q, want %q: %v", got, id, err)
	}
}

func ptr[T any](v T) *T { return &v }
