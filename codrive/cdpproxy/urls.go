package cdpproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

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
