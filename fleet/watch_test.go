package fleet_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/fleettest"
)

func actx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), fleettest.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// Three real rooms: the fleet sees a person take control in one and give
// it back, and a handoff in another appear, get answered and clear; the
// actions go over each room's operator API.
func TestFleetFollowsRealRooms(t *testing.T) {
	t.Parallel()
	rooms := fleettest.Start(t, fleettest.Options{Bin: fleettest.Binary(t), Chromium: chromium(t), Names: []string{"alpha", "bravo", "charlie"}})
	var list []fleet.Room
	for _, r := range rooms {
		list = append(list, r.FleetRoom())
	}
	w := startWatch(t, list, fleet.Options{})
	for i := range rooms {
		w.until(i, "ready", ready)
	}

	// bravo: automation takes control, a person takes it over and lets go,
	// automation takes it back (--reclaim-after 200ms).
	bravo := w.f.Backend(1)
	if err := bravo.Acquire(actx(t)); err != nil {
		t.Fatal(err)
	}
	running := func(r fleet.Row) bool { return r.Need == fleet.NeedRunning }
	if r := w.until(1, "ran automation", running); r.Status().State != codrive.StateAutomation {
		t.Fatalf("bravo: %+v", r.Status())
	}
	alice := rooms[1].Person(t, "alice")
	if err := alice.RequestControl(); err != nil {
		t.Fatal(err)
	}
	r := w.until(1, "moved to the person", func(r fleet.Row) bool { return r.Need == fleet.NeedHuman })
	if kind, name := r.Host(); kind != "person" || name != "alice" {
		t.Fatalf("bravo's host: %s %q", kind, name)
	}
	if err := alice.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	w.until(1, "went back to automation", running)

	// charlie: a handoff nobody answers yet needs a person first.
	charlie := w.f.Backend(2)
	handoff := make(chan error, 1)
	go func() { handoff <- charlie.Handoff(actx(t), "solve the captcha") }()
	r = w.until(2, "showed the handoff", func(r fleet.Row) bool { return r.Need == fleet.NeedHandoff })
	if r.Handoff != "solve the captcha" || !r.HandoffExact || r.Handoffs != 1 {
		t.Fatalf("charlie's handoff: %q exact %v count %d", r.Handoff, r.HandoffExact, r.Handoffs)
	}
	w.mu.Lock()
	first := w.board.Rows(time.Now())[0]
	w.mu.Unlock()
	if first.Name != "charlie" {
		t.Fatalf("the first row is %s, want charlie (handoff waiting)", first.Name)
	}
	bob := rooms[2].Person(t, "bob")
	if err := bob.RequestControl(); err != nil {
		t.Fatal(err)
	}
	r = w.until(2, "showed the handoff answered", func(r fleet.Row) bool { return r.Answered() })
	if r.Need != fleet.NeedHuman {
		t.Fatalf("an answered handoff still needs a person: %s", r.Need)
	}
	if err := bob.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-handoff:
		if err != nil {
			t.Fatalf("handoff: %v", err)
		}
	case <-time.After(fleettest.Timeout):
		t.Fatal("the handoff never ended")
	}
	r = w.until(2, "cleared the handoff", func(r fleet.Row) bool { return r.Handoff == "" && r.Need != fleet.NeedHandoff })
	if r.Paused <= 0 || r.Handoffs != 1 {
		t.Fatalf("after the handoff: paused %s, handoffs %d", r.Paused, r.Handoffs)
	}
	// The detail's reads come from the same knowledge.
	if got := charlie.Status().Handoff; got != "" {
		t.Fatalf("backend status still has a handoff: %q", got)
	}
	parts := charlie.Participants()
	if len(parts) == 0 {
		t.Fatal("no participants fetched for charlie")
	}
	if !charlie.Connection().Admin {
		t.Fatal("charlie's connection: codrive logs in as admin")
	}
}

// A room that does not answer, one that refuses connections and one that
// goes away: the others are live all along, and the one that comes back
// is followed again.
func TestUnreachableRooms(t *testing.T) {
	t.Parallel()
	rooms := fleettest.Start(t, fleettest.Options{Bin: fleettest.Binary(t), Chromium: chromium(t), Names: []string{"alpha", "bravo"}})
	// A listener that accepts connections and never answers them.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	list := []fleet.Room{
		rooms[0].FleetRoom(), rooms[1].FleetRoom(),
		{Name: "hole", URL: "http://" + hole.Addr().String()},
		{Name: "refused", URL: "http://127.0.0.1:" + itoa(fleettest.FreePort(t))},
	}
	w := startWatch(t, list, fleet.Options{ConnectTimeout: fleettest.Timeout, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	w.until(0, "ready", ready)
	w.until(1, "ready", ready)
	if h := w.row(2).Snapshot.Health; h != fleet.HealthConnecting {
		t.Fatalf("the silent room is %s already: the others waited for it", h)
	}
	r := w.until(3, "unreachable", func(r fleet.Row) bool { return r.Snapshot.Health == fleet.HealthUnreachable })
	if !strings.Contains(r.Snapshot.Err, "connection refused") || r.Need != fleet.NeedUnreachable || r.Snapshot.Down.IsZero() {
		t.Fatalf("refused room: %s %q", r.Need, r.Snapshot.Err)
	}

	rooms[0].Stop()
	r = w.until(0, "unreachable once stopped", func(r fleet.Row) bool { return r.Snapshot.Health == fleet.HealthUnreachable })
	if !strings.Contains(r.Snapshot.Err, "connection refused") {
		t.Fatalf("stopped room's error: %q", r.Snapshot.Err)
	}
	// bravo is followed meanwhile.
	if err := w.f.Backend(1).Acquire(actx(t)); err != nil {
		t.Fatal(err)
	}
	w.until(1, "ran automation", func(r fleet.Row) bool { return r.Need == fleet.NeedRunning })
	rooms[0].Restart()
	w.until(0, "ready again", ready)

	// An action on an unreachable room fails at once with why.
	err = w.f.Backend(3).Pause(actx(t))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("pause on a refused room: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// A room whose connection attempt fails only after a while (a host that
// is down times out the dial; here a listener that never answers, with a
// connect timeout longer than a stream must live to count as having
// worked) is unreachable, like one that refuses at once.
func TestSlowFailureIsUnreachable(t *testing.T) {
	t.Parallel()
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	list := []fleet.Room{{Name: "hole", URL: "http://" + hole.Addr().String()}}
	w := startWatch(t, list, fleet.Options{ConnectTimeout: 6 * time.Second, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	r := w.until(0, "unreachable", func(r fleet.Row) bool { return r.Snapshot.Health == fleet.HealthUnreachable })
	if !strings.Contains(r.Snapshot.Err, "no answer within 6s") || r.Need != fleet.NeedUnreachable {
		t.Fatalf("silent room: %s %q", r.Need, r.Snapshot.Err)
	}
}

// Rooms that want a token: a wrong one is refused and says so, the right
// one (from a file) works, and neither appears in anything shown.
func TestTokens(t *testing.T) {
	t.Parallel()
	const secret = "fleet-t0ken-s3cret"
	rooms := fleettest.Start(t, fleettest.Options{Bin: fleettest.Binary(t), Chromium: chromium(t), Names: []string{"locked"}, Token: secret})
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("wrong-token-wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	list := []fleet.Room{rooms[0].FleetRoom(), rooms[0].FleetRoom(), rooms[0].FleetRoom()}
	list[0].Name, list[0].TokenFile = "right", good
	list[1].Name, list[1].TokenFile = "wrong", bad
	list[2].Name = "none"
	if err := fleet.LoadTokens(list, ""); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, list, fleet.Options{MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	w.until(0, "ready with the right token", ready)
	for i := 1; i <= 2; i++ {
		r := w.until(i, "refused", func(r fleet.Row) bool { return r.Snapshot.Health == fleet.HealthUnreachable })
		if !strings.Contains(r.Snapshot.Err, "HTTP 401") {
			t.Fatalf("%s: %q", r.Name, r.Snapshot.Err)
		}
	}
	err := w.f.Backend(1).Pause(actx(t))
	var he *fleet.HTTPError
	if !errors.As(err, &he) || !he.Unauthorized() || !strings.Contains(err.Error(), "tokenFile") {
		t.Fatalf("pause with the wrong token: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, u := range w.updates {
		if strings.Contains(u.Snapshot.Err, secret) || strings.Contains(u.Snapshot.State.Reason, secret) {
			t.Fatalf("the token is in an update: %+v", u.Snapshot)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatal("the token is in an error")
	}
}
