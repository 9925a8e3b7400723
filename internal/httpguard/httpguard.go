// Package httpguard is what codrive's two HTTP listeners, the CDP proxy and
// the operator endpoints, check of their listen address and of every
// request: one rule for both, since either hands out control of the
// browser.
package httpguard

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// TokenOK reports whether r carries token, as ?token= or as
// Authorization: Bearer, compared in constant time.
func TokenOK(r *http.Request, token string) bool {
	want := []byte(token)
	if t := r.URL.Query().Get("token"); t != "" && subtle.ConstantTimeCompare([]byte(t), want) == 1 {
		return true
	}
	if a := r.Header.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(a[7:])), want) == 1
	}
	return false
}

// HostAllowed is Chromium's rule for the Host header, against DNS
// rebinding (a page on evil.example resolved to 127.0.0.1 still sends Host:
// evil.example): an IP literal or localhost, with or without a port.
func HostAllowed(host string) bool {
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

// SameOrigin reports whether an Origin header names the host:port the
// request was sent to, over http or https.
func SameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host)
}

// LoopbackAddr reports whether a listen address only accepts local
// connections (127.0.0.0/8, ::1, localhost). An empty host (":8080")
// listens everywhere.
func LoopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("bad listen address %q (want host:port, e.g. 127.0.0.1:8080): %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}
