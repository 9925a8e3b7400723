package cdp

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Endpoint is where Chromium's remote debugging port answers.
type Endpoint struct {
	// HTTP is the base URL of the debugging port, e.g. http://127.0.0.1:9222.
	// /json/version and /json/list hang below it.
	HTTP string
	// WS is the browser target's WebSocket URL
	// (ws://host:port/devtools/browser/ID) when the caller gave one. It is
	// empty for the http and host:port forms: the browser id is only known
	// after asking /json/version, which Attach does.
	WS string
}

// endpointForms is appended to parse errors so that a user who typed
// something odd sees what would have worked.
const endpointForms = "want http://host:port, host:port or ws://host:port/devtools/browser/ID"

// ParseEndpoint accepts the ways people name a debugging port:
//
//	http://127.0.0.1:9222          (also https://, and a trailing /)
//	127.0.0.1:9222, localhost:9222 (host:port; a bare 9222 means 127.0.0.1:9222)
//	ws://127.0.0.1:9222/devtools/browser/<id>  (as printed by Chromium)
//	ws://127.0.0.1:9222            (browser id looked up later)
//
// Anything else is an error that says what was expected. A page's WebSocket
// URL (/devtools/page/<id>) is refused on purpose: codrive needs the browser
// connection to find and watch the tab.
func ParseEndpoint(raw string) (Endpoint, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Endpoint{}, fmt.Errorf("empty CDP endpoint: %s", endpointForms)
	}
	bare := !strings.Contains(s, "://")
	if bare {
		if isDigits(s) {
			s = "127.0.0.1:" + s
		}
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: %w (%s)", raw, err, endpointForms)
	}
	scheme := strings.ToLower(u.Scheme)
	isWS := scheme == "ws" || scheme == "wss"
	var httpScheme string
	switch scheme {
	case "http", "ws":
		httpScheme = "http"
	case "https", "wss":
		httpScheme = "https"
	default:
		return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: unsupported scheme %q (%s)", raw, u.Scheme, endpointForms)
	}
	if u.Hostname() == "" {
		return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: no host (%s)", raw, endpointForms)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: unexpected user, query or fragment (%s)", raw, endpointForms)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: port %q out of range", raw, p)
		}
	} else if bare {
		// Without a scheme there is no default port to fall back on, and
		// Chromium's debugging port is never 80.
		return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: no port (the debugging port, e.g. %s:9222)", raw, u.Hostname())
	}

	ep := Endpoint{HTTP: httpScheme + "://" + u.Host}
	path := u.EscapedPath()
	if path == "" || path == "/" {
		return ep, nil
	}
	if !isWS {
		return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: unexpected path %q: give the debugging port's base URL, e.g. %s", raw, path, ep.HTTP)
	}
	if id, ok := strings.CutPrefix(path, "/devtools/browser/"); ok && id != "" && !strings.Contains(id, "/") {
		ep.WS = scheme + "://" + u.Host + path
		return ep, nil
	}
	if strings.HasPrefix(path, "/devtools/page/") {
		return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: that is one page's WebSocket URL; give the browser's (ws://host:port/devtools/browser/ID from /json/version) or %s", raw, ep.HTTP)
	}
	return Endpoint{}, fmt.Errorf("invalid CDP endpoint %q: unexpected path %q (%s)", raw, path, endpointForms)
}

// port returns the endpoint's port for hints, defaulting to Chromium's usual one.
func (e Endpoint) port() string {
	if u, err := url.Parse(e.HTTP); err == nil && u.Port() != "" {
		return u.Port()
	}
	return "9222"
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
