// Package demo is `codrive demo`: codrive end to end on one machine, with no
// neko container and no Docker. It starts the neko-compatible server in
// process, a local headless Chromium, codrive (arbiter and CDP proxy), a
// short automation script driving a small local site through the proxy, and
// an emulated person who asks for control midway, drives for a moment and
// releases. It ends by itself with a summary.
package demo

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/timeline"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// Options tune the demo. The zero value is the demo `make demo` runs.
type Options struct {
	// Pace is the pause between automation steps, so that a person can
	// follow along; default 400ms.
	Pace time.Duration
	// PersonDrives is how long the emulated person drives; default 2s.
	PersonDrives time.Duration
	// ReclaimAfter is codrive's reclaim delay after the person releases;
	// default 1s.
	ReclaimAfter time.Duration
	// Chromium is the browser binary; default Debian's.
	Chromium string
	// Record, when set, records the demo's timeline into this directory
	// (codrive.Options.Record); Report renders it.
	Record string
	Logger *slog.Logger
}

// Summary is what the demo did.
type Summary struct {
	Steps    int           `json:"steps"`
	Handoffs int           `json:"handoffs"`
	Paused   time.Duration `json:"paused"`
	Held     int64         `json:"actionsHeld"`
	Result   string        `json:"result"`
	Duration time.Duration `json:"duration"`
}

// Demo is a running demo: its Session is what the TUI or the plain printer
// watch.
type Demo struct {
	Session *codrive.Session
	opts    Options
	neko    *nekotest.Server
	browser *cdp.Browser
	site    *http.Server
	siteURL string
	userPW  string

	mu          sync.Mutex
	steps       int
	handoffs    int
	paused      time.Duration
	humanSince  time.Time
	watchCancel func()
	watchDone   chan struct{}
}

// Start brings every piece up. Close it when done, also after an error
// from Run.
func Start(ctx context.Context, o Options) (_ *Demo, err error) {
	if o.Pace <= 0 {
		o.Pace = 400 * time.Millisecond
	}
	if o.PersonDrives <= 0 {
		o.PersonDrives = 2 * time.Second
	}
	if o.ReclaimAfter <= 0 {
		o.ReclaimAfter = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Demo{opts: o}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	// Fresh random passwords: even a demo's server listens on a port.
	adminPW, userPW := secret(), secret()
	d.userPW = userPW
	if d.neko, err = nekotest.Start(nekotest.Options{AdminPassword: adminPW, UserPassword: userPW, ScreencastEnabled: true}); err != nil {
		return nil, fmt.Errorf("demo: neko-compatible server: %w", err)
	}
	if err := d.startSite(); err != nil {
		return nil, err
	}
	if d.browser, err = cdp.Launch(ctx, cdp.LaunchOptions{Binary: o.Chromium, URL: d.siteURL + "/"}); err != nil {
		return nil, fmt.Errorf("demo: start chromium (make setup installs Debian's): %w", err)
	}
	d.Session, err = codrive.Attach(ctx, codrive.Options{
		NekoURL: d.neko.URL, User: "codrive", Password: adminPW,
		Policy: codrive.PolicyYield, ReclaimAfter: o.ReclaimAfter, Logger: o.Logger,
		CDPURL: d.browser.URL,
		Listen: "127.0.0.1:0",
		Record: o.Record, RecordTitle: "codrive demo: a script fills an order, alice takes a turn",
	})
	if err != nil {
		return nil, fmt.Errorf("demo: codrive: %w", err)
	}
	d.watch()
	return d, nil
}

func secret() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NekoURL is where the in-process neko listens.
func (d *Demo) NekoURL() string { return d.neko.URL }

// watch counts handoffs and the time automation waited on a person.
func (d *Demo) watch() {
	evs, cancel := d.Session.Subscribe()
	d.watchCancel = cancel
	d.watchDone = make(chan struct{})
	go func() {
		defer close(d.watchDone)
		prev := codrive.StateFree
		for ev := range evs {
			if ev.Kind != "state" {
				continue
			}
			st := ev.Status.State
			d.mu.Lock()
			if st == codrive.StateHuman && prev != codrive.StateHuman {
				d.humanSince = ev.Time
				if prev == codrive.StateAutomation {
					d.handoffs++
				}
			}
			if st != codrive.StateHuman && prev == codrive.StateHuman && !d.humanSince.IsZero() {
				d.paused += ev.Time.Sub(d.humanSince)
				d.humanSince = time.Time{}
			}
			d.mu.Unlock()
			prev = st
		}
	}()
}

// Run plays the scene: automation fills an order on the local site through
// the CDP proxy while a person takes over once, midway. It returns when the
// automation is done.
func (d *Demo) Run(ctx context.Context) (Summary, error) {
	start := time.Now()
	page, err := d.Session.Chromedp(ctx)
	if err != nil {
		return Summary{}, err
	}
	defer page.Detach()

	midway := make(chan struct{})
	personDone := make(chan error, 1)
	go func() { personDone <- d.person(ctx, midway) }()

	result, err := d.automation(ctx, page, midway)
	if err != nil {
		return Summary{}, err
	}
	if err := <-personDone; err != nil {
		return Summary{}, fmt.Errorf("demo: the person: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return Summary{
		Steps: d.steps, Handoffs: d.handoffs, Paused: d.paused,
		Held: d.Session.ProxyStats().HeldTotal, Result: result,
		Duration: time.Since(start),
	}, nil
}

// step is one automation action, announced to the room first.
type step struct {
	say string
	do  chromedp.Action[chromedp.Void]
}

func (d *Demo) automation(ctx context.Context, page *cdp.Page, midway chan<- struct{}) (string, error) {
	steps := []step{
		{"open the shop", chromedp.Navigate(d.siteURL + "/")},
		{"start an order", chromedp.Click(chromedp.CSS("#start"))},
		{"type the customer's name", chromedp.SendKeys(chromedp.CSS("#name"), "Ada Lovelace")},
		// The person asks for control here; the next click waits for them.
		{"add a second item", chromedp.Click(chromedp.CSS("#plus"))},
		{"add a third item", chromedp.Click(chromedp.CSS("#plus"))},
		{"review the order", chromedp.Click(chromedp.CSS("#review"))},
		{"confirm it", chromedp.Click(chromedp.CSS("#confirm"))},
	}
	for i, s := range steps {
		d.opts.Logger.Info("demo: automation step", "step", i+1, "action", s.say)
		actx, cancel := context.WithTimeout(page.Context(), time.Minute)
		err := chromedp.Do(actx, s.do)
		cancel()
		if err != nil {
			return "", fmt.Errorf("demo: step %d (%s): %w", i+1, s.say, err)
		}
		d.mu.Lock()
		d.steps++
		d.mu.Unlock()
		if i == 2 {
			close(midway)
		}
		if err := pause(ctx, d.opts.Pace); err != nil {
			return "", err
		}
	}
	rctx, cancel := context.WithTimeout(page.Context(), 30*time.Second)
	defer cancel()
	return chromedp.Run(rctx, chromedp.Text(chromedp.CSS("#result")))
}

// person is a viewer who asks for control midway, moves the mouse around
// for a moment and releases.
func (d *Demo) person(ctx context.Context, midway <-chan struct{}) error {
	select {
	case <-midway:
	case <-ctx.Done():
		return ctx.Err()
	}
	c, err := neko.NewClient(d.neko.URL, neko.Options{})
	if err != nil {
		return err
	}
	if _, err := c.Login(ctx, "alice", d.userPW); err != nil {
		return err
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	conn, err := c.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		return err
	}
	defer conn.Close()
	evs, cancel := conn.Subscribe()
	defer cancel()
	if _, err := c.RequestControl(ctx); err != nil {
		return err
	}
	// codrive yields: wait until neko says alice hosts.
	if _, err := neko.Await(ctx, evs, neko.HostIs(c.SessionID())); err != nil {
		return fmt.Errorf("codrive never yielded: %w", err)
	}
	deadline := time.Now().Add(d.opts.PersonDrives)
	for x := 0; time.Now().Before(deadline); x += 40 {
		if err := conn.Send(neko.EventControlMove, neko.ControlPos{X: 100 + x%400, Y: 200}); err != nil {
			return err
		}
		if err := pause(ctx, 150*time.Millisecond); err != nil {
			return err
		}
	}
	return c.ReleaseControl(ctx)
}

// pause paces the scene for people watching; it is not synchronisation.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops everything, in reverse order. Safe after a failed Start.
// Report ends the session, which finishes its recording, and writes the
// recording's HTML report to file. It needs Options.Record.
func (d *Demo) Report(file string) error {
	if d.opts.Record == "" {
		return errors.New("demo: no recording (Options.Record)")
	}
	if err := d.endSession(); err != nil {
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("demo: report: %w", err)
	}
	w := bufio.NewWriter(f)
	err = timeline.Render(w, d.opts.Record)
	if err == nil {
		err = w.Flush()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("demo: report: %w", err)
	}
	return nil
}

// endSession closes the session, once: it leaves the room as it found it
// and finishes the recording.
func (d *Demo) endSession() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return d.Session.Close(ctx) // a second Close returns nil
}

// Close stops everything the demo started.
func (d *Demo) Close() {
	if d.Session != nil {
		_ = d.endSession()
		if d.watchDone != nil {
			<-d.watchDone
			d.watchCancel()
		}
	}
	if d.browser != nil {
		d.browser.Close()
	}
	if d.site != nil {
		_ = d.site.Close()
	}
	if d.neko != nil {
		d.neko.Close()
	}
}

func (d *Demo) startSite() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: site: %w", err)
	}
	d.siteURL = "http://" + l.Addr().String()
	d.site = &http.Server{Handler: siteHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.site.Serve(l) }()
	return nil
}
