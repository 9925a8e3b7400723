package operator

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/internal/httpguard"
)

// Options configure the operator endpoints.
type Options struct {
	// Token guards /codrive/*: the state, the event stream and every
	// control action then need ?token=TOKEN or Authorization: Bearer TOKEN.
	// /healthz, /readyz and /metrics never do: kubelet probes and scrapers
	// carry no secret, and they reveal nothing a token would protect.
	// Listen requires a Token for an address that is not loopback.
	Token string
	// ActionTimeout bounds the control actions that wait on neko or a
	// person (request, release, take, give, pause) when the request names
	// no timeout of its own. Default 30s.
	ActionTimeout time.Duration
	// HandoffTimeout bounds POST /codrive/handoff when the request names no
	// timeout of its own. Default 5m; the session's own
	// Options.HandoffTimeout bounds it too.
	HandoffTimeout time.Duration
	// KeepAlive is how often an idle event stream gets a comment line, so
	// that proxies and load balancers keep it open. Default 15s.
	KeepAlive time.Duration
	// NoRuntimeMetrics leaves the Go runtime and process collectors out of
	// /metrics (a program that serves its own has them already).
	NoRuntimeMetrics bool
	// Logger receives the endpoints' trouble; default: discard. Tokens are
	// never logged.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.ActionTimeout <= 0 {
		o.ActionTimeout = 30 * time.Second
	}
	if o.HandoffTimeout <= 0 {
		o.HandoffTimeout = 5 * time.Minute
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Operator serves the operator endpoints (see the package documentation)
// for one Session. It may exist before its Session does: a sidecar answers
// its probes while it still waits for Chromium and neko (SetWaiting), and
// SetSession hands it the Session once Attach returns. Its methods are safe
// for concurrent use.
type Operator struct {
	opts    Options
	mux     *http.ServeMux
	metrics *prometheus.Registry

	mu      sync.Mutex
	session *codrive.Session
	waiting string        // why there is no session yet
	ready   chan struct{} // closed by SetSession
	closed  chan struct{} // closed by Close
	once    sync.Once
}

// New returns the endpoints without a Session yet: /healthz answers,
// /readyz and /codrive/* say codrive is starting, and event streams wait.
func New(opts Options) *Operator {
	o := &Operator{
		opts:    opts.withDefaults(),
		waiting: "starting",
		ready:   make(chan struct{}),
		closed:  make(chan struct{}),
	}
	o.metrics = prometheus.NewRegistry()
	o.metrics.MustRegister(&collector{o: o})
	if !o.opts.NoRuntimeMetrics {
		o.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	o.mux = o.routes()
	return o
}

// Handler serves the operator endpoints for s: the handler to mount in a
// program that runs its own Session.
func Handler(s *codrive.Session, opts Options) http.Handler {
	o := New(opts)
	o.SetSession(s)
	return o
}

// SetSession gives the Operator its Session, once: later calls are
// ignored.
func (o *Operator) SetSession(s *codrive.Session) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.session != nil || s == nil {
		return
	}
	o.session = s
	close(o.ready)
}

// SetWaiting says why there is no Session yet, for /readyz and /codrive/*:
// a WaitProgress's String, typically (Options.OnWait).
func (o *Operator) SetWaiting(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.waiting = reason
}

// Close ends the event streams in progress and refuses new ones; the
// probes keep answering. Call it before shutting the HTTP server down.
func (o *Operator) Close() {
	o.once.Do(func() { close(o.closed) })
}

// Registry is the Prometheus registry /metrics serves, for a program that
// adds collectors of its own.
func (o *Operator) Registry() *prometheus.Registry { return o.metrics }

// current is the Session, or nil and why not yet.
func (o *Operator) current() (*codrive.Session, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.session, o.waiting
}

// ServeHTTP serves the operator endpoints.
func (o *Operator) ServeHTTP(w http.ResponseWriter, r *http.Request) { o.mux.ServeHTTP(w, r) }

func (o *Operator) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// The catch-all below would shadow ServeMux's own 405 for a known path:
	// it answers that itself, from what was registered.
	allowed := map[string]string{}
	handle := func(method, path string, h http.Handler) {
		mux.Handle(method+" "+path, h)
		allowed[path] = method
	}
	handle("GET", "/healthz", http.HandlerFunc(o.serveHealthz))
	handle("GET", "/readyz", http.HandlerFunc(o.serveReadyz))
	handle("GET", "/metrics", promhttp.HandlerFor(o.metrics, promhttp.HandlerOpts{ErrorLog: slogPrinter{o.opts.Logger}}))
	handle("GET", "/codrive/state", o.guard(o.withSession(o.serveState)))
	handle("GET", "/codrive/events", o.guard(http.HandlerFunc(o.serveEvents))) // it waits for the Session itself
	for name, act := range o.actions() {
		handle("POST", "/codrive/"+name, o.guard(o.withSession(act)))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := allowed[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("codrive: %s takes %s, not %s", r.URL.Path, m, r.Method))
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("codrive: %s %s is not served here (see %s)", r.Method, r.URL.Path, endpointList))
	})
	return mux
}

const endpointList = "GET /healthz, /readyz, /metrics, /codrive/state, /codrive/events; POST /codrive/request, release, take, give, pause, resume, handoff"

// serveHealthz: the process is alive. Only a session whose neko link ended
// for good (neko refused codrive) fails it: restarting is then the fix.
func (o *Operator) serveHealthz(w http.ResponseWriter, r *http.Request) {
	if s, _ := o.current(); s != nil && s.Connection().Closed {
		writeText(w, http.StatusServiceUnavailable, fmt.Sprintf("codrive: neko connection ended: %v", s.Err()))
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// serveReadyz: logged in to neko and attached to Chromium.
func (o *Operator) serveReadyz(w http.ResponseWriter, r *http.Request) {
	s, waiting := o.current()
	if s == nil {
		writeText(w, http.StatusServiceUnavailable, "codrive: "+waiting)
		return
	}
	if err := s.Ready(); err != nil {
		writeText(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeText(w, http.StatusOK, "ready")
}

// State is the body of GET /codrive/state: everything codrive knows about
// its room, in the types of package codrive.
type State struct {
	// Ready is /readyz's answer; Reason says why not.
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
	// Status is who drives and whether automation may act.
	Status codrive.Status `json:"status"`
	// Connection is the health of the link to neko.
	Connection codrive.Connection `json:"connection"`
	// Page is the attached tab.
	Page codrive.PageInfo `json:"page"`
	// Participants are the sessions in the room, codrive's own included.
	Participants []codrive.Participant `json:"participants"`
	// Proxy is what the CDP proxy did; zero without one.
	Proxy codrive.ProxyStats `json:"proxy"`
}

func (o *Operator) serveState(w http.ResponseWriter, r *http.Request, s *codrive.Session) {
	writeJSON(w, http.StatusOK, stateOf(s))
}

func stateOf(s *codrive.Session) State {
	st := State{Ready: true, Status: s.Status(), Connection: s.Connection(), Page: s.PageInfo(),
		Participants: s.Participants(), Proxy: s.ProxyStats()}
	if err := s.Ready(); err != nil {
		st.Ready, st.Reason = false, err.Error()
	}
	return st
}

// sessionHandler is an endpoint that needs the Session.
type sessionHandler func(w http.ResponseWriter, r *http.Request, s *codrive.Session)

// guard applies the token rules of /codrive/*.
func (o *Operator) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.opts.Token != "" {
			if !httpguard.TokenOK(r, o.opts.Token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="codrive"`)
				writeError(w, http.StatusUnauthorized, "codrive: missing or wrong token: pass ?token=TOKEN or Authorization: Bearer TOKEN")
				return
			}
		} else if msg := localOnly(r); msg != "" {
			// Without a token, loopback is the only protection: refuse what
			// a web page could send (DNS rebinding, cross-site requests).
			writeError(w, http.StatusForbidden, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withSession hands the Session on, or answers 503 while there is none.
func (o *Operator) withSession(next sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, waiting := o.current()
		if s == nil {
			writeError(w, http.StatusServiceUnavailable, "codrive: "+waiting)
			return
		}
		next(w, r, s)
	})
}

// localOnly refuses, on an endpoint without a token, a Host that is not an
// address or localhost (a page on evil.example resolved to 127.0.0.1 still
// sends Host: evil.example) and any Origin but the endpoint's own.
func localOnly(r *http.Request) string {
	if !httpguard.HostAllowed(r.Host) {
		return fmt.Sprintf("codrive: Host %q is not an IP address or localhost (DNS rebinding protection); use the address, or set a token", r.Host)
	}
	if origin := r.Header.Get("Origin"); origin != "" && !httpguard.SameOrigin(origin, r.Host) {
		return fmt.Sprintf("codrive: requests from web pages (Origin %q) are refused without a token", origin)
	}
	return ""
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, msg)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"codrive: cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// slogPrinter lets promhttp report its trouble to the Logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.log.Warn("codrive: metrics: " + fmt.Sprint(v...)) }
