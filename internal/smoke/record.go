package smoke

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/timeline"
)

// recording is a smoke run's timeline (Options.Record): one event per
// check, the codrive session's own events (the handoff check's person
// shows as a turn), and a screenshot of the watched page after each check
// that touched a page.
type recording struct {
	rec *timeline.Recorder
	r   *run

	mu     sync.Mutex
	status codrive.Status // the session's latest, carried by check events
	wg     sync.WaitGroup
}

// touchesPage are the checks after which the page is captured.
var touchesPage = map[string]bool{CheckNavigate: true, CheckShot: true, CheckHandoff: true}

func startRecording(r *run) (*recording, error) {
	rc := &recording{r: r, status: codrive.Status{State: codrive.StateDisconnected, Policy: codrive.PolicyYield}}
	rec, err := timeline.Start(r.o.Record, timeline.Options{Title: "codrive smoke", Capture: rc.capture, Logger: r.o.Logger})
	if err != nil {
		return nil, err
	}
	rc.rec = rec
	return rc, nil
}

// capture shoots the page people watch (read only). smoke navigates a
// hidden tab of its own, which Chromium does not paint: a screenshot of it
// never completes.
func (rc *recording) capture(ctx context.Context) ([]byte, error) {
	rc.r.mu.Lock()
	page := rc.r.page
	rc.r.mu.Unlock()
	if page == nil {
		return nil, fmt.Errorf("not attached to the page (yet, or any more)")
	}
	// A context of the tab's, bounded by ctx: chromedp acts only on a
	// context derived from the one bound to the tab.
	actx, cancel := context.WithCancel(page.Context())
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	return timeline.Screenshot(actx, timeline.ShotOptions{})
}

// follow records the session's events until it closes.
func (rc *recording) follow(s *codrive.Session) {
	evs, _ := s.Subscribe() // ends when the session closes
	rc.wg.Go(func() {
		for ev := range evs {
			rc.mu.Lock()
			rc.status = ev.Status
			rc.mu.Unlock()
			rc.event(ev)
		}
	})
}

// checked records a check's outcome and, for a check that touched a page,
// the page as it left it (waited for, within the check's bound).
func (rc *recording) checked(ctx context.Context, c Check) {
	rc.mu.Lock()
	st := rc.status
	rc.mu.Unlock()
	reason := fmt.Sprintf("%s: %s", c.Name, c.Result)
	if c.Detail != "" {
		reason += " — " + c.Detail
	}
	if c.Duration > 0 {
		reason += fmt.Sprintf(" (%s)", c.Duration.Round(time.Millisecond))
	}
	rc.event(codrive.Event{Time: time.Now(), Kind: "check", Reason: reason, Status: st})
	if touchesPage[c.Name] && c.Result == Pass {
		rc.rec.Snapshot()
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = rc.rec.Flush(fctx) // a screenshot that fails is recorded as such
	}
}

func (rc *recording) event(ev codrive.Event) {
	b, err := json.Marshal(ev)
	if err == nil {
		err = rc.rec.EventJSON(b)
	}
	if err != nil {
		rc.r.o.Logger.Warn("smoke: an event left out of the report", "err", err)
	}
}

// close waits for the session's events (the session is closed by then)
// and finishes the recording.
func (rc *recording) close(ctx context.Context) error {
	rc.wg.Wait()
	return rc.rec.Close(ctx)
}
