package httpguard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHostAllowed(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"127.0.0.1:9222":   true,
		"127.0.0.1":        true,
		"localhost:1":      true,
		"LocalHost":        true,
		"[::1]:9222":       true,
		"10.1.2.3:80":      true,
		"evil.example":     false,
		"evil.example:80":  false,
		"localhost.evil":   false,
		"":                 false,
		"127.0.0.1.nip.io": false,
	} {
		if got := HostAllowed(host); got != want {
			t.Errorf("HostAllowed(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestTokenOK(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		url, auth string
		want      bool
	}{
		{"/x?token=s3cr%2Bt", "", true},
		{"/x", "Bearer s3cr+t", true},
		{"/x", "bearer  s3cr+t ", true},
		{"/x?token=wrong", "", false},
		{"/x?token=s3cr", "", false},
		{"/x", "Basic s3cr+t", false},
		{"/x", "", false},
	} {
		r := httptest.NewRequest(http.MethodGet, c.url, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		if got := TokenOK(r, "s3cr+t"); got != c.want {
			t.Errorf("TokenOK(%s, %q) = %v, want %v", c.url, c.auth, got, c.want)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for origin, want := range map[string]bool{
		"http://127.0.0.1:8080":   true,
		"https://127.0.0.1:8080":  true,
		"http://127.0.0.1:8081":   false,
		"http://evil.example":     false,
		"file://127.0.0.1:8080":   false,
		"chrome-extension://abcd": false,
		"null":                    false,
	} {
		if got := SameOrigin(origin, "127.0.0.1:8080"); got != want {
			t.Errorf("SameOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
}

func TestLoopbackAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:0": true, "127.1.2.3:80": true, "[::1]:80": true, "localhost:80": true,
		":8080": false, "0.0.0.0:8080": false, "10.0.0.1:80": false, "example.com:80": false,
	} {
		if got, err := LoopbackAddr(addr); err != nil || got != want {
			t.Errorf("LoopbackAddr(%q) = %v %v, want %v", addr, got, err, want)
		}
	}
	if _, err := LoopbackAddr("nonsense"); err == nil || !strings.Contains(err.Error(), "bad listen address") {
		t.Errorf("LoopbackAddr(nonsense): %v", err)
	}
}
