package tui

import (
	"bytes"
	"context"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/codrive/codrive/codrive"
)

// TestFrames renders whole screens through a real Bubble Tea program and
// compares them with the golden files in testdata/TestFrames (go test
// ./tui -run TestFrames -update rewrites them). The clock is pinned and
// colours are off, so a frame only changes when the layout does.
func TestFrames(t *testing.T) {
	t.Parallel()
	// A room crowded with offline sessions whose names sort first: they
	// pushed the host and codrive's own session under "… more" (issue 12
	// item 12).
	crowd := func(b *fakeBackend) {
		for _, n := range []string{"aaron", "abby", "adam", "agnes", "al"} {
			b.people = append(b.people, codrive.Participant{ID: n + "-0", Name: n, CanHost: true})
		}
		b.people = append(b.people, codrive.Participant{ID: "codrive-Zz9", Name: "codrive", Admin: true, CanHost: true, Connected: true, Codrive: true})
	}
	cases := []struct {
		name string
		w, h int
		keys []tea.KeyMsg
		edit func(*fakeBackend)
	}{
		{"80x24", 80, 24, nil, nil},
		{"120x40", 120, 40, nil, nil},
		{"60x30-stacked", 60, 30, nil, nil},
		{"80x24-give", 80, 24, []tea.KeyMsg{keyMsg("g"), keyMsg("down")}, nil},
		{"80x24-handoff", 80, 24, append([]tea.KeyMsg{keyMsg("h")}, typed("solve the captcha")...), nil},
		{"80x24-help", 80, 24, []tea.KeyMsg{keyMsg("?")}, nil},
		{"60x20", 60, 20, nil, nil},
		{"60x20-help", 60, 20, []tea.KeyMsg{keyMsg("?")}, nil},
		{"60x20-help-scrolled", 60, 20, []tea.KeyMsg{keyMsg("?"), keyMsg("pgdown"), keyMsg("down")}, nil},
		{"80x24-crowded", 80, 24, nil, crowd},
		{"120x40-crowded", 120, 40, nil, crowd},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := scene()
			if tc.edit != nil {
				tc.edit(b)
			}
			events := make(chan codrive.Event, 8)
			opts := testOptions()
			opts.Events = events
			m := New(context.Background(), b, opts)
			t.Cleanup(m.Close)
			tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(tc.w, tc.h))

			st := b.Status()
			st.Pending = nil
			events <- event("state", "codrive (codrive-Ab3dE) took control", st, &b.page)
			events <- event("request", "alice (alice-x1Y2z) asked for control: kept by automation (policy hold)", b.Status(), &b.page)
			events <- event("page", "marker: page: https://example.test/checkout", b.Status(), &b.page)
			teatest.WaitFor(t, tm.Output(), func(out []byte) bool {
				return bytes.Contains(out, []byte("marker: page"))
			}, teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
			for _, k := range tc.keys {
				tm.Send(k)
			}
			if err := tm.Quit(); err != nil {
				t.Fatal(err)
			}
			final, ok := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(*Model)
			if !ok {
				t.Fatal("the program did not return the Model")
			}
			teatest.RequireEqualOutput(t, []byte(final.View()))
		})
	}
}

func typed(s string) []tea.KeyMsg {
	var ks []tea.KeyMsg
	for _, r := range s {
		ks = append(ks, keyMsg(string(r)))
	}
	return ks
}
