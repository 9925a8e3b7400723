package e2e

import (
	"strings"
	"testing"

	"github.com/codrive/codrive/internal/nekoserver"
)

// codrive smoke --viewer: a person's WebRTC viewer receives video from real
// neko (nekotest has none), and a neko advertising an address nobody can
// reach (a NEKO_WEBRTC_NAT1TO1 mistake) fails that check alone, saying so.
func TestSmokeViewer(t *testing.T) {
	t.Run(string(nekoserver.KindNeko), func(t *testing.T) {
		requireRealNeko(t)
		t.Parallel()
		t.Run("works", func(t *testing.T) {
			t.Parallel()
			srv := nekoserver.Start(t, nekoserver.KindNeko, nekoserver.Options{})
			c := chromium(t, "")
			code, out, errOut := runCodrive(t, srv, c.URL, "smoke", "--viewer", "--user-password", nekoserver.UserPassword)
			if code != 0 || !strings.Contains(out, "smoke PASSED") || !viewerRow(out, "frames") {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			t.Logf("\n%s", out)
		})
		t.Run("unreachable_candidates", func(t *testing.T) {
			t.Parallel()
			srv := nekoserver.Start(t, nekoserver.KindNeko, nekoserver.Options{Env: []string{"NEKO_WEBRTC_NAT1TO1=127.0.0.2"}})
			c := chromium(t, "")
			code, out, errOut := runCodrive(t, srv, c.URL, "smoke", "--viewer", "--check-timeout", "8s", "--user-password", nekoserver.UserPassword)
			if code != 1 || !strings.Contains(out, "1 failed") || !viewerRow(out, "127.0.0.2") {
				t.Fatalf("exit %d, want 1 with the viewer check failing on neko's candidates\n%s%s", code, out, errOut)
			}
		})
	})
}

// viewerRow reports whether the webrtc viewer row of smoke's table holds s.
func viewerRow(out, s string) bool {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "webrtc viewer") && strings.Contains(line, s) {
			return true
		}
	}
	return false
}
