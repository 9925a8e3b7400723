package codrive

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/codrive/codrive/codrive/timeline"
)

// Options.Record: a run with a person's turn in the middle, read back as
// its report says it. The script's evaluation sent while alice drives is
// held and released after her turn; her turn has a screenshot at each end.
func TestRecordAPersonsTurn(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	tab := c.NewTabT(t, "data:text/html,<title>order</title><h1>order</h1>")
	dir := filepath.Join(t.TempDir(), "rec")
	cfg := testConfig(srv, PolicyYield)
	cfg.CDPURL, cfg.Target, cfg.Listen = c.URL, tab, "127.0.0.1:0"
	cfg.Record, cfg.RecordTitle = dir, "order run"
	s, err := Attach(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	if s.Recording() != dir {
		t.Fatalf("Recording() = %q, want %q", s.Recording(), dir)
	}
	evs, unsub := s.Subscribe()
	defer unsub()
	if err := s.Acquire(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	sc := dialScript(t, s.ProxyURL(), tab)
	sc.evaluate("document.title = 'step 1'")
	sc.answered(t)

	alice := newPerson(t, srv, "alice", false)
	if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "alice hosts", isState(StateHuman))
	sc.evaluate("document.title = 'step 2'") // held: alice drives
	if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "automation back", isState(StateAutomation))
	sc.answered(t)
	if err := s.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	rec, err := timeline.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := timeline.Build(rec)
	if rep.Title != "order run" {
		t.Errorf("title %q", rep.Title)
	}
	if rep.Totals.PersonTurns != 1 {
		t.Errorf("%d person turns, want 1", rep.Totals.PersonTurns)
	}
	if rep.Totals.Held != 1 || rep.Totals.HeldByOutcome["released"] != 1 {
		t.Errorf("held %d %v, want one released", rep.Totals.Held, rep.Totals.HeldByOutcome)
	}
	i := slices.IndexFunc(rep.Segments, func(sg timeline.Segment) bool { return sg.Driver == timeline.DriverPerson })
	if i < 0 {
		t.Fatalf("no person segment in %+v", rep.Segments)
	}
	turn := rep.Segments[i]
	if turn.Label != "alice" {
		t.Errorf("the person's segment says %q", turn.Label)
	}
	if turn.StartShot == 0 || turn.EndShot == 0 {
		t.Errorf("alice's turn has screenshots %d (start) and %d (end), want both", turn.StartShot, turn.EndShot)
	}
	kept := 0
	for _, c := range rep.Captures {
		if c.Kept {
			kept++
		}
	}
	if kept == 0 {
		t.Errorf("no screenshot kept: %+v", rep.Captures)
	}
	if rec.Meta.Ended.IsZero() {
		t.Error("meta.json has no end: Close did not finish the recording")
	}
}

// A Record directory that holds something else fails Attach before any
// network call: no neko session, nothing to undo.
func TestRecordIntoAFullDirectory(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	cfg := testConfig(srv, PolicyYield)
	cfg.CDPURL = c.URL
	cfg.Record = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Record, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Attach(ctxT(t), cfg)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("Attach: %v, want a directory that is not empty", err)
	}
	if n := len(srv.Sessions()); n != 0 {
		t.Errorf("%d neko session(s) after a failed Attach", n)
	}
}
