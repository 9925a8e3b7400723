// Package fleettest starts rooms for the fleet's tests: each room is a
// nekotest server with its own `codrive attach --http` (the real binary)
// attached to a tab of its own in one shared, real Chromium. People are
// real neko clients of the room's server.
package fleettest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/proctest"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// Timeout bounds each wait of the helpers.
const Timeout = 60 * time.Second

var build proctest.Binary

// Binary builds ./cmd/codrive (with -race) once per test process.
// Cleanup removes it.
func Binary(t testing.TB) string {
	t.Helper()
	return build.Path(t)
}

// Cleanup removes the binary Binary built; call it from TestMain.
func Cleanup() { build.Remove() }

// Options configure the rooms.
type Options struct {
	// Bin is the codrive binary (Binary).
	Bin string
	// Chromium is the shared browser; each room opens a tab in it.
	Chromium *cdptest.Chromium
	// Names are the rooms' names, one room each.
	Names []string
	// Token, when set, is every room's --http-token.
	Token string
	// Args are more attach flags for every room, e.g. --policy hold.
	Args []string
}

// Room is one running room.
type Room struct {
	Name string
	// Neko is the room's neko server.
	Neko *nekotest.Server
	// Addr is the operator listener's address; URL its base URL.
	Addr, URL string
	// Tab is the room's tab in the shared Chromium.
	Tab string

	t      testing.TB
	args   []string
	env    []string
	bin    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	output *proctest.Lines
}

// Start starts one room per name and returns once each listener is
// serving (it may not be ready yet: that is the fleet's to see).
func Start(t testing.TB, opts Options) []*Room {
	t.Helper()
	var rooms []*Room
	for _, name := range opts.Names {
		srv := nekotest.NewServer(nekotest.Options{HeartbeatPeriod: time.Second, DelayedDisconnect: 500 * time.Millisecond})
		t.Cleanup(srv.Close)
		tab := opts.Chromium.NewTabT(t, "about:blank#"+name)
		r := &Room{Name: name, Neko: srv, Tab: tab, t: t, bin: opts.Bin,
			env: append(os.Environ(), "CODRIVE_NEKO_PASSWORD=admin", "CODRIVE_HTTP_TOKEN="+opts.Token)}
		r.args = append([]string{"--neko", srv.URL, "--cdp", opts.Chromium.URL, "attach", "--target", tab,
			"--reclaim-after", "200ms"}, opts.Args...)
		r.start("127.0.0.1:0")
		rooms = append(rooms, r)
		t.Cleanup(func() {
			// Registered before Stop, so it runs after it: the whole log.
			if t.Failed() {
				r.mu.Lock()
				out := r.output
				r.mu.Unlock()
				t.Logf("%s's codrive said:\n%s", r.Name, out.String())
			}
		})
		t.Cleanup(r.Stop)
	}
	return rooms
}

var listening = regexp.MustCompile(`operator endpoints on http://(\S+)`)

func (r *Room) start(addr string) {
	r.t.Helper()
	cmd := exec.Command(r.bin, append(append([]string(nil), r.args...), "--http", addr)...)
	cmd.Env = r.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	out := proctest.Read(stderr)
	r.mu.Lock()
	r.cmd, r.output = cmd, out
	r.mu.Unlock()
	m := out.Wait(r.t, Timeout, r.Name+"'s operator address", listening)
	r.Addr, r.URL = m[1], "http://"+m[1]
}

// Stop ends the room's codrive with SIGTERM (it releases control and
// logs out) and waits for it.
func (r *Room) Stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(Timeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Restart starts the room's codrive again on the same address.
func (r *Room) Restart() {
	r.t.Helper()
	r.Stop()
	r.start(r.Addr)
}

// Output is what the room's codrive printed on stderr.
func (r *Room) Output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.output == nil {
		return ""
	}
	return r.output.String()
}

// FleetRoom is the room for package fleet.
func (r *Room) FleetRoom() fleet.Room { return fleet.Room{Name: r.Name, URL: r.URL} }

// Person logs a person in to the room's neko with a socket, as a viewer
// would; the test drives control with RequestControl and ReleaseControl.
func (r *Room) Person(t testing.TB, name string) *neko.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	c, err := neko.NewClient(r.Neko.URL, neko.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Login(ctx, name, "neko"); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// WaitHost waits until the room's neko has the host whose profile name
// is name ("" for none).
func (r *Room) WaitHost(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	_, err := r.Neko.WaitFor(ctx, func(s nekotest.State) bool {
		if name == "" {
			return !s.HasHost
		}
		sd, ok := s.Session(s.HostID)
		return s.HasHost && ok && sd.Profile.Name == name
	})
	if err != nil {
		t.Fatalf("room %s: the host never became %q: %v\n%s", r.Name, name, err, r.Output())
	}
}

// FreePort is a loopback port nobody listens on (at the time of asking).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
