// Package cdp finds Chromium's remote debugging endpoint and attaches codrive
// to a tab that is already open there (the one a person sees in neko). It
// never opens a tab and never closes one: Detach, a lost connection and
// every error path leave the user's tab as it was.
package cdp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// DefaultRequestTimeout bounds a discovery request whose context has no
// deadline, so a port that accepts but never answers cannot hang a caller.
const DefaultRequestTimeout = 10 * time.Second

// maxBody caps what is read from the debugging port; /json/list of a browser
// with many tabs is a few KiB, a wrong server could stream forever.
const maxBody = 4 << 20

// Errors that discovery and Attach wrap, for callers that branch on the
// cause (errors.Is) rather than print it.
var (
	// ErrNoEndpoint: nothing (or nothing reachable) listens at the endpoint.
	ErrNoEndpoint = errors.New("no Chrome DevTools endpoint")
	// ErrNotDevTools: something answered, but not Chromium's debugging port.
	ErrNotDevTools = errors.New("not a Chrome DevTools endpoint")
	// ErrNoPage: the browser has no page target to attach to.
	ErrNoPage = errors.New("no page")
	// ErrNoMatch: no page matches the selector.
	ErrNoMatch = errors.New("no matching page")
	// ErrAmbiguous: several pages match the selector.
	ErrAmbiguous = errors.New("ambiguous page selector")
)

// Version is Chromium's answer to GET /json/version.
type Version struct {
	Browser              string `json:"Browser"`
	ProtocolVersion      string `json:"Protocol-Version"`
	UserAgent            string `json:"User-Agent"`
	V8Version            string `json:"V8-Version"`
	WebKitVersion        string `json:"WebKit-Version"`
	WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
}

// Target is one entry of GET /json/list: a tab, an iframe, a worker, ...
type Target struct {
	ID                   string `json:"id"`
	Type                 string `json:"type"`
	Title                string `json:"title"`
	URL                  string `json:"url"`
	WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	DevtoolsFrontendURL  string `json:"devtoolsFrontendUrl"`
}

// discoveryError prints a sentence meant for a person, while errors.Is still
// finds both the kind (ErrNoEndpoint, ...) and the underlying cause.
type discoveryError struct {
	msg   string
	kind  error
	cause error
}

func (e *discoveryError) Error() string   { return e.msg }
func (e *discoveryError) Unwrap() []error { return []error{e.kind, e.cause} }

// GetVersion asks the debugging port at endpoint (any form ParseEndpoint
// accepts) who it is. It fails with a hint on how to start Chromium when
// nothing listens there, and says so when something else answers.
func GetVersion(ctx context.Context, endpoint string) (*Version, error) {
	ep, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	return getVersion(ctx, ep)
}

func getVersion(ctx context.Context, ep Endpoint) (*Version, error) {
	var v Version
	if err := getJSON(ctx, ep, "/json/version", &v); err != nil {
		return nil, err
	}
	if v.WebSocketDebuggerURL == "" {
		return nil, &discoveryError{
			msg:  fmt.Sprintf("%s: %v: /json/version has no webSocketDebuggerUrl", ep.HTTP, ErrNotDevTools),
			kind: ErrNotDevTools,
		}
	}
	return &v, nil
}

// ListTargets returns every target of the browser at endpoint, in Chromium's
// order (most recently focused tab first).
func ListTargets(ctx context.Context, endpoint string) ([]Target, error) {
	ep, err := ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	return listTargets(ctx, ep)
}

func listTargets(ctx context.Context, ep Endpoint) ([]Target, error) {
	var ts []Target
	if err := getJSON(ctx, ep, "/json/list", &ts); err != nil {
		return nil, err
	}
	return ts, nil
}

// Pages keeps the tabs: targets of type "page". Iframes, workers, the
// browser's own UI and extensions' background pages are not something a
// person drives.
func Pages(targets []Target) []Target {
	var out []Target
	for _, t := range targets {
		if t.Type == "page" {
			out = append(out, t)
		}
	}
	return out
}

// SelectPage picks the tab to attach to. selector "" takes the first page;
// otherwise an exact target id wins, and failing that the selector must be a
// substring of exactly one page's URL. No page, no match and several matches
// are errors that list what is open, so the user can pick.
func SelectPage(targets []Target, selector string) (Target, error) {
	pages := Pages(targets)
	if len(pages) == 0 {
		return Target{}, fmt.Errorf("%w: the browser has no open tab (targets: %s)", ErrNoPage, describe(targets))
	}
	if selector == "" {
		return pages[0], nil
	}
	for _, t := range targets {
		if t.ID != selector {
			continue
		}
		if t.Type != "page" {
			return Target{}, fmt.Errorf("target %s is a %s, not a page (open pages: %s)", t.ID, t.Type, describe(pages))
		}
		return t, nil
	}
	var matches []Target
	for _, t := range pages {
		if strings.Contains(t.URL, selector) {
			matches = append(matches, t)
		}
	}
	switch len(matches) {
	case 0:
		return Target{}, fmt.Errorf("%w: no page has id %q or a URL containing it (open pages: %s)", ErrNoMatch, selector, describe(pages))
	case 1:
		return matches[0], nil
	default:
		return Target{}, fmt.Errorf("%w: %q matches %d pages, give a target id or a longer URL part: %s", ErrAmbiguous, selector, len(matches), describe(matches))
	}
}

func describe(ts []Target) string {
	if len(ts) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s %s %q", t.ID, t.Type, t.URL))
	}
	return strings.Join(parts, "; ")
}

// getJSON fetches path below the endpoint and decodes it into out, turning
// transport failures and foreign servers into errors a person can act on.
func getJSON(ctx context.Context, ep Endpoint, path string, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRequestTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.HTTP+path, nil)
	if err != nil {
		return fmt.Errorf("request %s%s: %w", ep.HTTP, path, err)
	}
	// A fresh transport without keep-alive: discovery is rare, and pooled
	// idle connections would outlive the call (and trip leak checks).
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return unreachable(ctx, ep, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("read %s%s: %w", ep.HTTP, path, err)
	}
	notDevTools := func(format string, args ...any) error {
		return &discoveryError{
			msg:  fmt.Sprintf("%s: %v: GET %s %s", ep.HTTP, ErrNotDevTools, path, fmt.Sprintf(format, args...)),
			kind: ErrNotDevTools,
		}
	}
	if resp.StatusCode != http.StatusOK {
		if strings.Contains(string(body), "Host header is specified and is not an IP address or localhost") {
			// Chromium's DevTools server guards against DNS rebinding by
			// answering only Host headers that are IPs or localhost, so
			// http://neko:9222 fails although Chromium is right there.
			return &discoveryError{
				msg:  fmt.Sprintf("%s: Chromium refuses the host name %q (it only answers IP addresses and localhost): use the IP address, e.g. http://<container-ip>:%s", ep.HTTP, req.URL.Hostname(), ep.port()),
				kind: ErrNotDevTools,
			}
		}
		return notDevTools("answered %s: %s", resp.Status, snippet(body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return notDevTools("answered %s, not JSON: %s", mt, snippet(body))
		}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &discoveryError{
			msg:   fmt.Sprintf("%s: %v: GET %s: %v: %s", ep.HTTP, ErrNotDevTools, path, err, snippet(body)),
			kind:  ErrNotDevTools,
			cause: err,
		}
	}
	return nil
}

// unreachable explains a failed request. A refused connection is by far the
// common case (Chromium started without --remote-debugging-port), so it gets
// the fix spelled out.
func unreachable(ctx context.Context, ep Endpoint, err error) error {
	var msg string
	switch {
	case ctx.Err() != nil:
		msg = fmt.Sprintf("%v at %s: no answer (%v): is Chromium (with --remote-debugging-port=%s) running and responsive?", ErrNoEndpoint, ep.HTTP, context.Cause(ctx), ep.port())
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("%v at %s (connection refused): start Chromium with --remote-debugging-port=%s (in the neko chromium image see compose/)", ErrNoEndpoint, ep.HTTP, ep.port())
	default:
		msg = fmt.Sprintf("%v at %s (%v): is Chromium running with --remote-debugging-port=%s?", ErrNoEndpoint, ep.HTTP, err, ep.port())
	}
	return &discoveryError{msg: msg, kind: ErrNoEndpoint, cause: err}
}

// snippet quotes the start of a foreign server's answer for error messages.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	const limit = 200
	if len(s) > limit {
		s = s[:limit] + "..."
	}
	return fmt.Sprintf("%q", s)
}
