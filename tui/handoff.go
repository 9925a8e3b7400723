package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/codrive/codrive/internal/sanitize"
)

// The handoff key: a one-line input for the reason, then the handoff,
// which h cancels.

func (m *Model) handoffKey() {
	if m.handoffCancel != nil {
		m.handoffCancel()
		m.handoffCancel = nil
		m.handoffStopped = true
		m.note("handoff: cancelling")
		return
	}
	if m.status.Handoff != "" {
		m.note("handoff: one is already in progress (" + sanitize.Text(m.status.Handoff) + ")")
		return
	}
	m.reason = m.reason[:0]
	m.mode = modeInput
}

// maxReason bounds the handoff reason; it is broadcast to every viewer.
const maxReason = 200

// onInputKey edits the handoff reason: a one-line input with the cursor at
// the end, which is all a short reason needs.
func (m *Model) onInputKey(k tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(k, m.keys.Cancel):
		m.mode = modeNormal
		return nil
	case key.Matches(k, m.keys.Enter):
		m.mode = modeNormal
		return m.startHandoff(strings.TrimSpace(sanitize.Text(string(m.reason))))
	}
	switch k.Type {
	case tea.KeyRunes, tea.KeySpace:
		for _, r := range k.Runes {
			if len(m.reason) < maxReason && !sanitize.IsControl(r) {
				m.reason = append(m.reason, r)
			}
		}
	case tea.KeyBackspace:
		if len(m.reason) > 0 {
			m.reason = m.reason[:len(m.reason)-1]
		}
	case tea.KeyCtrlU:
		m.reason = m.reason[:0]
	case tea.KeyCtrlW:
		s := strings.TrimRight(string(m.reason), " ")
		if i := strings.LastIndex(s, " "); i >= 0 {
			m.reason = []rune(s[:i+1])
		} else {
			m.reason = m.reason[:0]
		}
	}
	return nil
}

func (m *Model) startHandoff(reason string) tea.Cmd {
	if m.busy[actHandoff] {
		m.note("handoff: already in progress")
		return nil
	}
	shown := reason
	if shown == "" {
		shown = "automation needs a person"
	}
	m.note(fmt.Sprintf("handoff: %q — waiting for a person to take control and release it (up to %s; h cancels)", shown, m.opts.HandoffTimeout))
	// The handoff has its own cancel so h can end it without quitting.
	hctx, hcancel := context.WithCancel(m.ctx)
	m.handoffCancel = hcancel
	m.busy[actHandoff] = true
	return m.spawn(actHandoff, m.opts.HandoffTimeout, "done: the person released control", func(ctx context.Context) error {
		ctx, stop := mergeCancel(ctx, hctx)
		defer stop()
		return m.b.Handoff(ctx, reason)
	})
}

// mergeCancel returns ctx also cancelled when other is.
func mergeCancel(ctx, other context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(other, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}
