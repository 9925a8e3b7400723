package codrive

import (
	"context"
	"slices"
	"testing"
	"time"
)

// Policy hold keeps control and counts a person's request once, however
// often their client repeats it (neko turns mouse moves into requests);
// a handoff cancelled by its caller and one refused count by outcome.
func TestStatsCountRequestsAndHandoffs(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	s, err := Attach(ctxT(t), testConfig(srv, PolicyHold))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctxT(t))
	evs, cancel := s.Subscribe()
	defer cancel()
	if err := s.Acquire(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	alice := newPerson(t, srv, "alice", false)
	for range 3 {
		if _, err := alice.client.RequestControl(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
	nextEvent(t, evs, "alice's request", func(ev Event) bool { return ev.Kind == EventRequest })
	if _, err := s.WaitState(ctxT(t), func(st Status) bool { return len(st.Pending) == 1 }); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Requests; got != (RequestCounts{Kept: 1}) {
		t.Fatalf("requests after one person asked three times under policy hold: %+v", got)
	}

	ctx, stop := context.WithCancel(ctxT(t))
	handoff := make(chan error, 1)
	go func() { handoff <- s.Handoff(ctx, "cancelled one") }()
	if _, err := s.WaitState(ctxT(t), func(st Status) bool { return st.Handoff != "" }); err != nil {
		t.Fatal(err)
	}
	if err := s.Handoff(ctxT(t), "second"); err == nil {
		t.Fatal("a second handoff while one is under way was accepted")
	}
	paused := s.Stats().Paused
	stop()
	if err := <-handoff; err == nil {
		t.Fatal("a cancelled handoff returned nil")
	}
	if got := s.Stats().Handoffs; got != (HandoffCounts{Cancelled: 1, Failed: 1}) {
		t.Fatalf("handoffs: %+v", got)
	}
	if paused <= 0 {
		t.Fatalf("Paused during a handoff: %v", paused)
	}
	if _, err := s.WaitState(ctxT(t), func(st Status) bool { return !st.Paused }); err != nil {
		t.Fatal(err)
	}
	// Once the pause ended, the total stays put.
	p1 := s.Stats().Paused
	if p2 := s.Stats().Paused; p2 != p1 || p1 < paused {
		t.Fatalf("paused time after the pause: %v then %v (was %v during it)", p1, p2, paused)
	}
}

func TestHistogramIsCumulative(t *testing.T) {
	t.Parallel()
	h := newHistogram([]time.Duration{time.Millisecond, 10 * time.Millisecond, time.Second})
	for _, d := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 2 * time.Second, time.Hour} {
		h.observe(d)
	}
	got := h.snapshot()
	if want := []uint64{2, 3, 3}; !slices.Equal(got.Counts, want) {
		t.Fatalf("counts %v, want %v (a bound is inclusive)", got.Counts, want)
	}
	if got.Count != 5 || got.Sum != time.Hour+2*time.Second+6*time.Millisecond {
		t.Fatalf("count %d sum %v", got.Count, got.Sum)
	}
	got.Bounds[0] = 0 // the snapshot is the caller's
	if h.bounds[0] != time.Millisecond {
		t.Fatal("a snapshot shares its bounds with the histogram")
	}
}
