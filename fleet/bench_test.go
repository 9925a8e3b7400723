package fleet_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/fleettest"
)

// benchRooms is the scale: 100 rooms on one screen.
const benchRooms = 100

// Events handled end to end: each of 100 fake rooms (the operator's wire
// format, over real HTTP on loopback) sends its share of b.N events at
// once; the fleet parses the streams and the board applies every update.
// Reported: events/s. (The delays under such a flood are the queues'
// length; BenchmarkEventToBoard measures one event's.)
func BenchmarkEventsToBoard(b *testing.B) {
	l := fleettest.StartLoad(benchRooms)
	defer l.Close()
	board := fleet.NewBoard(l.Fleet.Rooms(), time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := l.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	seen := 0
	b.ResetTimer()
	start := time.Now()
	published := make(chan error, 1)
	go func() { published <- l.PublishSpread(ctx, 0, b.N) }()
	for seen < b.N {
		select {
		case u := <-l.Fleet.Updates():
			board.Apply(u)
			if u.Kind == fleet.UpdateEvent && strings.HasPrefix(u.Event.Reason, "bench ") {
				seen++
			}
		case <-ctx.Done():
			b.Fatalf("%d of %d events after %s", seen, b.N, time.Since(start))
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-published; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
}

// One event at a time, each to the next of 100 idle rooms: ns/op is the
// delay from the fake's event to the board; p99 is reported too.
func BenchmarkEventToBoard(b *testing.B) {
	l := fleettest.StartLoad(benchRooms)
	defer l.Close()
	board := fleet.NewBoard(l.Fleet.Rooms(), time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := l.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	lat := make(fleettest.Latencies, 0, b.N)
	b.ResetTimer()
	for n := range b.N {
		ev := fleettest.BenchEvent(n)
		if err := l.Rooms[n%len(l.Rooms)].Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
		for done := false; !done; {
			select {
			case u := <-l.Fleet.Updates():
				board.Apply(u)
				done = u.Kind == fleet.UpdateEvent && u.Event.Reason == ev.Reason
			case <-ctx.Done():
				b.Fatalf("event %d never reached the board", n)
			}
		}
		lat = append(lat, time.Since(ev.Time))
	}
	b.StopTimer()
	b.ReportMetric(float64(lat.Quantile(0.99))/1e6, "ms-p99")
}
