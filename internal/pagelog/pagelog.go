// Package pagelog is test support: it watches what a test page logs about
// itself, straight from Chromium (a direct CDP connection, beside anything
// codrive proxies), so that tests assert on what the page saw, not on what
// was sent to it.
//
// A page logs an entry with console.log(Prefix + JSON.stringify(entry));
// Wait returns once the entries so far satisfy a condition, driven by the
// console events themselves (no polling). The page's own record (read with
// Eval) stays the evidence for final assertions.
package pagelog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
)

// Prefix starts every console message that carries an entry.
const Prefix = "pagelog "

// Log collects the entries of the first page of a Chromium.
type Log[T any] struct {
	page    *cdp.Page
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	seen    map[string]bool // console replays on attach: keep each entry once
	entries []T
	bad     []string
	changed chan struct{}
}

// Attach connects to the first tab of the Chromium at endpoint (its
// /json/version URL base) and starts collecting.
func Attach[T any](ctx context.Context, endpoint string) (*Log[T], error) {
	page, err := cdp.Attach(ctx, endpoint, cdp.AttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("pagelog: %w", err)
	}
	lctx, cancel := context.WithCancel(page.Context())
	l := &Log[T]{page: page, cancel: cancel, done: make(chan struct{}), seen: map[string]bool{}, changed: make(chan struct{})}
	// Console subscribes when called, so nothing logged from here on is
	// missed; the goroutine only ranges over it.
	messages := chromedp.Console(lctx)
	go func() {
		defer close(l.done)
		for m, err := range messages {
			if err != nil {
				return
			}
			l.add(m.Text)
		}
	}()
	return l, nil
}

func (l *Log[T]) add(text string) {
	raw, ok := strings.CutPrefix(text, Prefix)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[raw] {
		return
	}
	l.seen[raw] = true
	var e T
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		l.bad = append(l.bad, raw)
		return
	}
	l.entries = append(l.entries, e)
	close(l.changed)
	l.changed = make(chan struct{})
}

// Entries returns a copy of what was logged so far, in order.
func (l *Log[T]) Entries() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.entries...)
}

// Wait returns the entries once ok accepts them, or fails when ctx ends.
func (l *Log[T]) Wait(ctx context.Context, what string, ok func([]T) bool) ([]T, error) {
	for {
		l.mu.Lock()
		es, changed, bad := append([]T(nil), l.entries...), l.changed, len(l.bad)
		l.mu.Unlock()
		if ok(es) {
			return es, nil
		}
		select {
		case <-changed:
		case <-l.done:
			return es, fmt.Errorf("pagelog: waiting for %s: the tab is gone (%d entries)", what, len(es))
		case <-ctx.Done():
			return es, fmt.Errorf("pagelog: waiting for %s (%d entries, %d undecodable): %w", what, len(es), bad, ctx.Err())
		}
	}
}

// Eval evaluates a side-effect-free expression in the page and decodes its
// value into out.
func (l *Log[T]) Eval(ctx context.Context, expr string, out any) error {
	rctx, cancel := context.WithCancel(l.page.Context())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	raw, err := chromedp.Run(rctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		return fmt.Errorf("pagelog: evaluate %q: %w", expr, err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("pagelog: evaluate %q: decode %s: %w", expr, raw, err)
	}
	return nil
}

// Close stops collecting and detaches from the tab, which stays open.
func (l *Log[T]) Close() {
	l.cancel()
	<-l.done
	_ = l.page.Detach()
}
