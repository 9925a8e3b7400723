// Package smoke is `codrive smoke`: the CI check of a neko + Chromium pair.
// It runs every piece codrive depends on once, in order, times each, and
// leaves the room as it found it: no host, the original settings, and the
// page people watch untouched (it navigates a background tab of its own and
// closes it).
package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/sanitize"
	"github.com/codrive/codrive/neko"
)

// Result of one check.
const (
	Pass = "pass"
	Fail = "fail"
	Skip = "skip"
)

// Options configures Run.
type Options struct {
	NekoURL string
	// User and Password log codrive in; the password should be an admin's
	// (settings and cleanup checks need it).
	User, Password string
	// UserPassword, if set, is the non-admin password, for the user login
	// check; without it that check is skipped.
	UserPassword string
	Cookies      bool
	CDPURL       string
	Target       string
	// URL is the page to navigate to; default a built-in data: page.
	URL string
	// CheckTimeout bounds each check; default 30s.
	CheckTimeout time.Duration
	Logger       *slog.Logger
	// Viewer adds CheckViewer: a person's WebRTC viewer (neko/viewer)
	// joins and receives video, which catches WebRTC and NAT
	// misconfiguration (NEKO_WEBRTC_NAT1TO1, EPR/UDPMUX ports), the most
	// common neko deployment failure and invisible to every other check.
	Viewer bool
	// Record, when set, records the run's timeline into this new (or
	// empty) directory (package timeline): an event per check, codrive's
	// own events, and a screenshot after each check that touched a page.
	Record string
}

// Check is the outcome of one check. Its JSON gives the duration in
// seconds (report.go).
type Check struct {
	Name     string
	Result   string
	Duration time.Duration
	Detail   string
	// Code is the exit code its failure maps to (exitcode.For), 0 unless
	// it failed.
	Code int
	// Error: it failed because it could not finish (its time ran out), not
	// because what it checked was wrong; JUnit reports it as an error.
	Error bool
}

// Report is the outcome of a smoke run.
type Report struct {
	Checks   []Check
	Passed   bool
	Started  time.Time
	Duration time.Duration
	// RecordErr says why the recording (Options.Record) is missing or
	// incomplete; the checks do not depend on it.
	RecordErr error
}

// ExitCode is the process status of the run: 0 when it passed; 4 when neko
// or Chromium did not answer, 3 when neko refused the login or it was not
// an admin's, 1 for any other failed check.
func (r Report) ExitCode() int {
	if r.Passed {
		return exitcode.OK
	}
	code := exitcode.Failure
	for _, c := range r.Checks {
		switch {
		case c.Code == exitcode.Unreachable:
			return exitcode.Unreachable
		case c.Code == exitcode.Auth:
			code = exitcode.Auth
		}
	}
	return code
}

// builtinPage is navigated to when no URL is given: it needs no network.
const builtinTitle = "codrive smoke"

var builtinPage = "data:text/html," + url.PathEscape(`<!doctype html><title>`+builtinTitle+`</title><h1>codrive smoke</h1>`)

type skipError struct{ reason string }

func (s skipError) Error() string { return s.reason }

func skip(format string, a ...any) error { return skipError{fmt.Sprintf(format, a...)} }

// run is the state shared by the checks of one run.
type run struct {
	o        Options
	client   *neko.Client
	admin    bool
	settings *neko.Settings
	arb      *codrive.Session // neko side only: the checks attach to the page themselves
	page     *cdp.Page        // the page people watch: read, never changed
	pageURL  string           // its URL when smoke attached
	tab      *ownTab          // smoke's own background tab, for navigating
	failed   map[string]bool
	rec      *recording // Options.Record

	mu sync.Mutex // page and tab, read by the recording's screenshots
}

// Check names, in the order they run.
const (
	CheckHealth    = "neko health"
	CheckLogin     = "admin login"
	CheckUserLogin = "user login"
	CheckInit      = "websocket init"
	CheckSettings  = "settings readable"
	CheckControl   = "control round trip"
	CheckCDP       = "cdp version"
	CheckAttach    = "attach to page"
	CheckNavigate  = "navigate and read title" // in smoke's own tab
	CheckShot      = "cdp screenshot"
	CheckCast      = "neko screencast"
	CheckHandoff   = "handoff to a person"
	CheckViewer    = "webrtc viewer" // only with Options.Viewer
	CheckCleanup   = "cleanup"
)

// Run performs every check and returns the report. It never panics and
// never stops early: a check whose prerequisite failed is skipped, saying
// which.
func Run(ctx context.Context, o Options) Report {
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 30 * time.Second
	}
	if o.URL == "" {
		o.URL = builtinPage
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &run{o: o, failed: map[string]bool{}}
	start := time.Now()
	rep := Report{Started: start}
	checks := []struct {
		name  string
		needs []string
		f     func(context.Context) (string, error)
	}{
		{CheckHealth, nil, r.health},
		{CheckLogin, []string{CheckHealth}, r.login},
		{CheckUserLogin, []string{CheckHealth}, r.userLogin},
		{CheckInit, []string{CheckLogin}, r.init},
		{CheckSettings, []string{CheckLogin}, r.readSettings},
		{CheckControl, []string{CheckInit}, r.control},
		{CheckCDP, nil, r.cdpVersion},
		{CheckAttach, []string{CheckCDP}, r.attach},
		{CheckNavigate, []string{CheckAttach, CheckControl}, r.navigate},
		{CheckShot, []string{CheckAttach}, r.screenshot},
		{CheckCast, []string{CheckLogin}, r.cast},
		{CheckHandoff, []string{CheckControl}, r.handoff},
		{CheckCleanup, nil, r.cleanup},
	}
	if o.Viewer {
		// Before the cleanup, which stays last.
		v := checks[len(checks)-1]
		v.name, v.needs, v.f = CheckViewer, []string{CheckLogin}, r.viewer
		checks = slices.Insert(checks, len(checks)-1, v)
	}
	if o.Record != "" {
		if r.rec, rep.RecordErr = startRecording(r); rep.RecordErr != nil {
			rep.RecordErr = fmt.Errorf("smoke: record: %w", rep.RecordErr)
		}
	}
	for _, c := range checks {
		ch := r.one(ctx, c.name, c.needs, c.f)
		rep.Checks = append(rep.Checks, ch)
		if r.rec != nil {
			r.rec.checked(ctx, ch)
		}
	}
	if r.rec != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.CheckTimeout)
		rep.RecordErr = r.rec.close(cctx)
		cancel()
	}
	rep.Duration = time.Since(start)
	rep.Passed = true
	for _, c := range rep.Checks {
		if c.Result == Fail {
			rep.Passed = false
		}
	}
	return rep
}

func (r *run) one(ctx context.Context, name string, needs []string, f func(context.Context) (string, error)) Check {
	for _, n := range needs {
		if r.failed[n] {
			r.failed[name] = true
			return Check{Name: name, Result: Skip, Detail: "skipped: " + n + " did not pass"}
		}
	}
	cctx, cancel := context.WithTimeout(ctx, r.o.CheckTimeout)
	defer cancel()
	start := time.Now()
	detail, err := f(cctx)
	c := Check{Name: name, Duration: time.Since(start), Detail: detail}
	var s skipError
	switch {
	case errors.As(err, &s):
		c.Result, c.Detail = Skip, s.reason
	case err != nil:
		c.Result, c.Detail = Fail, sanitize.Line(err.Error())
		c.Code = exitcode.For(err)
		c.Error = cctx.Err() != nil && ctx.Err() == nil
		r.failed[name] = true
	default:
		c.Result = Pass
	}
	return c
}

func (r *run) health(ctx context.Context) (string, error) {
	c, err := neko.NewClient(r.o.NekoURL, neko.Options{Cookies: r.o.Cookies})
	if err != nil {
		return "", err
	}
	r.client = c
	if err := c.Health(ctx); err != nil {
		return "", err
	}
	return "GET /health answered", nil
}

func (r *run) login(ctx context.Context) (string, error) {
	login, err := r.client.Login(ctx, r.o.User, r.o.Password)
	if err != nil {
		return "", err
	}
	r.admin = login.Profile.IsAdmin
	if !r.admin {
		return "", fmt.Errorf("logged in as %s, but not as an admin: settings and cleanup checks need the admin password (--password-file or $CODRIVE_NEKO_PASSWORD): %w", login.ID, neko.ErrNotAdmin)
	}
	return "session " + login.ID, nil
}

func (r *run) userLogin(ctx context.Context) (string, error) {
	if r.o.UserPassword == "" {
		return "", skip("no user password given (--user-password)")
	}
	c, err := neko.NewClient(r.o.NekoURL, neko.Options{Cookies: r.o.Cookies})
	if err != nil {
		return "", err
	}
	login, err := c.Login(ctx, r.o.User+"-smoke-user", r.o.UserPassword)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	if login.Profile.IsAdmin {
		return "", fmt.Errorf("the user password gave an admin profile")
	}
	return "session " + login.ID + " (not admin)", nil
}

func (r *run) init(ctx context.Context) (string, error) {
	conn, err := r.client.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		return "", err
	}
	room := conn.Room()
	if err := conn.Close(); err != nil {
		return "", err
	}
	return fmt.Sprintf("system/init: %d session(s), screen %dx%d", len(room.Sessions), room.ScreenSize.Width, room.ScreenSize.Height), nil
}

func (r *run) readSettings(ctx context.Context) (string, error) {
	s, err := r.client.Settings(ctx)
	if err != nil {
		return "", err
	}
	r.settings = &s
	return fmt.Sprintf("locked_controls=%v implicit_hosting=%v locked_logins=%v", s.LockedControls, s.ImplicitHosting, s.LockedLogins), nil
}

func (r *run) control(ctx context.Context) (string, error) {
	// No CDP URL: this check is about neko alone, and the page checks
	// after it pass the session's gate themselves (Do).
	arb, err := codrive.Attach(ctx, codrive.Options{
		NekoURL: r.o.NekoURL, User: r.o.User, Password: r.o.Password, Cookies: r.o.Cookies,
		Policy: codrive.PolicyYield, ReclaimAfter: 100 * time.Millisecond, Logger: r.o.Logger,
	})
	if err != nil {
		return "", err
	}
	r.arb = arb
	if r.rec != nil {
		r.rec.follow(arb)
	}
	start := time.Now()
	if err := arb.Acquire(ctx); err != nil {
		return "", err
	}
	got := time.Since(start)
	if err := arb.Release(ctx); err != nil {
		return "", err
	}
	if _, err := arb.WaitState(ctx, func(s codrive.Status) bool { return s.State == codrive.StateFree }); err != nil {
		return "", fmt.Errorf("control did not come free after release: %w", err)
	}
	return fmt.Sprintf("request → host in %s, release → free", got.Round(time.Millisecond)), nil
}

func (r *run) cdpVersion(ctx context.Context) (string, error) {
	v, err := cdp.GetVersion(ctx, r.o.CDPURL)
	if err != nil {
		return "", err
	}
	return v.Browser + ", protocol " + v.ProtocolVersion, nil
}

func (r *run) attach(ctx context.Context) (string, error) {
	p, err := cdp.Attach(ctx, r.o.CDPURL, cdp.AttachOptions{Target: r.o.Target, Logger: r.o.Logger})
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.page = p
	r.mu.Unlock()
	r.pageURL = p.Info().URL
	return p.String() + " (" + orBlank(sanitize.URL(r.pageURL)) + ")", nil
}

// navigate drives a page the way automation should: only through the
// arbiter's gate, i.e. while codrive hosts. The page is smoke's own
// background tab: the one people watch is left alone.
func (r *run) navigate(ctx context.Context) (string, error) {
	tab, err := openTab(ctx, r.page)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.tab = tab
	r.mu.Unlock()
	var title string
	err = r.arb.Do(ctx, func(context.Context) error {
		actx, cancel := context.WithTimeout(tab.ctx, r.o.CheckTimeout)
		defer cancel()
		if err := chromedp.Do(actx, chromedp.Navigate(r.o.URL)); err != nil {
			return err
		}
		var err error
		title, err = chromedp.Run(actx, chromedp.Title())
		return err
	})
	if err != nil {
		return "", err
	}
	if r.o.URL == builtinPage && title != builtinTitle {
		return "", fmt.Errorf("title %q, want %q", title, builtinTitle)
	}
	return fmt.Sprintf("title %q, in its own tab", title), nil
}

func (r *run) screenshot(ctx context.Context) (string, error) {
	actx, cancel := context.WithTimeout(r.page.Context(), r.o.CheckTimeout)
	defer cancel()
	buf, err := chromedp.Run(actx, chromedp.CaptureScreenshot())
	if err != nil {
		return "", err
	}
	if !bytes.HasPrefix(buf, []byte("\x89PNG")) {
		return "", fmt.Errorf("screenshot is not a PNG (%d bytes)", len(buf))
	}
	return fmt.Sprintf("PNG, %d bytes", len(buf)), nil
}

func (r *run) cast(ctx context.Context) (string, error) {
	b, err := r.client.ScreenCast(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "not enabled") {
			return "", skip("screencast is not enabled in neko (NEKO_CAPTURE_SCREENCAST_ENABLED)")
		}
		return "", err
	}
	if !bytes.HasPrefix(b, []byte{0xff, 0xd8}) {
		return "", fmt.Errorf("cast.jpg is not a JPEG (%d bytes)", len(b))
	}
	return fmt.Sprintf("JPEG, %d bytes", len(b)), nil
}

// handoff emulates a person: automation hands off, the person takes
// control, releases, and automation takes it back.
func (r *run) handoff(ctx context.Context) (string, error) {
	if err := r.arb.Acquire(ctx); err != nil {
		return "", err
	}
	pw, name := r.o.UserPassword, r.o.User+"-smoke-person"
	if pw == "" {
		pw = r.o.Password
	}
	pc, err := neko.NewClient(r.o.NekoURL, neko.Options{Cookies: r.o.Cookies})
	if err != nil {
		return "", err
	}
	if _, err := pc.Login(ctx, name, pw); err != nil {
		return "", fmt.Errorf("emulated person: %w", err)
	}
	defer func() { _ = pc.Logout(context.WithoutCancel(ctx)) }()
	pconn, err := pc.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		return "", fmt.Errorf("emulated person: %w", err)
	}
	defer pconn.Close()
	events, cancel := pconn.Subscribe()
	defer cancel()

	done := make(chan error, 1)
	go func() { done <- r.arb.Handoff(ctx, "smoke test: a person takes over") }()
	// The broadcast and the release reach neko on different connections, so
	// the person may see them in either order.
	var told, free bool
	if _, err := neko.Await(ctx, events, func(ev neko.Event) bool {
		if b, ok := ev.Payload.(*neko.SendBroadcast); ok && b.Subject == "codrive" {
			told = true
		}
		free = free || neko.HostIs("")(ev)
		return told && free
	}); err != nil {
		return "", fmt.Errorf("handoff: told the person %v, released control %v: %w", told, free, err)
	}
	if res, err := pc.RequestControl(ctx); err != nil || res != neko.ControlGranted {
		return "", fmt.Errorf("the person could not take control: %v %v", res, err)
	}
	if err := pc.ReleaseControl(ctx); err != nil {
		return "", err
	}
	select {
	case err := <-done:
		if err != nil {
			return "", err
		}
	case <-ctx.Done():
		return "", fmt.Errorf("handoff did not end after the person released: %w", ctx.Err())
	}
	if err := r.arb.Wait(ctx); err != nil {
		return "", fmt.Errorf("automation did not take control back: %w", err)
	}
	return "automation yielded, the person hosted and released, automation reclaimed", nil
}

// cleanup lets go of everything and checks the room and the watched page
// are as they were found.
func (r *run) cleanup(ctx context.Context) (string, error) {
	var errs []error
	if r.arb != nil {
		if err := r.arb.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	r.mu.Lock()
	tab, page := r.tab, r.page
	r.tab, r.page = nil, nil // no screenshot of what cleanup lets go
	r.mu.Unlock()
	if tab != nil {
		if err := tab.close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if page != nil {
		if err := r.checkPageOf(ctx, tab, page); err != nil {
			errs = append(errs, err)
		}
		if err := page.Detach(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	if r.client == nil || !r.admin {
		return "", skip("released what it held; nothing to verify without an admin login")
	}
	defer func() { _ = r.client.Logout(context.WithoutCancel(ctx)) }()
	st, err := r.client.ControlStatus(ctx)
	if err != nil {
		return "", errors.Join(append(errs, err)...)
	}
	if st.HasHost && strings.HasPrefix(st.HostID, r.o.User+"-") {
		errs = append(errs, fmt.Errorf("codrive's session %s still hosts", st.HostID))
	}
	if r.settings != nil {
		now, err := r.client.Settings(ctx)
		if err != nil {
			errs = append(errs, err)
		} else if !sameSettings(now, *r.settings) {
			errs = append(errs, fmt.Errorf("settings changed: before %+v, after %+v", *r.settings, now))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return "no codrive host left, settings as found, the watched page untouched", nil
}

// sameSettings compares what codrive may change or a person would notice;
// plugin settings are opaque to codrive.
func sameSettings(a, b neko.Settings) bool {
	return a.PrivateMode == b.PrivateMode && a.LockedLogins == b.LockedLogins &&
		a.LockedControls == b.LockedControls && a.ControlProtection == b.ControlProtection &&
		a.ImplicitHosting == b.ImplicitHosting && a.InactiveCursors == b.InactiveCursors &&
		a.MercifulReconnect == b.MercifulReconnect && a.HeartbeatInterval == b.HeartbeatInterval
}

func orBlank(s string) string {
	if s == "" {
		return "blank"
	}
	return s
}
