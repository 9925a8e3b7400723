package demo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/timeline"
)

// The whole scene, fast: the person's takeover must hold an automation
// click, which lands after they release, and the order must come out right.
func TestDemoScene(t *testing.T) {
	cdptest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := filepath.Join(t.TempDir(), "rec")
	d, err := Start(ctx, Options{Pace: 50 * time.Millisecond, PersonDrives: 300 * time.Millisecond, ReclaimAfter: 100 * time.Millisecond, Record: rec})
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

	// The report make demo points to: alice's turn with its screenshots,
	// the held actions, and the page at the end showing the confirmed order.
	html := filepath.Join(t.TempDir(), "report.html")
	if err := d.Report(html); err != nil {
		t.Fatal(err)
	}
	recording, err := timeline.Load(rec)
	if err != nil {
		t.Fatal(err)
	}
	rep := timeline.Build(recording)
	if rep.Totals.PersonTurns != 1 || rep.Totals.Held < 1 {
		t.Errorf("report totals %+v: want alice's one turn and the held click", rep.Totals)
	}
	for _, sg := range rep.Segments {
		if sg.Driver == timeline.DriverPerson && (sg.Label != "alice" || sg.StartShot == 0 || sg.EndShot == 0) {
			t.Errorf("alice's turn %+v: want her name and a screenshot at each end", sg)
		}
	}
	if fi, err := os.Stat(html); err != nil || fi.Size() == 0 {
		t.Errorf("report.html: %v", err)
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
