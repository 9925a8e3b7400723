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
	cases := []struct {
		name string
		w, h int
		keys []tea.KeyMsg
	}{
		{"80x24", 80, 24, nil},
		{"120x40", 120, 40, nil},
		{"60x30-stacked", 60, 30, nil},
		{"80x24-give", 80, 24, []tea.KeyMsg{keyMsg("g"), keyMsg("down")}},
		{"80x24-handoff", 80, 24, append([]tea.KeyMsg{keyMsg("h")}, typed("solve the captcha")...)},
		{"80x24-help", 80, 24, []tea.KeyMsg{keyMsg("?")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := scene()
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
