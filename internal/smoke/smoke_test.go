package smoke

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

func opts(srv *nekotest.Server, c *cdptest.Chromium) Options {
	return Options{
		NekoURL: srv.URL, User: "codrive", Password: "admin", UserPassword: "neko",
		CDPURL: c.URL, CheckTimeout: 20 * time.Second,
	}
}

func results(r Report) map[string]Check {
	m := map[string]Check{}
	for _, c := range r.Checks {
		m[c.Name] = c
	}
	return m
}

func TestSmokePassesAgainstNekotestAndChromium(t *testing.T) {
	c := cdptest.StartT(t, cdptest.Options{})
	initial := neko.DefaultSettings()
	initial.ImplicitHosting = true
	srv := nekotest.NewServer(nekotest.Options{Settings: &initial, ScreencastEnabled: true})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r := Run(ctx, opts(srv, c))
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !r.Passed {
		t.Fatalf("smoke failed:\n%s", table.String())
	}
	for _, ch := range r.Checks {
		if ch.Result != Pass {
			t.Errorf("%s: %s (%s)", ch.Name, ch.Result, ch.Detail)
		}
	}
	if got := results(r)[CheckNavigate].Detail; got != `title "codrive smoke", in its own tab` {
		t.Errorf("navigate detail %q", got)
	}
	if !strings.Contains(table.String(), "smoke PASSED: 13 passed, 0 failed, 0 skipped") {
		t.Errorf("table:\n%s", table.String())
	}
	// The room is as it was: no host, settings untouched, no session left.
	st := srv.State()
	if st.HasHost || !st.Settings.ImplicitHosting || st.Settings.LockedControls {
		t.Fatalf("room after smoke: %+v", st)
	}
	for _, s := range st.Sessions {
		if s.State.IsConnected {
			t.Errorf("session left connected: %s", s.ID)
		}
	}

	var junit bytes.Buffer
	if err := r.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	var parsed junitSuites
	if err := xml.Unmarshal(junit.Bytes(), &parsed); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, junit.String())
	}
	if s := parsed.Suites[0]; s.Tests != 13 || s.Failures != 0 || len(s.Cases) != 13 {
		t.Fatalf("JUnit suite: %+v", s)
	}
}

func TestSmokeReportsFailures(t *testing.T) {
	c := cdptest.StartT(t, cdptest.Options{})
	srv := nekotest.NewServer(nekotest.Options{})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("wrong password", func(t *testing.T) {
		o := opts(srv, c)
		o.Password = "not-the-password"
		r := Run(ctx, o)
		m := results(r)
		if r.Passed || m[CheckHealth].Result != Pass || m[CheckLogin].Result != Fail {
			t.Fatalf("report: %+v", r.Checks)
		}
		if !strings.Contains(m[CheckLogin].Detail, `wrong password for user "codrive"`) || strings.Contains(m[CheckLogin].Detail, "not-the-password") {
			t.Fatalf("login detail %q", m[CheckLogin].Detail)
		}
		for _, name := range []string{CheckInit, CheckControl, CheckHandoff, CheckNavigate} {
			if m[name].Result != Skip || !strings.Contains(m[name].Detail, "did not pass") {
				t.Errorf("%s: %+v", name, m[name])
			}
		}
		// Chromium is fine: its checks still ran.
		if m[CheckCDP].Result != Pass || m[CheckShot].Result != Pass {
			t.Errorf("chromium checks: %+v %+v", m[CheckCDP], m[CheckShot])
		}
		if m[CheckCast].Result != Skip {
			t.Errorf("cast without login: %+v", m[CheckCast])
		}
	})

	t.Run("chromium down", func(t *testing.T) {
		o := opts(srv, c)
		o.CDPURL = "http://127.0.0.1:1"
		r := Run(ctx, o)
		m := results(r)
		if r.Passed || m[CheckCDP].Result != Fail || !strings.Contains(m[CheckCDP].Detail, "--remote-debugging-port") {
			t.Fatalf("report: %+v", r.Checks)
		}
		if m[CheckAttach].Result != Skip || m[CheckNavigate].Result != Skip {
			t.Errorf("dependent checks: %+v %+v", m[CheckAttach], m[CheckNavigate])
		}
		// neko is fine: control, handoff and cleanup pass; cast is skipped
		// because the server has no screencast.
		for _, name := range []string{CheckLogin, CheckControl, CheckHandoff, CheckCleanup} {
			if m[name].Result != Pass {
				t.Errorf("%s: %+v", name, m[name])
			}
		}
		if m[CheckCast].Result != Skip || !strings.Contains(m[CheckCast].Detail, "not enabled") {
			t.Errorf("cast: %+v", m[CheckCast])
		}
		var junit bytes.Buffer
		if err := r.WriteJUnit(&junit); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(junit.String(), `<failure message=`) {
			t.Errorf("JUnit lacks the failure:\n%s", junit.String())
		}
		if _, has := srv.Host(); has {
			t.Error("a failed smoke left a host")
		}
	})
}

// Issue 12 items 8 and 10: smoke navigated the tab people watch (the room
// then showed its data: page); its JSON durations were nanoseconds and its
// JUnit had no timestamp or errors.
func TestSmokeLeavesTheWatchedPageAlone(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><title>the page people watch</title>")
	}))
	defer page.Close()
	c := cdptest.StartT(t, cdptest.Options{URL: page.URL + "/watched"})
	srv := nekotest.NewServer(nekotest.Options{})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := cdp.ListTargets(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}

	r := Run(ctx, opts(srv, c))
	if !r.Passed {
		t.Fatalf("smoke failed: %+v", r.Checks)
	}
	after, err := cdp.ListTargets(ctx, c.URL)
	if err != nil {
		t.Fatal(err)
	}
	pages := func(ts []cdp.Target) []string {
		var out []string
		for _, tg := range cdp.Pages(ts) {
			out = append(out, tg.ID+" "+tg.URL)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(pages(before), pages(after)) {
		t.Fatalf("pages before smoke %v, after %v", pages(before), pages(after))
	}
	if !slices.ContainsFunc(after, func(tg cdp.Target) bool { return tg.URL == page.URL+"/watched" }) {
		t.Fatalf("the watched page moved: %v", pages(after))
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Seconds *float64 `json:"seconds"`
		Started string   `json:"started"`
		Checks  []struct {
			Seconds  *float64 `json:"seconds"`
			Duration any      `json:"duration"`
		} `json:"checks"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil || doc.Seconds == nil || *doc.Seconds <= 0 || *doc.Seconds > 120 || doc.Started == "" {
		t.Fatalf("JSON: %v\n%s", err, js.String())
	}
	for _, ch := range doc.Checks {
		if ch.Seconds == nil || *ch.Seconds > 60 || ch.Duration != nil {
			t.Fatalf("a check's duration is not in seconds:\n%s", js.String())
		}
	}

	var junit bytes.Buffer
	if err := r.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Suites []struct {
			Timestamp string `xml:"timestamp,attr"`
			Errors    *int   `xml:"errors,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &parsed); err != nil || len(parsed.Suites) != 1 {
		t.Fatalf("JUnit: %v\n%s", err, junit.String())
	}
	s := parsed.Suites[0]
	if ts, err := time.Parse("2006-01-02T15:04:05", s.Timestamp); err != nil || ts.Sub(r.Started.UTC().Truncate(time.Second)).Abs() > time.Second {
		t.Errorf("JUnit timestamp %q (%v), started %v", s.Timestamp, err, r.Started)
	}
	if s.Errors == nil || *s.Errors != 0 {
		t.Errorf("JUnit errors attribute: %v\n%s", s.Errors, junit.String())
	}
}
