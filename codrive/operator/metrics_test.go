package operator_test

import (
	"context"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
)

// scrape reads /metrics with Prometheus's own text parser: anything it
// cannot parse fails the test.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := call(t, "GET", base+"/metrics", "", "Accept", "text/plain;version=0.0.4")
	if code != 200 {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

// value is a metric's value (a histogram's count) for the labels given
// as name, value pairs; -1 when there is no such series.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// Done-when of issue 13: /metrics parses with the Prometheus text parser
// and its counters move through one handoff, with a person's request and a
// script's command held on the way.
func TestMetricsMoveThroughOneHandoff(t *testing.T) {
	t.Parallel()
	r := newRig(t, operator.Options{}, nil)
	before := scrape(t, r.http.URL)
	for _, name := range []string{"codrive_ready", "codrive_handoffs_total", "codrive_hold_duration_seconds", "codrive_proxy_command_duration_seconds"} {
		if value(before, name) < 0 {
			t.Fatalf("no %s before anything happened: %v", name, slices.Sorted(maps.Keys(before)))
		}
	}
	if got := value(before, "codrive_ready"); got != 1 {
		t.Fatalf("codrive_ready = %v after Attach", got)
	}

	if code, body := call(t, "POST", r.http.URL+"/codrive/request", ""); code != 200 || status(t, body).State != codrive.StateAutomation {
		t.Fatalf("request: %d %s", code, body)
	}
	// A person asks while automation hosts: policy yield hands over.
	alice := person(t, r.srv, "alice", "neko")
	if _, err := alice.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitState(t, r.s, "alice hosts", func(st codrive.Status) bool { return st.State == codrive.StateHuman })
	if err := alice.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitState(t, r.s, "automation back", func(st codrive.Status) bool { return st.State == codrive.StateAutomation })

	// The handoff, over HTTP, with a script's acting command held in it.
	page, err := r.s.Chromedp(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer page.Detach()
	type answer struct {
		code int
		body string
	}
	handoff := make(chan answer, 1)
	go func() {
		code, body := call(t, "POST", r.http.URL+"/codrive/handoff", `{"reason":"captcha","timeout":"25s"}`)
		handoff <- answer{code, body}
	}()
	waitState(t, r.s, "handoff released control", func(st codrive.Status) bool {
		return st.Handoff == "captcha" && st.State == codrive.StateFree
	})
	held := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(page.Context(), testTimeout)
		defer cancel()
		_, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title = "after the handoff"`))
		held <- err
	}()
	eventually(t, "the script's command held", func() bool { return r.s.ProxyStats().Held == 1 })
	during := scrape(t, r.http.URL)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"codrive_held_commands", nil, 1},
		{"codrive_gate", []string{"gate", "handoff"}, 1},
		{"codrive_gate", []string{"gate", "open"}, 0},
		{"codrive_state", []string{"state", "free"}, 1},
		{"codrive_proxy_connections", nil, 1},
	} {
		if got := value(during, c.name, c.labels...); got != c.want {
			t.Errorf("during the handoff %s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	if _, err := alice.RequestControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitState(t, r.s, "alice took the handoff", func(st codrive.Status) bool { return st.State == codrive.StateHuman })
	if err := alice.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-handoff:
		if a.code != 200 || status(t, a.body).Handoff != "" {
			t.Fatalf("handoff: %d %s", a.code, a.body)
		}
	case <-time.After(testTimeout):
		t.Fatal("POST /codrive/handoff never returned")
	}
	select {
	case err := <-held:
		if err != nil {
			t.Fatalf("the held command: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("the held command never completed")
	}
	waitState(t, r.s, "automation back", func(st codrive.Status) bool { return st.State == codrive.StateAutomation && st.Go })

	after := scrape(t, r.http.URL)
	moved := func(name string, labels ...string) float64 {
		return value(after, name, labels...) - value(before, name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"codrive_handoffs_total", []string{"outcome", "completed"}, 1},
		{"codrive_handoffs_total", []string{"outcome", "timed_out"}, 0},
		{"codrive_control_requests_total", []string{"outcome", "yielded"}, 1},
		{"codrive_held_commands_total", []string{"outcome", "released"}, 1},
		{"codrive_hold_duration_seconds", nil, 1},
		{"codrive_proxy_connections_total", nil, 1},
	} {
		if got := moved(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if moved("codrive_paused_seconds_total") <= 0 {
		t.Errorf("codrive_paused_seconds_total did not grow through a handoff: %v", value(after, "codrive_paused_seconds_total"))
	}
	// The held command is an evaluation with a side effect.
	if moved("codrive_proxy_command_duration_seconds", "class", "evaluating") < 1 {
		t.Error("the held evaluation's answer time was not observed")
	}
	if moved("codrive_proxy_command_duration_seconds", "class", "observing") < 1 {
		t.Error("no observing command's answer time was observed (chromedp's attach sends several)")
	}
	if moved("codrive_proxy_commands_total") < 1 {
		t.Error("codrive_proxy_commands_total did not move")
	}
	if got := value(after, "codrive_held_commands"); got != 0 {
		t.Errorf("codrive_held_commands = %v after the hold", got)
	}
	// The histogram's sum covers the hold, which lasted the person's turn.
	hold := after["codrive_hold_duration_seconds"].GetMetric()[0].GetHistogram()
	if hold.GetSampleSum() <= 0 {
		t.Errorf("hold duration sum %v", hold.GetSampleSum())
	}
}

// eventually polls cond until it holds, failing the test after
// testTimeout. For state only visible by polling (proxy counters).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s after %v", what, testTimeout)
		}
		<-tick.C
	}
}

// Every metric is documented, in the package doc and in the README's
// metrics table, with its type; none is documented that does not exist.
func TestEveryMetricIsDocumented(t *testing.T) {
	t.Parallel()
	r := newRig(t, operator.Options{}, nil)
	fams := scrape(t, r.http.URL)
	var names []string
	for name, f := range fams {
		if strings.HasPrefix(name, "codrive_") {
			names = append(names, name+" "+strings.ToLower(f.GetType().String()))
		}
	}
	slices.Sort(names)
	docs := map[string]string{"doc.go": "", "../../README.md": ""}
	for path := range docs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs[path] = string(b)
	}
	// doc.go lines: "//	codrive_NAME{labels}   TYPE   text"; README rows:
	// "| `codrive_NAME{labels}` | TYPE | text |".
	row := regexp.MustCompile("(?m)^(?://\\s+|\\|\\s*`)(codrive_[a-z_]+)(?:\\{[a-z,]+\\})?`?\\s+\\|?\\s*(gauge|counter|histogram)\\b")
	for path, text := range docs {
		var documented []string
		for _, m := range row.FindAllStringSubmatch(text, -1) {
			documented = append(documented, m[1]+" "+m[2])
		}
		slices.Sort(documented)
		documented = slices.Compact(documented)
		for _, n := range names {
			if !slices.Contains(documented, n) {
				t.Errorf("%s: metric %q (name and type) is not documented", path, n)
			}
		}
		for _, d := range documented {
			if !slices.Contains(names, d) {
				t.Errorf("%s documents %q, which /metrics does not serve", path, d)
			}
		}
	}
}
