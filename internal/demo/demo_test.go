package demo

import (
	"context"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/codrive"
)

// The whole scene, fast: the person's takeover must hold an automation
// click, which lands after they release, and the order must come out right.
func TestDemoScene(t *testing.T) {
	cdptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := Start(ctx, Options{Pace: 50 * time.Millisecond, PersonDrives: 300 * time.Millisecond, ReclaimAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	evs, unsub := d.Session.Subscribe()
	defer unsub()

	sum, err := d.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Result != "Order confirmed: Ada Lovelace, 3 item(s)" {
		t.Errorf("result %q", sum.Result)
	}
	if sum.Steps != 7 || sum.Handoffs != 1 || sum.Held < 1 || sum.Paused <= 0 {
		t.Errorf("summary %+v", sum)
	}
	// The person's turn shows in the session's events, in order.
	for _, w := range []codrive.State{codrive.StateAutomation, codrive.StateHuman, codrive.StateAutomation} {
		waitState(t, evs, w)
	}
}

func waitState(t *testing.T, evs <-chan codrive.Event, want codrive.State) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-evs:
			if ev.Kind == "state" && ev.Status.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %s state event", want)
		}
	}
}
