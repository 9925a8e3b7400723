package cdp_test

import (
	"strings"
	"testing"

	"github.com/codrive/codrive/cdp"
)

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	const browserWS = "ws://127.0.0.1:9222/devtools/browser/3f1c-ab"
	tests := []struct {
		in      string
		want    cdp.Endpoint
		wantErr string // substring; "" means success
	}{
		{in: "http://127.0.0.1:9222", want: cdp.Endpoint{HTTP: "http://127.0.0.1:9222"}},
		{in: "http://127.0.0.1:9222/", want: cdp.Endpoint{HTTP: "http://127.0.0.1:9222"}},
		{in: "  http://localhost:9222  ", want: cdp.Endpoint{HTTP: "http://localhost:9222"}},
		{in: "HTTP://127.0.0.1:9222", want: cdp.Endpoint{HTTP: "http://127.0.0.1:9222"}},
		{in: "https://browser.example:443", want: cdp.Endpoint{HTTP: "https://browser.example:443"}},
		{in: "http://neko", want: cdp.Endpoint{HTTP: "http://neko"}},
		{in: "127.0.0.1:9222", want: cdp.Endpoint{HTTP: "http://127.0.0.1:9222"}},
		{in: "localhost:9333", want: cdp.Endpoint{HTTP: "http://localhost:9333"}},
		{in: "[::1]:9222", want: cdp.Endpoint{HTTP: "http://[::1]:9222"}},
		{in: "9222", want: cdp.Endpoint{HTTP: "http://127.0.0.1:9222"}},
		{in: browserWS, want: cdp.Endpoint{HTTP: "http://127.0.0.1:9222", WS: browserWS}},
		{in: "wss://h:9443/devtools/browser/x", want: cdp.Endpoint{HTTP: "https://h:9443", WS: "wss://h:9443/devtools/browser/x"}},
		{in: "ws://127.0.0.1:9222", want: cdp.Endpoint{HTTP: "http://127.0.0.1:9222"}},
		{in: "ws://127.0.0.1:9222/", want: cdp.Endpoint{HTTP: "http://127.0.0.1:9222"}},

		{in: "", wantErr: "empty CDP endpoint"},
		{in: "   ", wantErr: "empty CDP endpoint"},
		{in: "localhost", wantErr: "no port"},
		{in: "localhost:abc", wantErr: "invalid CDP endpoint"},
		{in: "127.0.0.1:0", wantErr: "out of range"},
		{in: "127.0.0.1:70000", wantErr: "out of range"},
		{in: "ftp://127.0.0.1:9222", wantErr: "unsupported scheme"},
		{in: "http://:9222", wantErr: "no host"},
		{in: "http://127.0.0.1:9222/json/version", wantErr: "unexpected path"},
		{in: "http://127.0.0.1:9222?x=1", wantErr: "unexpected user, query or fragment"},
		{in: "http://user:pw@127.0.0.1:9222", wantErr: "unexpected user, query or fragment"},
		{in: "ws://127.0.0.1:9222/devtools/page/ABC", wantErr: "one page's WebSocket URL"},
		{in: "ws://127.0.0.1:9222/devtools/browser/", wantErr: "unexpected path"},
		{in: "ws://127.0.0.1:9222/devtools/browser/a/b", wantErr: "unexpected path"},
		{in: "ws://127.0.0.1:9222/elsewhere", wantErr: "unexpected path"},
		{in: "not a url at all", wantErr: "invalid CDP endpoint"},
		{in: "http://[::1", wantErr: "invalid CDP endpoint"},
	}
	for _, tt := range tests {
		got, err := cdp.ParseEndpoint(tt.in)
		if tt.wantErr != "" {
			if err == nil {
				t.Errorf("ParseEndpoint(%q) = %+v, want error containing %q", tt.in, got, tt.wantErr)
			} else if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseEndpoint(%q) error %q, want it to contain %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseEndpoint(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseEndpoint(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9222", "9222", "ws://h:1/devtools/browser/x", "[::1]:9", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ep, err := cdp.ParseEndpoint(s)
		if err == nil && !strings.HasPrefix(ep.HTTP, "http") {
			t.Fatalf("ParseEndpoint(%q) = %+v: HTTP is not an http URL", s, ep)
		}
	})
}
