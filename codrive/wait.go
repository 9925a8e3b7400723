package codrive

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/neko"
)

// What Attach waits for (WaitProgress.Peer).
const (
	PeerChromium = "chromium"
	PeerNeko     = "neko"
)

// WaitProgress is one failed try while Attach waits for a peer
// (Options.WaitTimeout): what does not answer yet, why, and when codrive
// tries again.
type WaitProgress struct {
	// Peer is what codrive waits for: PeerChromium, then PeerNeko.
	Peer string
	// URL is where codrive looks for it.
	URL string
	// Attempt counts the tries for Peer, from 1.
	Attempt int
	// Waited is how long Attach has waited so far, both peers together.
	Waited time.Duration
	// Next is the delay before the next try.
	Next time.Duration
	// Err is why the try failed. It never carries a password.
	Err error
	// Notable marks a try worth a progress line: the first, one that
	// failed differently from the last notable one, and one every 30s.
	Notable bool
}

// String reads as a progress line: what is awaited, why, and what next.
func (w WaitProgress) String() string {
	return fmt.Sprintf("waiting for %s at %s: %v (try %d, %s so far; next in %s)",
		w.Peer, w.URL, w.Err, w.Attempt, w.Waited.Round(time.Second), w.Next.Round(100*time.Millisecond))
}

// Backoff between tries while Attach waits: quick at first, for peers that
// start a moment later, then every few seconds.
const (
	waitMin = 250 * time.Millisecond
	waitMax = 5 * time.Second
)

// startWait runs Attach's tries: once without Options.WaitTimeout, else with
// backoff until a try succeeds, fails for good, or the wait ends.
type startWait struct {
	ctx     context.Context
	opts    Options
	start   time.Time
	waiting bool
}

func newStartWait(ctx context.Context, opts Options) (*startWait, context.CancelFunc) {
	w := &startWait{ctx: ctx, opts: opts, start: time.Now(), waiting: opts.WaitTimeout != 0}
	cancel := context.CancelFunc(func() {})
	if opts.WaitTimeout > 0 {
		w.ctx, cancel = context.WithTimeout(ctx, opts.WaitTimeout)
	}
	return w, cancel
}

// waitFor tries until try succeeds. A try that fails for a reason waiting
// cannot fix (a refused login, a bad URL) ends the wait at once.
func waitFor[T any](w *startWait, peer, url string, try func(context.Context) (T, error), transient func(error) bool) (T, error) {
	var zero T
	if !w.waiting {
		return try(w.ctx)
	}
	delay := waitMin
	var logged progressLog
	for attempt := 1; ; attempt++ {
		// One try never holds up the wait past opTimeout: a peer that
		// accepts connections and never answers is retried too.
		actx, cancel := context.WithTimeout(w.ctx, w.opts.opTimeout)
		v, err := try(actx)
		cancel()
		if err == nil {
			if attempt > 1 {
				w.opts.Logger.Info("codrive: "+peer+" answers", "url", url, "tries", attempt, "waited", time.Since(w.start).Round(time.Millisecond))
			}
			return v, nil
		}
		if w.ctx.Err() != nil {
			return zero, w.gaveUp(peer, url, err)
		}
		if !transient(err) && !errors.Is(err, context.DeadlineExceeded) {
			return zero, err
		}
		next := jitter(delay)
		p := WaitProgress{Peer: peer, URL: url, Attempt: attempt, Waited: time.Since(w.start), Next: next, Err: err}
		if p.Notable = logged.due(p); p.Notable {
			w.opts.Logger.Info("codrive: "+p.String(), "peer", peer, "attempt", attempt)
		}
		if w.opts.OnWait != nil {
			w.opts.OnWait(p)
		}
		t := time.NewTimer(next)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return zero, w.gaveUp(peer, url, err)
		case <-t.C:
		}
		delay = min(delay*2, waitMax)
	}
}

// progressLog decides which tries are worth a log line: the first, one
// that fails differently, and one every progressEvery, so that a long wait
// says it is alive without a line a second.
type progressLog struct {
	last string
	at   time.Time
}

const progressEvery = 30 * time.Second

func (l *progressLog) due(p WaitProgress) bool {
	now, why := time.Now(), p.Peer+": "+p.Err.Error()
	if why == l.last && now.Sub(l.at) < progressEvery {
		return false
	}
	l.last, l.at = why, now
	return true
}

// gaveUp is the error of a wait that ended: the deadline, or the caller's
// context. It wraps the last try's error, so that its kind (unreachable)
// still shows.
func (w *startWait) gaveUp(peer, url string, last error) error {
	if err := context.Cause(w.ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("codrive: stopped waiting for %s at %s (%w); last try: %w", peer, url, err, last)
	}
	return fmt.Errorf("codrive: %s at %s did not answer within %s: %w", peer, url, w.opts.WaitTimeout, last)
}

// chromiumTransient: nothing listens yet, or Chromium is up without the
// tab codrive attaches to yet.
func chromiumTransient(err error) bool {
	return errors.Is(err, cdp.ErrNoEndpoint) || errors.Is(err, cdp.ErrNoPage) || errors.Is(err, cdp.ErrNoMatch)
}

// nekoTransient: neko is not up, or a gateway in front of it says so.
func nekoTransient(err error) bool {
	if errors.Is(err, neko.ErrUnreachable) {
		return true
	}
	var ae *neko.APIError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
	}
	return false
}

// Ready says whether the session can serve automation now: nil while its
// neko socket is up and, with Options.CDPURL, it is attached to the tab;
// otherwise an error that says what is missing. It is a readiness probe's
// answer: codrive reconnects by itself, so not ready is usually a moment.
func (s *Session) Ready() error {
	c := s.Connection()
	switch {
	case c.Closed:
		if err := s.Err(); err != nil {
			return fmt.Errorf("codrive: neko connection ended: %w", err)
		}
		return ErrClosed
	case !c.Connected:
		return fmt.Errorf("codrive: not connected to neko (%s)", s.Status().Reason)
	}
	if s.opts.CDPURL != "" && !s.PageInfo().Attached {
		return fmt.Errorf("codrive: not attached to Chromium at %s (re-attaching)", s.opts.CDPURL)
	}
	return nil
}
