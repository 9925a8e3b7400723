package cdpproxy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for method, want := range map[string]Class{
		// acting
		"Input.dispatchMouseEvent":    Acting,
		"Input.insertText":            Acting,
		"Page.navigate":               Acting,
		"Page.reload":                 Acting,
		"Page.navigateToHistoryEntry": Acting,
		"Page.handleJavaScriptDialog": Acting,
		"DOM.setAttributeValue":       Acting,
		"DOM.setOuterHTML":            Acting,
		"DOM.removeNode":              Acting,
		"DOM.setFileInputFiles":       Acting,
		"DOM.focus":                   Acting,
		"DOM.scrollIntoViewIfNeeded":  Acting,
		"Browser.close":               Acting,
		"Target.closeTarget":          Acting,
		"Target.createTarget":         Acting,
		"Runtime.runScript":           Acting,
		"Debugger.pause":              Acting,
		"Overlay.highlightNode":       Acting, // not listed: the default
		"Foo.bar":                     Acting, // unknown domain
		"nodot":                       Acting,
		// evaluating
		"Runtime.evaluate":       Evaluating,
		"Runtime.callFunctionOn": Evaluating,
		// observing / set-up
		"Target.setAutoAttach":                  Observing,
		"Target.setDiscoverTargets":             Observing,
		"Target.attachToTarget":                 Observing,
		"Target.getTargetInfo":                  Observing,
		"Page.enable":                           Observing,
		"Overlay.enable":                        Observing, // *.enable
		"Fetch.disable":                         Observing, // *.disable
		"Browser.getVersion":                    Observing,
		"Page.getFrameTree":                     Observing,
		"Page.captureScreenshot":                Observing,
		"Page.startScreencast":                  Observing,
		"Page.screencastFrameAck":               Observing,
		"DOM.getDocument":                       Observing,
		"DOM.describeNode":                      Observing,
		"DOM.querySelectorAll":                  Observing,
		"Runtime.runIfWaitingForDebugger":       Observing,
		"Page.addScriptToEvaluateOnNewDocument": Observing,
		"Page.createIsolatedWorld":              Observing,
		"Page.setFontFamilies":                  Observing,
		"Network.setExtraHTTPHeaders":           Observing,
		"Fetch.continueRequest":                 Observing,
		"Log.clear":                             Observing,
		"Performance.getMetrics":                Observing,
		"Emulation.setDeviceMetricsOverride":    Observing,
		// local
		"Codrive.getState": Local,
		"Codrive.whatever": Local,
	} {
		if got := Classify(method); got != want {
			t.Errorf("Classify(%q) = %v, want %v", method, got, want)
		}
	}
}

// TestGateTableComplete checks that every entry names a method or a rule in
// the expected shape, so a typo cannot silently fall back to acting.
func TestGateTableShape(t *testing.T) {
	t.Parallel()
	for key := range gate {
		domain, name, ok := strings.Cut(key, ".")
		if !ok || domain == "" || name == "" || strings.Contains(name, ".") {
			t.Errorf("gate entry %q: want Domain.method, Domain.* or *.method", key)
		}
		if domain == "*" && name == "*" {
			t.Errorf("gate entry %q matches everything", key)
		}
	}
}

func TestRewriteURLs(t *testing.T) {
	t.Parallel()
	if got := rewriteWSURL("ws://127.0.0.1:9222/devtools/page/AB", "localhost:7000", ""); got != "ws://localhost:7000/devtools/page/AB" {
		t.Errorf("ws: %s", got)
	}
	if got := rewriteWSURL("ws://127.0.0.1:9222/devtools/browser/x", "127.0.0.1:7000", "token=a%2Bb"); got != "ws://127.0.0.1:7000/devtools/browser/x?token=a%2Bb" {
		t.Errorf("ws with token: %s", got)
	}
	fe := "https://chrome-devtools-frontend.appspot.com/serve_rev/@abc/inspector.html?ws=127.0.0.1:9222/devtools/page/AB"
	if got := rewriteFrontendURL(fe, "127.0.0.1:7000", ""); got != "https://chrome-devtools-frontend.appspot.com/serve_rev/@abc/inspector.html?ws=127.0.0.1:7000/devtools/page/AB" {
		t.Errorf("frontend: %s", got)
	}
	if got := rewriteFrontendURL("/devtools/inspector.html?experiments=true&ws=localhost:9222/devtools/page/AB", "127.0.0.1:7000", "token=t"); got != "/devtools/inspector.html?experiments=true&ws=127.0.0.1:7000/devtools/page/AB%3Ftoken=t" {
		t.Errorf("relative frontend with token: %s", got)
	}
	// Anything unexpected is left alone.
	for _, body := range []string{"", "null", "not json", `[1,2]`} {
		if got := string(rewriteTargets([]byte(body), "h:1", "")); got != body {
			t.Errorf("rewriteTargets(%q) = %q", body, got)
		}
	}
	var v map[string]any
	if err := json.Unmarshal(rewriteTargets([]byte(`{"a":1}`), "h:1", ""), &v); err != nil || v["a"] != 1.0 {
		t.Errorf("rewriteTargets of an object without URLs: %v %v", v, err)
	}
}

func TestCloseReason(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 100) // 200 bytes
	got := closeReason(long)
	if len(got) > 123 || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") {
		t.Errorf("closeReason: %d bytes, valid %v: %q", len(got), utf8.ValidString(got), got)
	}
	if closeReason("short") != "short" {
		t.Error("short reason changed")
	}
}

func TestObjectContext(t *testing.T) {
	t.Parallel()
	if id, ok := objectContext("-4338432701683214275.3.17"); !ok || id != 3 {
		t.Errorf("got %d %v", id, ok)
	}
	for _, bad := range []string{"", "1.2", `{"injectedScriptId":1,"id":2}`, "a.b.c"} {
		if _, ok := objectContext(bad); ok {
			t.Errorf("objectContext(%q) ok", bad)
		}
	}
}

func TestHoldMessage(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 1, 2, 15, 4, 5, 0, time.Local)
	st := Status{State: StateHuman, Host: "bob-1", HostName: "Bob", Since: since}
	if got := holdMessage(st, "Input.dispatchMouseEvent", 10*time.Minute+300*time.Millisecond, nil, ""); got != "codrive: a person holds control (session Bob) since 15:04:05; command Input.dispatchMouseEvent held 10m0s" {
		t.Errorf("human: %s", got)
	}
	st.HostName = ""
	if got := holdMessage(st, "Page.navigate", 250*time.Millisecond, nil, ""); !strings.Contains(got, "(session bob-1)") || !strings.HasSuffix(got, "held 250ms") {
		t.Errorf("no display name: %s", got)
	}
	for _, s := range []Status{{State: StatePaused}, {State: StateDisconnected}, {State: StateFree}, {State: "weird"}} {
		if got := holdMessage(s, "Input.insertText", time.Second, nil, ""); !strings.HasPrefix(got, "codrive: ") || !strings.Contains(got, "Input.insertText held 1s") {
			t.Errorf("%s: %s", s.State, got)
		}
	}
	if got := holdMessage(st, "Input.insertText", time.Second, errors.New("arbiter closed"), ""); !strings.Contains(got, "not sent: arbiter closed") {
		t.Errorf("other error: %s", got)
	}
}

func TestSpeculationHelpers(t *testing.T) {
	t.Parallel()
	h := header{id: 7, idOK: true, method: "Runtime.evaluate", session: "S"}
	b, err := withThrowOnSideEffect(&h, []byte(`{"expression":"1<2","userGesture":true}`), 12)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID        int64          `json:"id"`
		SessionID string         `json:"sessionId"`
		Params    map[string]any `json:"params"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.ID != 12 || m.SessionID != "S" || m.Params["throwOnSideEffect"] != true || m.Params["expression"] != "1<2" || m.Params["userGesture"] != nil {
		t.Fatalf("%s %v", b, err)
	}
	if _, err := withThrowOnSideEffect(&header{}, []byte(`[1]`), 1); err == nil {
		t.Error("array params: no error")
	}
	for resp, want := range map[string]bool{
		`{"id":-1,"result":{"result":{"type":"number","value":1}}}`:                                                                                                     true,
		`{"id":-1,"result":{"result":{},"exceptionDetails":{"exception":{"className":"TypeError","description":"TypeError: x"}}}}`:                                      true,
		`{"id":-1,"result":{"result":{},"exceptionDetails":{"exception":{"className":"EvalError","description":"EvalError: Possible side-effect in debug-evaluate"}}}}`: false,
		`{"id":-1,"error":{"code":-32602,"message":"Invalid parameters"}}`:                                                                                              false,
		`garbage`: false,
	} {
		if got := speculationPassed([]byte(resp)); got != want {
			t.Errorf("speculationPassed(%s) = %v", resp, got)
		}
	}
}
