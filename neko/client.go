package neko

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Options configure a Client.
type Options struct {
	// HTTPClient is used for every REST call. Default: a client with a 10 s
	// timeout, so a neko that accepts connections but never answers cannot
	// hang a caller that passed context.Background().
	HTTPClient *http.Client
	// Cookies selects cookie mode: authenticate with the NEKO_SESSION cookie
	// neko sets at login (session.cookie.enabled=true) instead of the token.
	// Whichever credential the server actually returns is used if the
	// preferred one is missing, so a mismatch with the server's setting still
	// works; it is logged at Warn.
	Cookies bool
	// Logger receives debug logs of calls and warnings; default: discard.
	// Passwords and tokens are never logged.
	Logger *slog.Logger
}

// Client talks to one neko server over REST and opens WebSocket Conns. It is
// safe for concurrent use. It holds at most one login (session) at a time.
type Client struct {
	base    *url.URL
	baseStr string
	hc      *http.Client
	cookies bool
	log     *slog.Logger

	// loginMu serialises Login so that a reconnecting Conn and a caller do
	// not create two sessions at once.
	loginMu sync.Mutex

	mu        sync.Mutex
	cred      string // token or cookie value; empty when logged out
	useCookie bool
	sessionID string
	profile   MemberProfile
	username  string
	password  string // kept in memory only for re-login after a neko restart
	haveCreds bool
}

const (
	defaultHTTPTimeout = 10 * time.Second
	maxJSONBody        = 4 << 20
	maxImageBody       = 64 << 20
)

// NewClient validates baseURL (http or https, with a host, optionally a path
// prefix when neko is behind a reverse proxy) and returns a Client that is
// not yet logged in.
func NewClient(baseURL string, opts Options) (*Client, error) {
	if strings.TrimSpace(baseURL) == "" {
		return nil, errors.New("neko: base URL is empty; want e.g. http://127.0.0.1:8080")
	}
	if !strings.Contains(baseURL, "://") {
		return nil, fmt.Errorf("neko: invalid base URL %q: scheme must be http or https, e.g. http://%s", baseURL, strings.TrimLeft(baseURL, "/:"))
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("neko: invalid base URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("neko: invalid base URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("neko: invalid base URL %q: no host", baseURL)
	}
	if u.User != nil {
		// Credentials in a URL end up in logs and error messages.
		return nil, fmt.Errorf("neko: invalid base URL: user info is not supported, log in with Login instead")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("neko: invalid base URL %q: query and fragment are not supported", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		base:    u,
		baseStr: u.String(),
		hc:      hc,
		cookies: opts.Cookies,
		log:     log,
	}, nil
}

// BaseURL is the normalised base URL (no trailing slash).
func (c *Client) BaseURL() string { return c.baseStr }

// SessionID is the id of the current session ("" before Login). It changes
// when a Conn re-logs in after neko forgot the session.
func (c *Client) SessionID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// Profile is the current session's member profile.
func (c *Client) Profile() MemberProfile {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.profile
}

// Username is the username of the last Login.
func (c *Client) Username() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.username
}

func (c *Client) loggedIn() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cred != ""
}

// credentials returns the remembered username and password for re-login.
func (c *Client) credentials() (user, pass string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.username, c.password, c.haveCreds
}

// authHeader adds the session credential to h: the cookie in cookie mode,
// else the Bearer token (neko's order is cookie, header, query; the query
// form is never used because URLs end up in logs).
func (c *Client) authHeader(h http.Header) {
	c.mu.Lock()
	cred, cookie := c.cred, c.useCookie
	c.mu.Unlock()
	if cred == "" {
		return
	}
	if cookie {
		h.Set("Cookie", (&http.Cookie{Name: CookieName, Value: cred}).String())
	} else {
		h.Set("Authorization", "Bearer "+cred)
	}
}

func (c *Client) endpoint(path string) string {
	u := *c.base
	u.Path = c.base.Path + path
	return u.String()
}

// response is a completed HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do performs one REST call. Non-2xx statuses become *APIError; so does no
// answer at all (ErrUnreachable). ctx cancellation is returned as such, not
// as unreachable, because it is the caller's decision, not neko's state.
func (c *Client) do(ctx context.Context, op, method, path string, in any, limit int64) (*response, error) {
	target := c.endpoint(path)
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("neko: %s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("neko: %s: %w", op, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	c.authHeader(req.Header)

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("neko: %s %s: %w", method, req.URL.Path, ctxErr)
		}
		return nil, &APIError{Op: op, Method: method, URL: target, Err: unwrapURLError(err),
			sentinel: ErrUnreachable, base: c.baseStr}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("neko: %s %s: %w", method, req.URL.Path, ctxErr)
		}
		return nil, &APIError{Op: op, Method: method, URL: target,
			Err: fmt.Errorf("reading response: %w", err), sentinel: ErrUnreachable, base: c.baseStr}
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("neko: %s %s: response larger than %d bytes", method, req.URL.Path, limit)
	}
	c.log.Debug("neko call", "op", op, "method", method, "path", req.URL.Path,
		"status", resp.StatusCode, "duration", time.Since(start))
	r := &response{status: resp.StatusCode, header: resp.Header, body: data}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := errorMessage(r)
		return nil, &APIError{Op: op, Method: method, URL: target, Status: resp.StatusCode,
			Message: msg, sentinel: classify(op, resp.StatusCode, msg), base: c.baseStr}
	}
	return r, nil
}

// unwrapURLError drops *url.Error's "Post \"URL\":" prefix: the URL is
// already in APIError's message.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorMessage extracts neko's {"code","message"} body, or describes what
// came instead (a proxy's HTML page, say) so the error is still readable.
func errorMessage(r *response) string {
	var eb ErrorBody
	if err := json.Unmarshal(r.body, &eb); err == nil && eb.Message != "" {
		return eb.Message
	}
	text := http.StatusText(r.status)
	if len(bytes.TrimSpace(r.body)) == 0 {
		return text
	}
	return fmt.Sprintf("%s (unexpected %s body: %s)", text, contentType(r.header), snippet(r.body))
}

func contentType(h http.Header) string {
	ct := h.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	if ct == "" {
		return "untyped"
	}
	return ct
}

// snippet quotes the start of a body for error messages.
func snippet(b []byte) string {
	const max = 80
	b = bytes.TrimSpace(b)
	cut := len(b) > max
	if cut {
		b = b[:max]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
	}
	s := fmt.Sprintf("%q", b)
	if cut {
		s += "..."
	}
	return s
}

// decodeJSON decodes a success body, explaining a non-JSON answer (e.g. the
// URL points at some other web server) instead of a bare syntax error.
func decodeJSON(method, path string, r *response, out any) error {
	if err := json.Unmarshal(r.body, out); err != nil {
		return fmt.Errorf("neko: %s %s: expected JSON, got %s %s: %w",
			method, path, contentType(r.header), snippet(r.body), err)
	}
	return nil
}

func (c *Client) getJSON(ctx context.Context, op, path string, out any) error {
	r, err := c.do(ctx, op, http.MethodGet, path, nil, maxJSONBody)
	if err != nil {
		return err
	}
	return decodeJSON(http.MethodGet, c.base.Path+path, r, out)
}

func (c *Client) post(ctx context.Context, op, path string, in any) (*response, error) {
	return c.do(ctx, op, http.MethodPost, path, in, maxJSONBody)
}

// Login creates a session (POST /api/login) and keeps its token or cookie for
// every later call. The username and password are remembered in memory so
// that a Conn can log in again when neko has forgotten the session (restart);
// they are never logged or put in errors. Every Login creates a new session
// with a new id (neko's multiuser provider, server/internal/member/multiuser/provider.go).
func (c *Client) Login(ctx context.Context, username, password string) (*LoginResponse, error) {
	if username == "" {
		return nil, errors.New("neko: login: empty username")
	}
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	return c.loginLocked(ctx, username, password)
}

func (c *Client) loginLocked(ctx context.Context, username, password string) (*LoginResponse, error) {
	r, err := c.post(ctx, "login", "/api/login", LoginRequest{Username: username, Password: password})
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			ae.user = username
		}
		return nil, err
	}
	var lr LoginResponse
	if err := decodeJSON(http.MethodPost, c.base.Path+"/api/login", r, &lr); err != nil {
		return nil, err
	}
	var cookie string
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == CookieName && ck.Value != "" {
			cookie = ck.Value
		}
	}
	// neko sends exactly one of them (server/internal/api/session.go Login).
	cred, useCookie := lr.Token, false
	switch {
	case c.cookies && cookie != "":
		cred, useCookie = cookie, true
	case c.cookies:
		c.log.Warn("neko: cookie mode requested but server returned a token (cookies disabled on the server); using the token")
	case lr.Token == "" && cookie != "":
		c.log.Warn("neko: server uses cookies (session.cookie.enabled); using the NEKO_SESSION cookie")
		cred, useCookie = cookie, true
	}
	if cred == "" {
		return nil, fmt.Errorf("neko: login as %q: server returned neither a token nor a %s cookie", username, CookieName)
	}
	c.mu.Lock()
	c.cred, c.useCookie = cred, useCookie
	c.sessionID, c.profile = lr.ID, lr.Profile
	c.username, c.password, c.haveCreds = username, password, true
	c.mu.Unlock()
	c.log.Debug("neko: logged in", "user", username, "session", lr.ID, "admin", lr.Profile.IsAdmin, "cookie", useCookie)
	return &lr, nil
}

// relogin logs in again with the remembered credentials, unless another
// goroutine already did since staleSession was current (several Conns of one
// Client must not each create a session).
func (c *Client) relogin(ctx context.Context, staleSession string) error {
	c.loginMu.Lock()
	defer c.loginMu.Unlock()
	c.mu.Lock()
	user, pass, ok, cur := c.username, c.password, c.haveCreds, c.sessionID
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("neko: re-login: %w (no remembered credentials)", ErrNotLoggedIn)
	}
	if cur != staleSession && c.loggedIn() {
		return nil
	}
	_, err := c.loginLocked(ctx, user, pass)
	return err
}

// Logout ends the session (POST /api/logout) and forgets the token and the
// remembered credentials, so a Conn of this Client will not log in again.
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.post(ctx, "logout", "/api/logout", nil)
	c.mu.Lock()
	c.cred, c.sessionID, c.profile = "", "", MemberProfile{}
	c.password, c.haveCreds = "", false
	c.mu.Unlock()
	return err
}

// Whoami returns the current session (GET /api/whoami) and refreshes the
// cached profile.
func (c *Client) Whoami(ctx context.Context) (*LoginResponse, error) {
	var lr LoginResponse
	if err := c.getJSON(ctx, "whoami", "/api/whoami", &lr); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if lr.ID == c.sessionID {
		c.profile = lr.Profile
	}
	c.mu.Unlock()
	return &lr, nil
}

// Health checks GET /health (no authentication).
func (c *Client) Health(ctx context.Context) error {
	r, err := c.do(ctx, "health", http.MethodGet, "/health", nil, maxJSONBody)
	if err != nil {
		return err
	}
	var ok bool
	if err := decodeJSON(http.MethodGet, c.base.Path+"/health", r, &ok); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("neko: GET %s/health: server reports unhealthy", c.base.Path)
	}
	return nil
}

// Stats returns GET /api/stats.
func (c *Client) Stats(ctx context.Context) (*Stats, error) {
	var s Stats
	if err := c.getJSON(ctx, "stats", "/api/stats", &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Sessions returns GET /api/sessions.
func (c *Client) Sessions(ctx context.Context) ([]SessionData, error) {
	var s []SessionData
	if err := c.getJSON(ctx, "sessions", "/api/sessions", &s); err != nil {
		return nil, err
	}
	return s, nil
}

// ControlStatus returns GET /api/room/control. It is the way to re-read the
// host after a WebSocket gap, since neko does not always broadcast host
// changes (e.g. logout of a REST-only host).
func (c *Client) ControlStatus(ctx context.Context) (ControlStatus, error) {
	var s ControlStatus
	err := c.getJSON(ctx, "control", "/api/room/control", &s)
	return s, err
}

// RequestResult is the outcome of a REST control request.
type RequestResult int

const (
	// ControlGranted (204): the caller is now host.
	ControlGranted RequestResult = iota
	// ControlPending (202): someone hosts; they received control/request
	// with our id, and we are not host. The outcome arrives later, if ever,
	// as control/host.
	ControlPending
)

// String names the result.
func (r RequestResult) String() string {
	switch r {
	case ControlGranted:
		return "granted"
	case ControlPending:
		return "pending"
	}
	return fmt.Sprintf("RequestResult(%d)", int(r))
}

// RequestControl asks for host (POST /api/room/control/request,
// server/internal/api/room/control.go).
func (c *Client) RequestControl(ctx context.Context) (RequestResult, error) {
	r, err := c.post(ctx, "control/request", "/api/room/control/request", nil)
	if err != nil {
		return 0, err
	}
	if r.status == http.StatusAccepted {
		return ControlPending, nil
	}
	return ControlGranted, nil
}

// ReleaseControl gives up host; ErrNotHost if we are not host.
func (c *Client) ReleaseControl(ctx context.Context) error {
	_, err := c.post(ctx, "control/release", "/api/room/control/release", nil)
	return err
}

// TakeControl makes us host unconditionally (admin only: ErrNotAdmin).
func (c *Client) TakeControl(ctx context.Context) error {
	_, err := c.post(ctx, "control/take", "/api/room/control/take", nil)
	return err
}

// GiveControl makes sessionID host (host or admin only: ErrNotHost;
// unknown session: ErrNotFound).
func (c *Client) GiveControl(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return errors.New("neko: control/give: empty session id")
	}
	_, err := c.post(ctx, "control/give", "/api/room/control/give/"+url.PathEscape(sessionID), nil)
	return err
}

// ResetControl clears the host (admin only: ErrNotAdmin).
func (c *Client) ResetControl(ctx context.Context) error {
	_, err := c.post(ctx, "control/reset", "/api/room/control/reset", nil)
	return err
}

// Settings returns the room settings (admin only).
func (c *Client) Settings(ctx context.Context) (Settings, error) {
	var s Settings
	err := c.getJSON(ctx, "settings", "/api/room/settings", &s)
	return s, err
}

// SettingsPatch is a partial settings update: nil fields are left as they
// are, because neko unmarshals the body over the current settings
// (server/internal/api/room/settings.go).
type SettingsPatch struct {
	PrivateMode       *bool `json:"private_mode,omitempty"`
	LockedLogins      *bool `json:"locked_logins,omitempty"`
	LockedControls    *bool `json:"locked_controls,omitempty"`
	ControlProtection *bool `json:"control_protection,omitempty"`
	ImplicitHosting   *bool `json:"implicit_hosting,omitempty"`
	InactiveCursors   *bool `json:"inactive_cursors,omitempty"`
	MercifulReconnect *bool `json:"merciful_reconnect,omitempty"`
	HeartbeatInterval *int  `json:"heartbeat_interval,omitempty"`
	// Plugins merges its keys into the room's plugin settings; a key with a
	// nil value is stored as null (neko keeps the key). Nil or empty sends
	// nothing. See Settings.Plugins.
	Plugins map[string]any `json:"plugins,omitempty"`
}

// UpdateSettings merges p into the room settings (admin only). neko
// broadcasts system/settings even when nothing changed.
func (c *Client) UpdateSettings(ctx context.Context, p SettingsPatch) error {
	_, err := c.post(ctx, "settings/update", "/api/room/settings", p)
	return err
}

// ScreenCast returns the current screencast frame as JPEG (can_watch; the
// server must have screencast enabled).
func (c *Client) ScreenCast(ctx context.Context) ([]byte, error) {
	return c.jpeg(ctx, "screen/cast", "/api/room/screen/cast.jpg")
}

// ScreenShot returns a screenshot as JPEG (admin only).
func (c *Client) ScreenShot(ctx context.Context) ([]byte, error) {
	return c.jpeg(ctx, "screen/shot", "/api/room/screen/shot.jpg")
}

func (c *Client) jpeg(ctx context.Context, op, path string) ([]byte, error) {
	r, err := c.do(ctx, op, http.MethodGet, path, nil, maxImageBody)
	if err != nil {
		return nil, err
	}
	if len(r.body) < 3 || r.body[0] != 0xFF || r.body[1] != 0xD8 {
		return nil, fmt.Errorf("neko: GET %s: not a JPEG (%s, %d bytes: %s)",
			c.base.Path+path, contentType(r.header), len(r.body), snippet(r.body))
	}
	return r.body, nil
}
