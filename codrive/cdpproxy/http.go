package cdpproxy

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/codrive/codrive/internal/httpguard"
	"github.com/codrive/codrive/internal/jsondur"
)

// guard applies the checks every request passes, in Chromium's spirit.
func (p *Proxy) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// DNS rebinding defence, as Chromium's own: a page on evil.example
		// that resolves to 127.0.0.1 still sends Host: evil.example.
		if !httpguard.HostAllowed(r.Host) {
			httpError(w, http.StatusForbidden, fmt.Sprintf("codrive: Host header %q is not an IP address or localhost (DNS rebinding protection); connect with %s", r.Host, p.URL()))
			return
		}
		// Browsers add Origin to cross-site requests and WebSockets; CDP
		// clients do not. Without a token a web page could otherwise drive
		// the browser (Chromium refuses these too, unless
		// --remote-allow-origins). Same-origin is the DevTools frontend
		// relayed under /devtools/, from this very address.
		if o := r.Header.Get("Origin"); o != "" && p.opts.Token == "" && !httpguard.SameOrigin(o, r.Host) {
			httpError(w, http.StatusForbidden, fmt.Sprintf("codrive: requests from web pages (Origin %q) are refused; CDP clients send no Origin header", o))
			return
		}
		p.unmangle(r)
		if p.opts.Token != "" && !httpguard.TokenOK(r, p.opts.Token) {
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

// unmangle reads Playwright's form of an endpoint with ?token=: its
// connectOverCDP appends "/json/version/" to the endpoint as a string
// (playwright-core lib/server/chromium/chromium.js, urlToWSEndpoint), so
// http://ADDR?token=T asks for /?token=T/json/version/. Only our own token
// followed by a /json path is read that way, compared in constant time.
func (p *Proxy) unmangle(r *http.Request) {
	if p.opts.Token == "" || (r.URL.Path != "/" && r.URL.Path != "") {
		return
	}
	q := r.URL.Query()
	val, want := q.Get("token"), p.opts.Token
	if len(q) != 1 || len(q["token"]) != 1 || len(val) <= len(want) || !strings.HasPrefix(val[len(want):], "/json") ||
		subtle.ConstantTimeCompare([]byte(val[:len(want)]), []byte(want)) != 1 {
		return
	}
	r.URL.Path, r.URL.RawPath = val[len(want):], ""
	r.URL.RawQuery = "token=" + url.QueryEscape(want)
	r.RequestURI = r.URL.RequestURI()
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
		step, err := p.ctrl.Begin(ctx, StepCommand)
		if err != nil {
			if r.Context().Err() != nil {
				return
			}
			httpError(w, http.StatusGatewayTimeout, holdMessage(p.ctrl.Status(), r.URL.Path, time.Since(start), err, ""))
			return
		}
		defer step.Done() // Chromium has answered once fetchUpstream returns
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
	timeout, err := jsondur.Parse(req.Timeout)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	if timeout == 0 {
		timeout = p.opts.HandoffTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if err := p.ctrl.Handoff(ctx, req.Reason); err != nil {
		if r.Context().Err() != nil {
			return // the caller left
		}
		if errors.Is(err, context.DeadlineExceeded) {
			httpError(w, http.StatusGatewayTimeout, handoffTimedOut(timeout, err))
			return
		}
		httpError(w, http.StatusBadGateway, fmt.Sprintf("codrive: handoff failed: %v", err))
		return
	}
	writeJSON(w, http.StatusOK, p.ctrl.Status())
}

// handoffTimedOut says why a handoff ended without the person releasing:
// the controller's own words when it has them (it knows whether anyone took
// control), else how long it waited.
func handoffTimedOut(timeout time.Duration, err error) string {
	msg := strings.TrimPrefix(err.Error(), "codrive: ")
	if msg == context.DeadlineExceeded.Error() {
		msg = "the person has not released control"
	}
	return fmt.Sprintf("codrive: handoff timed out after %v: %s", timeout, msg)
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
