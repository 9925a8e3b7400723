package fleetview

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/fleettest"
)

// benchRooms is the scale: 100 rooms on one screen.
const benchRooms = 100

// One frame of the table with 100 rooms in every need, on a 120x40 and a
// 200x60 terminal, without colour (NO_COLOR) and with 256 colours: ns/op
// is the render time per frame (View).
func BenchmarkView100Rooms(b *testing.B) {
	for _, c := range []struct {
		name    string
		w, h    int
		profile termenv.Profile
	}{
		{"120x40-nocolour", 120, 40, termenv.Ascii},
		{"120x40-256colours", 120, 40, termenv.ANSI256},
		{"200x60-256colours", 200, 60, termenv.ANSI256},
	} {
		b.Run(c.name, func(b *testing.B) {
			rooms, ups := scene(benchRooms)
			r := lipgloss.NewRenderer(io.Discard)
			r.SetColorProfile(c.profile)
			m := New(context.Background(), fleet.New(rooms, fleet.Options{}), Options{Now: func() time.Time { return t0 }, Tick: -1, Renderer: r})
			defer m.Close()
			m.Update(tea.WindowSizeMsg{Width: c.w, Height: c.h})
			m.Update(updatesMsg(ups))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				_ = m.View()
			}
		})
	}
}

// benchView is a view of a fleet watching 100 fake rooms, driven the way
// Bubble Tea drives it (listen's command, Update, View) without a
// terminal.
func benchView(b *testing.B) (*fleettest.Load, *Model, context.Context) {
	b.Helper()
	l := fleettest.StartLoad(benchRooms)
	b.Cleanup(l.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	m := New(ctx, l.Fleet, Options{Tick: -1, Renderer: asciiRenderer()})
	b.Cleanup(m.Close)
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 110})
	if err := l.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	return l, m, ctx
}

// next takes the next batch of updates into m, as the program would, and
// renders the frame; it returns the batch.
func next(b *testing.B, m *Model, ctx context.Context) updatesMsg {
	msg := m.listen()()
	batch, ok := msg.(updatesMsg)
	if !ok {
		b.Fatalf("the fleet stopped: %T (%v)", msg, ctx.Err())
	}
	m.Update(batch)
	_ = m.View()
	return batch
}

// Events handled end to end, into frames: 100 fake rooms send b.N events
// at once; the view takes them in batches and renders a frame per batch.
// Reported: events/s and frames rendered.
func BenchmarkEventsToFrames(b *testing.B) {
	l, m, ctx := benchView(b)
	b.ResetTimer()
	start := time.Now()
	published := make(chan error, 1)
	go func() { published <- l.PublishSpread(ctx, 0, b.N) }()
	seen, frames := 0, 0
	for seen < b.N {
		for _, u := range next(b, m, ctx) {
			if u.Kind == fleet.UpdateEvent && strings.HasPrefix(u.Event.Reason, "bench ") {
				seen++
			}
		}
		frames++
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if err := <-published; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(frames)/elapsed.Seconds(), "frames/s")
}

// One event at a time, each to the next of 100 idle rooms: ns/op is the
// delay from the fake's event to the frame that shows it (the program
// adds at most one tick of its renderer, 1/60 s); p99 is reported too.
func BenchmarkEventToFrame(b *testing.B) {
	l, m, ctx := benchView(b)
	lat := make(fleettest.Latencies, 0, b.N)
	b.ResetTimer()
	for n := range b.N {
		ev := fleettest.BenchEvent(n)
		room := l.Rooms[n%len(l.Rooms)]
		if err := room.Publish(ctx, ev); err != nil {
			b.Fatal(err)
		}
		for done := false; !done; {
			for _, u := range next(b, m, ctx) {
				done = done || (u.Kind == fleet.UpdateEvent && u.Event.Reason == ev.Reason)
			}
		}
		lat = append(lat, time.Since(ev.Time))
	}
	b.StopTimer()
	// The frame shows the last event: its room's host.
	want := "alice"
	if (b.N-1)%2 != 0 {
		want = "automation"
	}
	if line := rowOf(m.View(), l.Rooms[(b.N-1)%len(l.Rooms)].Name); !strings.Contains(line, want) {
		b.Fatalf("the last event is not on the frame: %q, want %q", line, want)
	}
	b.ReportMetric(float64(lat.Quantile(0.99))/1e6, "ms-p99")
}

// rowOf is the frame's line of the room.
func rowOf(frame, name string) string {
	for _, l := range strings.Split(frame, "\n") {
		if strings.Contains(l, " "+name+" ") {
			return l
		}
	}
	return ""
}
