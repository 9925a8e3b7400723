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
//   - Every command goes to Chromium under an id of the proxy's own, mapped
//     back in the answer (ids.go): clients may use any id Chromium takes,
//     the same one on two sessions at once, and never meet the proxy's own
//     commands. A message Chromium answers without an id (bad JSON, an id
//     it refuses) goes through unchanged and gets Chromium's own answer.
//   - Chromium's messages are streamed to the client, never held whole;
//     a client message is read up to 16 KiB and, when that tells the gate
//     enough, streamed too. Others are kept in chunks up to MaxMessage.
//   - A binary frame closes the connection with 1003: CDP is JSON text.
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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/internal/httpguard"
)

// Controller is what the proxy needs from the arbiter (implemented by
// package codrive).
type Controller interface {
	// Begin blocks until automation may act (asking for control first if
	// nobody hosts), then counts one acting command in flight as a Step. It
	// returns ctx's error when ctx ends. It must be cheap when the gate is
	// open: the proxy calls it for every acting command.
	//
	// The proxy first calls it with a ctx that has already ended, to pass
	// an open gate without leaving the connection's reading goroutine; an
	// implementation that checks its gate before ctx answers that at once
	// (otherwise every acting command takes the slower queued path, which is
	// still correct).
	Begin(ctx context.Context, kind StepKind) (Step, error)
	// Status is the current arbitration state.
	Status() Status
	// Subscribe delivers every Status change until cancel is called.
	Subscribe() (<-chan Status, func())
	// Handoff yields control to a person with a reason and returns when they
	// release (or ctx ends).
	Handoff(ctx context.Context, reason string) error
}

// Step is an acting command that passed the gate. The proxy calls Sent once
// the command is written to Chromium, and Done once Chromium answered it or
// the connection ended; each once. An arbiter hands control to a person only
// after every command that passed its gate is Sent, and finish-step after it
// is Done.
type Step interface {
	Sent()
	Done()
}

// Arbitration states a Status reports.
const (
	StateFree         = "free"
	StateAutomation   = "automation"
	StateHuman        = "human"
	StateCodrive      = "codrive" // another codrive session hosts, not a person
	StatePaused       = "paused"
	StateDisconnected = "disconnected"
)

// Status is the arbitration state as the Controller reports it; it is also
// the result of Codrive.getState, the params of Codrive.stateChanged and the
// body of GET /codrive/state.
type Status struct {
	State    string    `json:"state"`              // "free", "automation", "human", "codrive", "paused", "disconnected"
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
	// HandoffTimeout bounds a handoff asked for without a timeout
	// (POST /codrive/handoff, Codrive.handoff); default
	// DefaultHandoffTimeout. One asked for with a timeout gets that one.
	HandoffTimeout time.Duration
	// MaxMessage bounds one client message, in bytes; default
	// DefaultMaxMessage. A larger one gets a CDP error (-32600, with its id
	// and session when it has them) and the connection stays; one that was
	// already being streamed to Chromium when it passed the limit (an
	// observing or open-gate command whose head said so) closes the
	// connection with 1009 and a reason instead. Chromium's own messages are
	// streamed to the client whatever their size.
	MaxMessage int64
	LogCDP     bool // log message bodies at Debug level (never by default: they carry page data)
	Logger     *slog.Logger
	// OnHeld, when set, learns how every held command ended: released to
	// Chromium, answered during the hold, timed out, failed or abandoned
	// (see HeldCommand), exactly once per command. It runs on the relay's
	// own goroutines, so it must return quickly and never block (hand the
	// record to a buffer or a non-blocking channel send) and must not call
	// back into the proxy: a slow OnHeld delays the connection it reports
	// on. Commands that pass the gate at once are not reported.
	OnHeld func(HeldCommand)
	// Observer, when set, receives every hold's duration and outcome and
	// every forwarded command's round trip to Chromium, for metrics.
	Observer Observer
}

// DefaultMaxMessage is Options.MaxMessage's default: room for Playwright's
// largest file upload (50 MB, base64 in one command), while a proxy that
// holds a few such messages for a person's turn stays within reason.
const DefaultMaxMessage = 128 << 20

// Stats are the proxy's counters.
type Stats struct {
	Connections int64 // relayed WebSocket connections open now
	Held        int64 // acting commands waiting for control now
	Passed      int64 // client commands forwarded to Chromium since start (acting and observing)
	HeldTotal   int64 // acting commands that had to wait, since start
	TimedOut    int64 // held commands failed because the hold outlasted HoldTimeout
	Accepted    int64 // relayed WebSocket connections accepted since start
}

const defaultHoldTimeout = 10 * time.Minute

// DefaultHandoffTimeout is Options.HandoffTimeout's default: a handoff
// nobody answers must not hold its caller for ever.
const DefaultHandoffTimeout = 15 * time.Minute

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
	heads     sync.Pool // *headBuf
	mem       memRelease

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
	nAccepted atomic.Int64
}

// CheckAddr is Listen's check of a listen address and token, without
// listening: addr must be host:port, and a Token is required unless the
// host is a loopback address (127.0.0.0/8, ::1, localhost), since the proxy
// hands out the browser.
func CheckAddr(addr, token string) error {
	loopback, err := httpguard.LoopbackAddr(addr)
	if err != nil {
		return fmt.Errorf("cdpproxy: %w", err)
	}
	if !loopback && token == "" {
		return fmt.Errorf("cdpproxy: listening on %s exposes the browser beyond this machine; set a Token (clients then pass ?token= or Authorization: Bearer), or listen on 127.0.0.1", addr)
	}
	return nil
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
	if opts.HandoffTimeout < 0 {
		return nil, fmt.Errorf("cdpproxy: HandoffTimeout %v is negative", opts.HandoffTimeout)
	}
	if opts.HandoffTimeout == 0 {
		opts.HandoffTimeout = DefaultHandoffTimeout
	}
	if opts.MaxMessage < 0 {
		return nil, fmt.Errorf("cdpproxy: MaxMessage %d is negative", opts.MaxMessage)
	}
	if opts.MaxMessage == 0 {
		opts.MaxMessage = DefaultMaxMessage
	}
	if err := CheckAddr(opts.Addr, opts.Token); err != nil {
		return nil, err
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
		// Also the frame size of a message streamed to the client.
		WriteBufferSize: 64 << 10,
		WriteBufferPool: newRetainPool(16),
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
		Accepted:    p.nAccepted.Load(),
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
		p.mem.stop()
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
