// Package cdpproxy is the Chrome DevTools Protocol proxy that scripts connect
// to instead of Chromium's debugging port. It relays everything, message by
// message, and gates the commands that act on the page: while a person holds
// control (as the Controller says) those are held, in order per connection,
// and released when automation holds control again; the client only sees
// delay. Commands that only observe or set up pass at once, and events always
// flow. The table deciding which is which is in methods.go.
//
// Decisions worth knowing:
//
//   - Unknown methods are acting: delaying is safer than acting under a
//     person's hands. Everything Playwright's connect and target
//     initialisation and chromedp's attach send is observing (tested), so a
//     script can connect, and a tab the person opens is not frozen, during
//     a hold.
//   - Runtime.evaluate and Runtime.callFunctionOn are acting, except in an
//     isolated world (Playwright's and puppeteer's utility worlds, tracked
//     from Runtime.executionContextCreated), or with throwOnSideEffect set by
//     the client. Before holding one, the proxy runs it once with
//     throwOnSideEffect: when V8 proves it side-effect-free it is answered
//     at once, like any observing command (chromedp's attach evaluates
//     "self"; reads such as document.title pass).
//   - Held commands keep their order; observing commands (and evaluations
//     proven side-effect-free) do not wait behind them. A held command that
//     waits longer than HoldTimeout gets a CDP error naming who holds
//     control, and the commands queued behind it on that connection fail
//     with it: running them later without it would act out of sequence.
//   - Emulation.* is observing: libraries send it while initialising every
//     target; it configures the tab rather than acting in it.
//
// The proxy also answers a Codrive CDP domain itself (Codrive.getState,
// Codrive.handoff, Codrive.enable/disable and the Codrive.stateChanged event,
// see codrive.go) and the same over HTTP (GET /codrive/state, POST
// /codrive/handoff).
//
// It is an arbiter between cooperating parties, not a sandbox: a client can
// still change the DOM from an isolated world during a hold.
package cdpproxy

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Controller is what the proxy needs from the arbiter (implemented by
// package codrive).
type Controller interface {
	// Begin blocks until automation may act (asking for control first if
	// nobody hosts), then counts one acting command in flight until done is
	// called exactly once (the proxy calls it when Chromium answered the
	// command, or the connection ended). It returns ctx's error when ctx
	// ends. It must be cheap when the gate is open: the proxy calls it for
	// every acting command.
	//
	// The proxy first calls it with a ctx that has already ended, to pass
	// an open gate without leaving the connection's reading goroutine; an
	// implementation that checks its gate before ctx answers that at once
	// (otherwise every acting command takes the slower queued path, which is
	// still correct).
	Begin(ctx context.Context) (done func(), err error)
	// Status is the current arbitration state.
	Status() Status
	// Subscribe delivers every Status change until cancel is called.
	Subscribe() (<-chan Status, func())
	// Handoff yields control to a person with a reason and returns when they
	// release (or ctx ends).
	Handoff(ctx context.Context, reason string) error
}

// Arbitration states a Status reports.
const (
	StateFree         = "free"
	StateAutomation   = "automation"
	StateHuman        = "human"
	StatePaused       = "paused"
	StateDisconnected = "disconnected"
)

// Status is the arbitration state as the Controller reports it; it is also
// the result of Codrive.getState, the params of Codrive.stateChanged and the
// body of GET /codrive/state.
type Status struct {
	State    string    `json:"state"`              // "free", "automation", "human", "paused", "disconnected"
	Host     string    `json:"host,omitempty"`     // neko session id of the host
	HostName string    `json:"hostName,omitempty"` // its display name
	Since    time.Time `json:"since"`
	Reason   string    `json:"reason,omitempty"`
	// Gate is the arbiter's own word for its gate ("open", "yielding",
	// "paused", "handoff", "waiting"...), reported as it is: the proxy never
	// derives anything from it.
	Gate string `json:"gate,omitempty"`
}

// Options configure Listen.
type Options struct {
	Upstream    string        // Chromium's HTTP debugging endpoint, e.g. http://127.0.0.1:9222
	Addr        string        // listen address; default "127.0.0.1:0"
	Token       string        // required when Addr is not loopback; accepted as ?token= or Authorization: Bearer
	Controller  Controller    // nil → plain pass-through proxy (no gating)
	HoldTimeout time.Duration // default 10m
	LogCDP      bool          // log message bodies at Debug level (never by default: they carry page data)
	Logger      *slog.Logger
}

// Stats are the proxy's counters.
type Stats struct {
	Connections int64 // relayed WebSocket connections open now
	Held        int64 // acting commands waiting for control now
	Passed      int64 // client commands forwarded to Chromium since start (acting and observing)
	HeldTotal   int64 // acting commands that had to wait, since start
	TimedOut    int64 // held commands failed because the hold outlasted HoldTimeout
}

const defaultHoldTimeout = 10 * time.Minute

// Proxy is a running CDP proxy. Close ends it.
type Proxy struct {
	opts         Options
	log          *slog.Logger
	ctrl         Controller
	upstream     *url.URL // http(s)://host:port of Chromium
	upstreamHost string   // Host header Chromium accepts: 127.0.0.1:PORT
	hostport     string   // where clients reach us, for URL and BrowserWSURL

	ln        net.Listener
	srv       *http.Server
	handler   http.Handler
	transport *http.Transport
	client    *http.Client
	frontend  *httputil.ReverseProxy
	dialer    *websocket.Dialer
	upgrader  *websocket.Upgrader
	bufs      sync.Pool // *bytes.Buffer for relayed messages

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	// ended has always ended: Begin(ended) tries the gate without waiting.
	ended context.Context

	mu     sync.Mutex
	closed bool
	relays map[*relay]struct{}
	wg     sync.WaitGroup // the serve loop, every request handler, every relay

	closeOnce sync.Once
	closeErr  error

	connSeq   atomic.Int64
	nConns    atomic.Int64
	nHeld     atomic.Int64
	nPassed   atomic.Int64
	nHeldTot  atomic.Int64
	nTimedOut atomic.Int64
}

// Listen validates opts, binds the listen address and serves in the
// background until Close.
func Listen(opts Options) (*Proxy, error) {
	if opts.Upstream == "" {
		return nil, errors.New("cdpproxy: Options.Upstream is required (Chromium's debugging endpoint, e.g. http://127.0.0.1:9222)")
	}
	up, err := parseUpstream(opts.Upstream)
	if err != nil {
		return nil, err
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.HoldTimeout < 0 {
		return nil, fmt.Errorf("cdpproxy: HoldTimeout %v is negative", opts.HoldTimeout)
	}
	if opts.HoldTimeout == 0 {
		opts.HoldTimeout = defaultHoldTimeout
	}
	loopback, err := isLoopbackAddr(opts.Addr)
	if err != nil {
		return nil, err
	}
	if !loopback && opts.Token == "" {
		return nil, fmt.Errorf("cdpproxy: listening on %s exposes the browser beyond this machine; set a Token (clients then pass ?token= or Authorization: Bearer), or listen on 127.0.0.1", opts.Addr)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("cdpproxy: listen on %s: %w", opts.Addr, err)
	}

	p := &Proxy{
		opts:     opts,
		log:      logger,
		ctrl:     opts.Controller,
		upstream: up,
		ln:       ln,
		relays:   make(map[*relay]struct{}),
	}
	port := up.Port()
	if port == "" {
		port = "80"
		if up.Scheme == "https" {
			port = "443"
		}
	}
	// Chromium answers 500 to a Host that is not an IP or localhost and
	// builds the URLs it returns from the Host it got, so it always sees a
	// loopback IP, even when it is reached by a container name.
	p.upstreamHost = net.JoinHostPort("127.0.0.1", port)
	p.hostport = listenHostport(ln.Addr())
	p.ctx, p.cancel = context.WithCancel(context.Background())
	ended, endNow := context.WithCancel(context.Background())
	endNow()
	p.ended = ended

	// No environment proxy: Chromium is local, and HTTP_PROXY must not
	// intercept its debugging traffic.
	p.transport = &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	p.client = &http.Client{Transport: p.transport, Timeout: 60 * time.Second}
	p.frontend = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(p.upstream)
			pr.Out.Host = p.upstreamHost
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del("Authorization")
			q := pr.Out.URL.Query()
			if q.Has("token") {
				q.Del("token")
				pr.Out.URL.RawQuery = q.Encode()
			}
		},
		Transport: p.transport,
		ErrorLog:  slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	p.dialer = &websocket.Dialer{
		Proxy:            nil,
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4 << 10,
		// gorilla's client splits a message into frames at the write
		// buffer size. Chromium 156 joins fragments, but its DevTools server
		// long refused them (chromedp still never sends any): a large
		// pooled buffer keeps every realistic command in one frame.
		WriteBufferSize: 1 << 20,
		WriteBufferPool: newRetainPool(4),
	}
	p.upgrader = &websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		WriteBufferSize:  32 << 10,
		WriteBufferPool:  newRetainPool(16),
		// The Origin policy is applied before the upgrade (see guard).
		CheckOrigin: func(*http.Request) bool { return true },
	}
	p.handler = p.guard(p.routes())
	p.srv = &http.Server{
		Handler:           p.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return p.ctx },
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("cdpproxy: serve", "err", err)
		}
	}()
	p.log.Info("cdpproxy: listening", "url", p.URL(), "upstream", up.String(), "gating", p.ctrl != nil)
	return p, nil
}

// URL is the proxy's HTTP endpoint, e.g. http://127.0.0.1:PORT: give it to
// clients in place of Chromium's.
func (p *Proxy) URL() string { return "http://" + p.hostport }

// BrowserWSURL asks Chromium for its browser WebSocket URL and returns the
// proxied one. When a Token is set it is included as ?token=, because a
// client given only this URL has no other way to pass it.
func (p *Proxy) BrowserWSURL(ctx context.Context) (string, error) {
	body, status, _, err := p.fetchUpstream(ctx, http.MethodGet, "/json/version")
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("cdpproxy: %s/json/version answered %d: %s", p.upstream, status, truncate(string(body), 200))
	}
	var v struct {
		WS string `json:"webSocketDebuggerUrl"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.WS == "" {
		return "", fmt.Errorf("cdpproxy: %s/json/version has no webSocketDebuggerUrl: %s", p.upstream, truncate(string(body), 200))
	}
	tok := ""
	if p.opts.Token != "" {
		tok = "token=" + url.QueryEscape(p.opts.Token)
	}
	return rewriteWSURL(v.WS, p.hostport, tok), nil
}

// Handler serves the proxy's HTTP API and relays WebSockets; Listen already
// serves it, it is exposed for embedding. Close still ends what it relays.
func (p *Proxy) Handler() http.Handler { return p.handler }

// Stats returns the current counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Connections: p.nConns.Load(),
		Held:        p.nHeld.Load(),
		Passed:      p.nPassed.Load(),
		HeldTotal:   p.nHeldTot.Load(),
		TimedOut:    p.nTimedOut.Load(),
	}
}

// Close closes the listener and every relayed connection (clients get close
// code 1001), and returns when every goroutine of the proxy has ended.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		relays := make([]*relay, 0, len(p.relays))
		for r := range p.relays {
			relays = append(relays, r)
		}
		p.mu.Unlock()

		p.cancel()
		err := p.srv.Close()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			p.closeErr = fmt.Errorf("cdpproxy: close server: %w", err)
		}
		var wg sync.WaitGroup
		for _, r := range relays {
			wg.Go(func() {
				r.finish(websocket.CloseGoingAway, "codrive: proxy shutting down", websocket.CloseGoingAway, "")
			})
		}
		wg.Wait()
		p.wg.Wait()
		p.transport.CloseIdleConnections()
		p.log.Info("cdpproxy: closed")
	})
	return p.closeErr
}

// track registers a relay so Close can end it; false once closing.
func (p *Proxy) track(r *relay) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.relays[r] = struct{}{}
	return true
}

func (p *Proxy) untrack(r *relay) {
	p.mu.Lock()
	delete(p.relays, r)
	p.mu.Unlock()
}

// guard applies the checks every request passes, in Chromium's spirit.
func (p *Proxy) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// DNS rebinding defence, as Chromium's own: a page on evil.example
		// that resolves to 127.0.0.1 still sends Host: evil.example.
		if !hostAllowed(r.Host) {
			httpError(w, http.StatusForbidden, fmt.Sprintf("codrive: Host header %q is not an IP address or localhost (DNS rebinding protection); connect with %s", r.Host, p.URL()))
			return
		}
		// Browsers add Origin to cross-site requests and WebSockets; CDP
		// clients do not. Without a token a web page could otherwise drive
		// the browser (Chromium refuses these too, unless
		// --remote-allow-origins). Same-origin is the DevTools frontend
		// relayed under /devtools/, from this very address.
		if o := r.Header.Get("Origin"); o != "" && p.opts.Token == "" && !sameOrigin(o, r.Host) {
			httpError(w, http.StatusForbidden, fmt.Sprintf("codrive: requests from web pages (Origin %q) are refused; CDP clients send no Origin header", o))
			return
		}
		if p.opts.Token != "" && !p.tokenOK(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="codrive"`)
			httpError(w, http.StatusUnauthorized, "codrive: missing or wrong token: pass ?token=TOKEN or Authorization: Bearer TOKEN")
			return
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			httpError(w, http.StatusServiceUnavailable, "codrive: proxy is shutting down")
			return
		}
		p.wg.Add(1)
		p.mu.Unlock()
		defer p.wg.Done()
		// Close must end long requests (a handoff waiting for the person)
		// even when Handler is served by someone else's http.Server.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(p.ctx, cancel)
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (p *Proxy) tokenOK(r *http.Request) bool {
	want := []byte(p.opts.Token)
	if t := r.URL.Query().Get("token"); t != "" && subtle.ConstantTimeCompare([]byte(t), want) == 1 {
		return true
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(a[7:])), want) == 1
	}
	return false
}

func (p *Proxy) routes() http.Handler {
	mux := http.NewServeMux()
	for _, path := range []string{"/json/version", "/json/list", "/json", "/json/protocol"} {
		mux.HandleFunc("GET "+path, p.serveJSON)
		mux.HandleFunc("GET "+path+"/{$}", p.serveJSON) // Playwright asks /json/version/
	}
	mux.HandleFunc("/json/new", p.serveActingJSON)
	mux.HandleFunc("/json/activate/", p.serveActingJSON)
	mux.HandleFunc("/json/close/", p.serveActingJSON)
	mux.HandleFunc("/devtools/", p.serveDevtools)
	mux.HandleFunc("GET /codrive/state", p.serveState)
	mux.HandleFunc("POST /codrive/handoff", p.serveHandoff)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpError(w, http.StatusNotFound, fmt.Sprintf("codrive: %s %s is not served here (the proxy serves /json/version, /json/list, /json/protocol, /devtools/... WebSockets and /codrive/state, /codrive/handoff)", r.Method, r.URL.Path))
	})
	return mux
}

// serveJSON relays Chromium's discovery endpoints with every URL pointing
// back at the proxy.
func (p *Proxy) serveJSON(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	body, status, ctype, err := p.fetchUpstream(r.Context(), http.MethodGet, path)
	if err != nil {
		httpError(w, http.StatusBadGateway, err.Error())
		return
	}
	if status == http.StatusOK && path != "/json/protocol" {
		body = rewriteTargets(body, r.Host, p.clientTokenQuery(r))
	}
	if ctype == "" {
		ctype = "application/json; charset=UTF-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// serveActingJSON relays /json/new, /json/activate and /json/close, which
// open, focus or close tabs: they wait for control like acting commands.
func (p *Proxy) serveActingJSON(w http.ResponseWriter, r *http.Request) {
	if p.ctrl != nil {
		ctx, cancel := context.WithTimeout(r.Context(), p.opts.HoldTimeout)
		defer cancel()
		start := time.Now()
		done, err := p.ctrl.Begin(ctx)
		if err != nil {
			if r.Context().Err() != nil {
				return
			}
			httpError(w, http.StatusGatewayTimeout, holdMessage(p.ctrl.Status(), r.URL.Path, time.Since(start), err, ""))
			return
		}
		defer done() // Chromium has answered once fetchUpstream returns
	}
	target := r.URL.Path
	if raw := p.stripToken(r.URL.RawQuery); raw != "" {
		target += "?" + raw
	}
	body, status, ctype, err := p.fetchUpstream(r.Context(), r.Method, target)
	if err != nil {
		httpError(w, http.StatusBadGateway, err.Error())
		return
	}
	if status == http.StatusOK && strings.HasPrefix(r.URL.Path, "/json/new") {
		body = rewriteTargets(body, r.Host, p.clientTokenQuery(r))
	}
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// serveDevtools relays /devtools/... WebSockets; plain GETs there are the
// DevTools frontend's files, relayed as they are.
func (p *Proxy) serveDevtools(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			httpError(w, http.StatusMethodNotAllowed, "codrive: only WebSocket upgrades and GET are served under /devtools/")
			return
		}
		p.frontend.ServeHTTP(w, r)
		return
	}
	p.relay(w, r)
}

func (p *Proxy) serveState(w http.ResponseWriter, r *http.Request) {
	if p.ctrl == nil {
		httpError(w, http.StatusServiceUnavailable, errNoController)
		return
	}
	writeJSON(w, http.StatusOK, p.ctrl.Status())
}

func (p *Proxy) serveHandoff(w http.ResponseWriter, r *http.Request) {
	if p.ctrl == nil {
		httpError(w, http.StatusServiceUnavailable, errNoController)
		return
	}
	var req struct {
		Reason  string          `json:"reason"`
		Timeout json.RawMessage `json:"timeout"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		httpError(w, http.StatusBadRequest, fmt.Sprintf("codrive: bad handoff request body (want {\"reason\":\"...\",\"timeout\":\"30s\"}): %v", err))
		return
	}
	timeout, err := parseTimeout(req.Timeout)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := p.ctrl.Handoff(ctx, req.Reason); err != nil {
		if r.Context().Err() != nil {
			return // the caller left
		}
		if errors.Is(err, context.DeadlineExceeded) {
			httpError(w, http.StatusGatewayTimeout, fmt.Sprintf("codrive: handoff timed out after %v: the person has not released control", timeout))
			return
		}
		httpError(w, http.StatusBadGateway, fmt.Sprintf("codrive: handoff failed: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, p.ctrl.Status())
}

// parseTimeout reads a handoff timeout given as a Go duration string ("30s")
// or a number of seconds.
func parseTimeout(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("codrive: bad handoff timeout %q (want a duration like \"30s\")", s)
		}
		return d, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil || secs < 0 {
		return 0, fmt.Errorf("codrive: bad handoff timeout %s (want a duration like \"30s\" or seconds)", raw)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// fetchUpstream makes one HTTP request to Chromium's debugging endpoint.
func (p *Proxy) fetchUpstream(ctx context.Context, method, pathAndQuery string) (body []byte, status int, ctype string, err error) {
	req, err := http.NewRequestWithContext(ctx, method, p.upstream.String()+pathAndQuery, nil)
	if err != nil {
		return nil, 0, "", fmt.Errorf("codrive: bad upstream request %s: %w", pathAndQuery, err)
	}
	req.Host = p.upstreamHost
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, 0, "", fmt.Errorf("codrive: Chromium's debugging endpoint %s is not reachable: %w", p.upstream, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, 0, "", fmt.Errorf("codrive: read %s%s: %w", p.upstream, pathAndQuery, err)
	}
	return body, resp.StatusCode, resp.Header.Get("Content-Type"), nil
}

// stripToken removes our token from a raw query without re-encoding the
// rest: /json/new takes the page URL as the raw query itself.
func (p *Proxy) stripToken(raw string) string {
	if p.opts.Token == "" || raw == "" {
		return raw
	}
	drop := map[string]bool{"token=" + p.opts.Token: true, "token=" + url.QueryEscape(p.opts.Token): true}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, part := range parts {
		if !drop[part] {
			kept = append(kept, part)
		}
	}
	return strings.Join(kept, "&")
}

// clientTokenQuery is the query to add to URLs handed to a client that
// authenticated with ?token=: the WebSocket it opens next needs it too.
func (p *Proxy) clientTokenQuery(r *http.Request) string {
	if p.opts.Token == "" || r.URL.Query().Get("token") == "" {
		return ""
	}
	return "token=" + url.QueryEscape(p.opts.Token)
}

// rewriteTargets points webSocketDebuggerUrl and the ws= of
// devtoolsFrontendUrl at host, in a /json/version object or a /json/list
// array. Anything it cannot parse is returned unchanged.
func rewriteTargets(body []byte, host, tokenQuery string) []byte {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return body
	}
	fix := func(t map[string]json.RawMessage) {
		if raw, ok := t["webSocketDebuggerUrl"]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				t["webSocketDebuggerUrl"], _ = json.Marshal(rewriteWSURL(s, host, tokenQuery))
			}
		}
		if raw, ok := t["devtoolsFrontendUrl"]; ok {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				t["devtoolsFrontendUrl"], _ = json.Marshal(rewriteFrontendURL(s, host, tokenQuery))
			}
		}
	}
	var out any
	switch trimmed[0] {
	case '{':
		var t map[string]json.RawMessage
		if json.Unmarshal(trimmed, &t) != nil {
			return body
		}
		fix(t)
		out = t
	case '[':
		var ts []map[string]json.RawMessage
		if json.Unmarshal(trimmed, &ts) != nil {
			return body
		}
		for _, t := range ts {
			fix(t)
		}
		out = ts
	default:
		return body
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // page URLs keep their '&' readable, as Chromium writes them
	enc.SetIndent("", "   ")
	if err := enc.Encode(out); err != nil {
		return body
	}
	return buf.Bytes()
}

// rewriteWSURL keeps the path of a ws:// URL from Chromium and points it at
// host.
func rewriteWSURL(raw, host, tokenQuery string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Scheme = "ws"
	u.Host = host
	if tokenQuery != "" {
		u.RawQuery = tokenQuery
	}
	return u.String()
}

// rewriteFrontendURL replaces the host in the ws= (or wss=) parameter of a
// DevTools frontend URL such as
// https://chrome-devtools-frontend.appspot.com/serve_rev/@REV/inspector.html?ws=127.0.0.1:9222/devtools/page/ID
// keeping Chromium's unescaped form.
func rewriteFrontendURL(raw, host, tokenQuery string) string {
	base, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw
	}
	parts := strings.Split(query, "&")
	for i, part := range parts {
		key, val, ok := strings.Cut(part, "=")
		if !ok || (key != "ws" && key != "wss") {
			continue
		}
		if v, err := url.QueryUnescape(val); err == nil {
			val = v
		}
		_, path, hasPath := strings.Cut(val, "/")
		nv := host
		if hasPath {
			nv += "/" + path
		}
		if tokenQuery != "" {
			nv += "?" + tokenQuery
		}
		parts[i] = "ws=" + frontendEscaper.Replace(nv)
	}
	return base + "?" + strings.Join(parts, "&")
}

// frontendEscaper escapes what would end or garble a query value, leaving
// ':' and '/' readable like Chromium does.
var frontendEscaper = strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "?", "%3F", "+", "%2B", " ", "%20")

// hostAllowed is Chromium's rule for the Host header: an IP literal or
// localhost, with or without a port.
func hostAllowed(host string) bool {
	if host == "" {
		return false
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	return net.ParseIP(h) != nil
}

// sameOrigin reports whether an Origin header names the host:port the
// request was sent to (which hostAllowed has vetted).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host)
}

// isLoopbackAddr reports whether a listen address only accepts local
// connections. An empty host (":9222") listens everywhere.
func isLoopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("cdpproxy: bad listen address %q (want host:port, e.g. 127.0.0.1:0): %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

func listenHostport(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

func parseUpstream(raw string) (*url.URL, error) {
	s := raw
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("cdpproxy: bad upstream %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "http"
	case "https", "wss":
		u.Scheme = "https"
	default:
		return nil, fmt.Errorf("cdpproxy: bad upstream %q: want Chromium's HTTP debugging endpoint, e.g. http://127.0.0.1:9222", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("cdpproxy: bad upstream %q: no host", raw)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func (p *Proxy) getBuf() *bytes.Buffer {
	if b, ok := p.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (p *Proxy) putBuf(b *bytes.Buffer) {
	// A screenshot-sized buffer is not worth keeping around.
	if b.Cap() <= 4<<20 {
		p.bufs.Put(b)
	}
}

// retainPool is a websocket.BufferPool that, unlike sync.Pool, keeps its
// few buffers across garbage collections: a collection would otherwise
// empty it, and the next message would allocate and zero a fresh 1 MiB.
type retainPool chan any

func newRetainPool(n int) retainPool { return make(retainPool, n) }

func (p retainPool) Get() any {
	select {
	case v := <-p:
		return v
	default:
		return nil
	}
}

func (p retainPool) Put(v any) {
	select {
	case p <- v:
	default:
	}
}

const errNoController = "codrive: this proxy runs without an arbiter (pass-through mode): no Codrive state or handoff"

func httpError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"codrive: cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
