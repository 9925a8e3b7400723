package neko

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// The comeback bound the defaults promise (ConnOptions.ReconnectMax): with
// no option set, no wait between two probes exceeds 1s and no probe waits
// more than 1s for an answer, whatever the attempt number, so neko answering
// again is noticed within about 1s and well inside its 5s delayed
// disconnect. The dial follows a successful probe without any delay
// (TestConnProbesFrozenNekoBeforeDialing).
func TestDefaultScheduleBound(t *testing.T) {
	t.Parallel()
	o := ConnOptions{}.withDefaults(slog.New(slog.DiscardHandler))
	if o.ReconnectMax != time.Second {
		t.Fatalf("default ReconnectMax = %v", o.ReconnectMax)
	}
	if p := min(healthProbeTimeout, o.InitTimeout); p > time.Second {
		t.Fatalf("probe timeout %v", p)
	}
	for attempt := 1; attempt < 1000; attempt++ {
		if d := backoff(attempt, o.ReconnectMin, o.ReconnectMax); d > time.Second || d <= 0 {
			t.Fatalf("attempt %d waits %v", attempt, d)
		}
	}
}

// The probe asks whether anything answers HTTP: a proxy that does not route
// /health must not keep the Conn from dialing, a gateway whose neko is down
// must.
func TestProbeAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		body   string
		up     bool
	}{
		{http.StatusOK, "true", true},
		{http.StatusOK, "<html>not neko</html>", true},
		{http.StatusNotFound, "404 page not found", true},
		{http.StatusUnauthorized, `{"message":"proxy login"}`, true},
		{http.StatusInternalServerError, "oops", true},
		{http.StatusBadGateway, "bad gateway", false},
		{http.StatusServiceUnavailable, "", false},
		{http.StatusGatewayTimeout, "", false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/prefix/health" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.body))
		}))
		c, err := NewClient(srv.URL+"/prefix", Options{})
		if err != nil {
			t.Fatal(err)
		}
		cn := &Conn{client: c, opts: ConnOptions{}.withDefaults(c.log), ctx: context.Background()}
		err = cn.probe()
		srv.Close()
		if tc.up && err != nil {
			t.Errorf("%d: probe = %v, want neko answering", tc.status, err)
		}
		if !tc.up && !errors.Is(err, ErrUnreachable) {
			t.Errorf("%d: probe = %v, want ErrUnreachable", tc.status, err)
		}
	}
}
