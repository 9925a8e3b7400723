package tui

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/codrive/codrive/codrive"
)

// t0 is the pinned clock of every test frame.
var t0 = time.Date(2026, 8, 15, 10, 0, 0, 0, time.UTC)

// fakeBackend records calls; each action's result comes from its hook, or
// nil.
type fakeBackend struct {
	mu     sync.Mutex
	status codrive.Status
	page   codrive.PageInfo
	conn   codrive.Connection
	people []codrive.Participant
	calls  []string

	acquire, release, take, pause func(ctx context.Context) error
	give                          func(ctx context.Context, id string) error
	handoff                       func(ctx context.Context, reason string) error
}

func (f *fakeBackend) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeBackend) set(fn func(*fakeBackend)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeBackend) Status() codrive.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.status
	s.Pending = append([]codrive.PendingRequest(nil), s.Pending...)
	return s
}

func (f *fakeBackend) PageInfo() codrive.PageInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.page
}

func (f *fakeBackend) Connection() codrive.Connection {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conn
}

func (f *fakeBackend) Participants() []codrive.Participant {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]codrive.Participant(nil), f.people...)
}

func call(ctx context.Context, hook func(context.Context) error) error {
	if hook == nil {
		return nil
	}
	return hook(ctx)
}

func (f *fakeBackend) Acquire(ctx context.Context) error {
	f.record("acquire")
	return call(ctx, f.acquire)
}

func (f *fakeBackend) Release(ctx context.Context) error {
	f.record("release")
	return call(ctx, f.release)
}

func (f *fakeBackend) Take(ctx context.Context) error {
	f.record("take")
	return call(ctx, f.take)
}

func (f *fakeBackend) Pause(ctx context.Context) error {
	f.record("pause")
	return call(ctx, f.pause)
}

func (f *fakeBackend) Resume() { f.record("resume") }

func (f *fakeBackend) Give(ctx context.Context, id string) error {
	f.record("give " + id)
	if f.give == nil {
		return nil
	}
	return f.give(ctx, id)
}

func (f *fakeBackend) Handoff(ctx context.Context, reason string) error {
	f.record("handoff " + reason)
	if f.handoff == nil {
		return nil
	}
	return f.handoff(ctx, reason)
}

// scene is a room in a known state: codrive hosts, alice asked for control
// (policy hold), bob watches, zed is offline and may not host.
func scene() *fakeBackend {
	return &fakeBackend{
		status: codrive.Status{
			State:    codrive.StateAutomation,
			Host:     "codrive-Ab3dE",
			HostName: "codrive",
			Since:    t0.Add(-75 * time.Second),
			Reason:   "codrive (codrive-Ab3dE) took control",
			Session:  "codrive-Ab3dE",
			Policy:   codrive.PolicyHold,
			Gate:     codrive.GateOpen,
			Go:       true,
			Pending: []codrive.PendingRequest{
				{ID: "alice-x1Y2z", Name: "alice", Since: t0.Add(-12 * time.Second)},
			},
		},
		page: codrive.PageInfo{TargetID: "8F3A0C2B5D7E4F6A9B1C3D5E7F9A1B3C", URL: "https://example.test/checkout", Title: "Checkout", Attached: true},
		conn: codrive.Connection{Connected: true, Admin: true, LastHeard: t0.Add(-3 * time.Second), Reconnects: 1},
		// Sorted by name, as Session.Participants returns them.
		people: []codrive.Participant{
			{ID: "alice-x1Y2z", Name: "alice", CanHost: true, Connected: true, Watching: true},
			{ID: "bob-Qq7Rr", Name: "bob", CanHost: true, Connected: true, Watching: true},
			{ID: "codrive-Ab3dE", Name: "codrive", Admin: true, CanHost: true, Connected: true, Host: true, Self: true},
			{ID: "zed-00000", Name: "zed"},
		},
	}
}

// plainRenderer renders without colours or attributes, so frames compare
// as text.
func plainRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return r
}

func testOptions() Options {
	return Options{
		NekoURL:  "http://neko.test:8080",
		Now:      func() time.Time { return t0 },
		Refresh:  -1,
		Renderer: plainRenderer(),
	}
}

// stamp builds events at the pinned clock.
func event(kind codrive.EventKind, reason string, st codrive.Status, page *codrive.PageInfo) codrive.Event {
	return codrive.Event{Time: t0, Kind: kind, Reason: reason, Status: st, Page: page}
}
