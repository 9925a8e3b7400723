package fleet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/fleet"
)

var t0 = time.Date(2026, 8, 15, 22, 0, 0, 0, time.Local)

func upd(room int, at time.Time, kind codrive.EventKind, st codrive.Status, h fleet.Health) fleet.Update {
	u := fleet.Update{Room: room, At: at, Kind: fleet.UpdateEvent,
		Event:    codrive.Event{Time: at, Kind: kind, Status: st},
		Snapshot: fleet.Snapshot{Health: h, Known: true, Stream: true, Fetched: true}}
	u.Snapshot.State.Status = st
	u.Snapshot.State.Ready = h == fleet.HealthReady
	return u
}

func names(rows []fleet.Row) string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name)
	}
	return strings.Join(out, " ")
}

// Rows come in the order a person should look at them; within a need,
// who waited longest first.
func TestBoardOrder(t *testing.T) {
	t.Parallel()
	var rooms []fleet.Room
	for _, n := range []string{"run", "human", "ask-new", "ask-old", "gone", "handoff", "paused", "free", "sick", "new"} {
		rooms = append(rooms, fleet.Room{Name: n})
	}
	b := fleet.NewBoard(rooms, t0)
	auto := codrive.Status{State: codrive.StateAutomation, Gate: codrive.GateOpen, HostName: "codrive"}
	b.Apply(upd(0, t0, "state", auto, fleet.HealthReady))
	b.Apply(upd(1, t0, "state", codrive.Status{State: codrive.StateHuman, Gate: codrive.GateWaiting, HostName: "alice"}, fleet.HealthReady))
	ask := func(since time.Time) codrive.Status {
		s := auto
		s.Pending = []codrive.PendingRequest{{ID: "p", Name: "pat", Since: since}}
		return s
	}
	b.Apply(upd(2, t0, "request", ask(t0.Add(-time.Minute)), fleet.HealthReady))
	b.Apply(upd(3, t0, "request", ask(t0.Add(-time.Hour)), fleet.HealthReady))
	gone := upd(4, t0, "state", auto, fleet.HealthUnreachable)
	gone.Snapshot.Stream, gone.Snapshot.Err = false, "cannot connect: connection refused"
	b.Apply(gone)
	b.Apply(upd(5, t0, "state", auto, fleet.HealthReady))
	ho := codrive.Status{State: codrive.StateFree, Gate: codrive.GateHandoff, Handoff: "captcha", Paused: true}
	b.Apply(upd(5, t0.Add(time.Second), codrive.EventHandoff, ho, fleet.HealthReady))
	b.Apply(upd(6, t0, codrive.EventPause, codrive.Status{State: codrive.StateFree, Gate: codrive.GatePaused, Paused: true}, fleet.HealthReady))
	b.Apply(upd(7, t0, "state", codrive.Status{State: codrive.StateFree, Gate: codrive.GateWaiting}, fleet.HealthReady))
	b.Apply(upd(8, t0, "state", codrive.Status{State: codrive.StateDisconnected, Gate: codrive.GateWaiting}, fleet.HealthDegraded))

	rows := b.Rows(t0.Add(time.Minute))
	if got, want := names(rows), "handoff ask-old ask-new gone sick paused human new free run"; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if rows[0].Need != fleet.NeedHandoff || !rows[0].HandoffExact || rows[0].Handoffs != 1 || rows[0].Paused != time.Minute-time.Second {
		t.Fatalf("handoff row: %+v", rows[0])
	}
	if got := fleet.Counts(rows).Summary(); got != "10 rooms: ‼1 handoff waiting  ?2 asking  ✗1 unreachable  ~1 degraded  ‖1 paused  ●1 human  …1 connecting  ○1 idle  ▶1 automation" {
		t.Fatalf("summary %q", got)
	}
	line := rows[0].Line(t0.Add(time.Minute), "")
	if !strings.Contains(line, `handoff="captcha":59s`) || !strings.Contains(line, "health=ready") {
		t.Fatalf("plain line %q", line)
	}
}

// A handoff already under way when the fleet first sees the room has a
// lower-bound age and is not counted; pauses stop counting while the room
// is out of sight; each midnight starts the counts again.
func TestBoardWindow(t *testing.T) {
	t.Parallel()
	b := fleet.NewBoard([]fleet.Room{{Name: "a"}}, t0)
	if b.WindowLabel() != "since 22:00" {
		t.Fatal(b.WindowLabel())
	}
	ho := codrive.Status{State: codrive.StateFree, Gate: codrive.GateHandoff, Handoff: "login", Paused: true}
	b.Apply(upd(0, t0, codrive.EventState, ho, fleet.HealthReady))
	r := b.Row(0, t0.Add(10*time.Second))
	if r.HandoffExact || r.Handoffs != 0 || r.Paused != 10*time.Second {
		t.Fatalf("handoff seen late: %+v", r)
	}
	if !strings.Contains(r.Line(t0.Add(10*time.Second), ""), `handoff="login":≥10s`) {
		t.Fatalf("line %q", r.Line(t0.Add(10*time.Second), ""))
	}
	down := upd(0, t0.Add(20*time.Second), codrive.EventState, ho, fleet.HealthUnreachable)
	down.Snapshot.Stream = false
	if !b.Apply(down) {
		t.Fatal("going unreachable is a change")
	}
	if got := b.Row(0, t0.Add(time.Hour)).Paused; got != 20*time.Second {
		t.Fatalf("paused while out of sight: %s", got)
	}
	// Back, still paused, across midnight.
	b.Apply(upd(0, t0.Add(90*time.Minute), codrive.EventState, ho, fleet.HealthReady))
	after := t0.Add(2*time.Hour + 30*time.Minute) // 00:30
	r = b.Row(0, after)
	if r.Paused != 30*time.Minute || b.WindowLabel() != "today" {
		t.Fatalf("after midnight: paused %s, window %q", r.Paused, b.WindowLabel())
	}
	if b.Apply(upd(0, after, codrive.EventState, ho, fleet.HealthReady)) {
		t.Fatal("the same state again is no change")
	}
}
