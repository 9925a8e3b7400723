package codrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/codrive/codrive/codrive/timeline"
)

// recording is a Session's timeline recording (Options.Record): its events
// as `codrive attach --json` prints them, the proxy's held commands and
// screenshots of the tab over a DevTools connection of the recorder's own,
// never through the proxy's gate.
type recording struct {
	rec  *timeline.Recorder
	tab  *timeline.Tab // nil without a CDP URL: no screenshots
	done chan struct{} // closed when the feed has written its last event
	log  *slog.Logger
}

// startRecording creates the recording directory and attaches the
// screenshot taker to target, the tab the session attached to.
func startRecording(ctx context.Context, o Options, target string) (*recording, error) {
	r := &recording{done: make(chan struct{}), log: o.Logger}
	ro := timeline.Options{Title: o.RecordTitle, Logger: o.Logger}
	if ro.Title == "" {
		ro.Title = "codrive"
	}
	if o.CDPURL != "" {
		tab, err := timeline.AttachTab(ctx, o.CDPURL, timeline.TabOptions{Target: target, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("codrive: Record: %w", err)
		}
		r.tab, ro.Capture = tab, tab.Capture
	}
	rec, err := timeline.Start(o.Record, ro)
	if err != nil {
		if r.tab != nil {
			_ = r.tab.Close()
		}
		return nil, fmt.Errorf("codrive: Record: %w", err)
	}
	r.rec = rec
	return r, nil
}

// feed records first, then every event of evs until it closes.
func (r *recording) feed(first Event, evs <-chan Event) {
	defer close(r.done)
	r.event(first)
	for ev := range evs {
		r.event(ev)
	}
}

func (r *recording) event(ev Event) {
	// The same JSON attach --json prints: the recording format is that
	// line, so a recording made by the library and one made from
	// `attach --json` read the same.
	b, err := json.Marshal(ev)
	if err == nil {
		err = r.rec.EventJSON(b)
	}
	if err != nil {
		r.log.Warn("codrive: an event left out of the recording", "err", err)
	}
}

// close finishes the recording once the feed has drained (the session's
// hub is closed by then): a last screenshot, bounded by ctx, and meta.json.
func (r *recording) close(ctx context.Context) error {
	select {
	case <-r.done:
	case <-ctx.Done():
	}
	err := r.rec.Close(ctx)
	if r.tab != nil {
		err = errors.Join(err, r.tab.Close())
	}
	if err != nil {
		return fmt.Errorf("codrive: finish the recording in %s: %w", r.rec.Dir(), err)
	}
	return nil
}

// Recording is the directory of the session's timeline recording
// (Options.Record), "" without one. It is complete once Close returned;
// package timeline renders it (timeline.Render), as `codrive report` does.
func (s *Session) Recording() string {
	if s.rec == nil {
		return ""
	}
	return s.rec.rec.Dir()
}
