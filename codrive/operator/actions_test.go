package operator_test

import (
	"strings"
	"testing"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/operator"
)

// The control actions the fleet view uses, each with the status code that
// fits what happened.
func TestActions(t *testing.T) {
	t.Parallel()
	r := newRig(t, operator.Options{}, nil)
	u := r.http.URL + "/codrive/"
	alice := person(t, r.srv, "alice", "neko")

	code, body := call(t, "POST", u+"request", `{"timeout": 20}`)
	if code != 200 || status(t, body).State != codrive.StateAutomation {
		t.Fatalf("request: %d %s", code, body)
	}
	code, body = call(t, "POST", u+"give", `{"to":"alice"}`)
	if st := status(t, body); code != 200 || st.State != codrive.StateHuman || st.Host != alice.SessionID() {
		t.Fatalf("give to alice by name: %d %s", code, body)
	}
	// A person hosts and codrive does not steal: the request times out.
	code, body = call(t, "POST", u+"request", `{"timeout":"300ms"}`)
	if code != 504 || !strings.Contains(body, "alice") || !strings.Contains(body, "300ms") {
		t.Fatalf("request while alice hosts: %d %s", code, body)
	}
	code, body = call(t, "POST", u+"take", "")
	if code != 200 || status(t, body).State != codrive.StateAutomation {
		t.Fatalf("take (admin): %d %s", code, body)
	}
	code, body = call(t, "POST", u+"give", `{"to":"`+alice.SessionID()+`"}`)
	if code != 200 || status(t, body).Host != alice.SessionID() {
		t.Fatalf("give to alice by id: %d %s", code, body)
	}
	if code, body = call(t, "POST", u+"take", ""); code != 200 {
		t.Fatalf("take back: %d %s", code, body)
	}
	code, body = call(t, "POST", u+"release", "")
	if code != 200 || status(t, body).State != codrive.StateFree {
		t.Fatalf("release: %d %s", code, body)
	}

	// Nobody takes a short handoff: 504, counted as timed out.
	code, body = call(t, "POST", u+"handoff", `{"reason":"look at this","timeout":"200ms"}`)
	if code != 504 {
		t.Fatalf("handoff nobody takes: %d %s", code, body)
	}
	if got := value(scrape(t, r.http.URL), "codrive_handoffs_total", "outcome", "timed_out"); got != 1 {
		t.Errorf("handoffs_total{timed_out} = %v", got)
	}

	for _, c := range []struct {
		path, body string
		want       int
		says       string
	}{
		{"give", "", 400, "SESSION-ID or NAME"},
		{"give", `{"to":"nobody"}`, 404, "nobody"},
		{"give", `{"to":"codrive"}`, 404, "codrive"}, // its own session is no one to give to
		{"pause", `{"bogus":1}`, 400, "bogus"},
		{"pause", `not json`, 400, "JSON"},
		{"request", `{"timeout":"-1s"}`, 400, "timeout"},
		{"request", `{"timeout":"soon"}`, 400, "timeout"},
		{"request", `{"timeout":0}`, 400, "timeout"},
	} {
		code, body := call(t, "POST", u+c.path, c.body)
		if code != c.want || !strings.Contains(body, c.says) {
			t.Errorf("POST %s %s: %d %s; want %d saying %s", c.path, c.body, code, body, c.want, c.says)
		}
	}
	if code, _ := call(t, "GET", u+"take", ""); code != 405 {
		t.Errorf("GET /codrive/take: %d, want 405", code)
	}
}

// neko forbids a user profile to take control: the action says so with
// 403, not as a generic failure.
func TestTakeNeedsAnAdmin(t *testing.T) {
	t.Parallel()
	r := newRig(t, operator.Options{}, func(o *codrive.Options) { o.Password = "neko" })
	code, body := call(t, "POST", r.http.URL+"/codrive/take", "")
	if code != 403 {
		t.Fatalf("take with a user login: %d %s", code, body)
	}
}
