// Package tui is codrive's terminal monitor: one screen that shows who
// drives the browser (neko's host control), codrive's neko connection, the
// room's sessions, the attached tab and a log of events, and keys to request,
// release, take, give, pause and hand off control.
//
// The Model depends on a small Backend interface that *codrive.Session
// satisfies, so its update logic can be driven in tests without neko or
// Chromium. It uses the codrive library's public API only.
package tui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/codrive/codrive/codrive"
)

// Backend is what the monitor reads and drives. *codrive.Session satisfies
// it; tests use a fake.
type Backend interface {
	Status() codrive.Status
	PageInfo() codrive.PageInfo
	// Connection is the neko link's health; its Admin says whether take
	// can work.
	Connection() codrive.Connection
	// Participants are the room's sessions, for the sessions pane and the
	// give picker.
	Participants() []codrive.Participant
	Acquire(ctx context.Context) error
	Release(ctx context.Context) error
	Take(ctx context.Context) error
	Give(ctx context.Context, sessionID string) error
	Pause(ctx context.Context) error
	Resume()
	Handoff(ctx context.Context, reason string) error
}

var _ Backend = (*codrive.Session)(nil)

// Options configure a Model. Only the Backend passed to New is required.
type Options struct {
	// NekoURL is shown in the connection pane. Any user info, query and
	// fragment are removed before it is shown, so a URL carrying
	// credentials never reaches the screen.
	NekoURL string
	// ProxyURL is codrive's CDP proxy endpoint, shown (redacted like
	// NekoURL) when set.
	ProxyURL string
	// Events feeds the event log (for a Session: the channel of
	// s.Subscribe()). When it closes the monitor quits: the session ended.
	Events <-chan codrive.Event
	// Logs feeds log lines into the event log, e.g. LogSink.Lines.
	Logs <-chan string
	// Now is the clock; tests pin it so frames are reproducible.
	Now func() time.Time
	// Refresh is how often the panes re-read the Backend, so ages and the
	// session list stay current between events. Default 1s; negative never.
	Refresh time.Duration
	// ActionTimeout bounds request, release, take, give and pause. Default 30s.
	ActionTimeout time.Duration
	// HandoffTimeout bounds a handoff: how long a person has to take control
	// and release it again. Default 15m.
	HandoffTimeout time.Duration
	// MaxLog bounds the event log, oldest entries dropped first. Default 500.
	MaxLog int
	// AcquireOnStart starts a request for control as the monitor starts.
	AcquireOnStart bool
	// Renderer styles the output; default lipgloss.DefaultRenderer(). Tests
	// pass one with the Ascii profile for colourless golden frames.
	Renderer *lipgloss.Renderer
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Refresh == 0 {
		o.Refresh = time.Second
	}
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = 30 * time.Second
	}
	if o.HandoffTimeout <= 0 {
		o.HandoffTimeout = 15 * time.Minute
	}
	if o.MaxLog <= 0 {
		o.MaxLog = 500
	}
	if o.Renderer == nil {
		o.Renderer = lipgloss.DefaultRenderer()
	}
}

// Run shows the monitor until the user quits or ctx ends, then waits for
// the actions it started to return (they see a cancelled context). It does
// not close the Backend: the caller owns it. Bubble Tea's own signal handler
// is turned off; ctx is the way to stop the monitor from outside.
func Run(ctx context.Context, b Backend, opts Options, popts ...tea.ProgramOption) error {
	m := New(ctx, b, opts)
	defer m.Close()
	p := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithoutSignalHandler()}, popts...)...)
	stop := context.AfterFunc(ctx, p.Quit)
	defer stop()
	if _, err := p.Run(); err != nil {
		return fmt.Errorf("tui: %w", err)
	}
	return nil
}

// LogSink is an io.Writer for a slog handler whose lines should appear in
// the monitor's event log while it runs, instead of on stderr where they
// would tear the screen. Write never blocks the logger: when the monitor
// falls more than the buffer behind, lines are dropped and counted. Before
// and after the monitor runs, SetOutput sends lines to a writer instead.
type LogSink struct {
	lines   chan string
	dropped atomic.Int64

	mu      sync.Mutex
	partial []byte
	out     io.Writer
}

// NewLogSink returns a sink that buffers up to buffer lines (default 256)
// for Lines.
func NewLogSink(buffer int) *LogSink {
	if buffer <= 0 {
		buffer = 256
	}
	return &LogSink{lines: make(chan string, buffer)}
}

// Lines is the channel to pass as Options.Logs. It is never closed.
func (s *LogSink) Lines() <-chan string { return s.lines }

// Dropped is how many lines were lost because the monitor fell behind.
func (s *LogSink) Dropped() int64 { return s.dropped.Load() }

// SetOutput sends every later write to w; nil sends lines to Lines again
// (the initial mode).
func (s *LogSink) SetOutput(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.out = w
}

// Write splits p into lines; a trailing partial line waits for its end.
func (s *LogSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out != nil {
		if _, err := s.out.Write(p); err != nil {
			return 0, fmt.Errorf("log sink: %w", err)
		}
		return len(p), nil
	}
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		line := string(s.partial[:i])
		s.partial = s.partial[i+1:]
		select {
		case s.lines <- line:
		default:
			s.dropped.Add(1)
		}
	}
	if len(s.partial) == 0 {
		s.partial = nil
	}
	return len(p), nil
}
