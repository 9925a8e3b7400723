package tui

import "github.com/charmbracelet/lipgloss"

// Styles are the monitor's colours, for views that sit beside it (the
// fleet's table) and should look like it.
type Styles struct {
	Border, Title, Label, Dim, Good, Warn, Bad, Key, Note, Error lipgloss.Style
}

// NewStyles returns the monitor's styles on r.
func NewStyles(r *lipgloss.Renderer) Styles {
	s := newStyles(r)
	return Styles{Border: s.border, Title: s.title, Label: s.label, Dim: s.dim, Good: s.good,
		Warn: s.warn, Bad: s.bad, Key: s.key, Note: s.note, Error: s.errText}
}

// Modal reports whether the monitor is in a dialog (help, the give
// picker, the handoff reason) that takes keys such as esc and q for
// itself: a view that embeds the Model lets those keys through then.
func (m *Model) Modal() bool { return m.mode != modeNormal }
