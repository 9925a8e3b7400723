package eventfmt

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/codrive"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// The shapes `codrive attach` prints, one per event: --json and text. The
// JSON is codrive.Event's own: the golden file pins the library's JSON
// form as much as the command's output.
func TestEventGolden(t *testing.T) {
	at := time.Date(2026, 11, 23, 17, 45, 1, 0, time.UTC)
	ev := codrive.Event{
		Time: at, Kind: codrive.EventState, Actor: "alice-Ab3dE", ActorName: "alice",
		Reason: "alice (alice-Ab3dE) asked for control (policy yield)",
		Status: codrive.Status{
			State: codrive.StateHuman, Host: "alice-Ab3dE", HostName: "alice", Since: at,
			Reason: "alice (alice-Ab3dE) asked for control (policy yield)", Session: "codrive-x1Y2z",
			Policy: codrive.PolicyYield, Gate: codrive.GateWaiting, Pending: []codrive.PendingRequest{{ID: "bob-Qw3rT", Name: "bob", Since: at}},
		},
		Page: &codrive.PageInfo{TargetID: "C911F93F3911D61DE9B688EE58D5CCFF", URL: "https://example.com/", Title: "Example", Attached: true},
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, ev); err != nil {
		t.Fatal(err)
	}
	golden(t, "event.json", js.Bytes())
	golden(t, "event.txt", []byte(Line(ev)+"\n"))
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("..", "..", "testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file (go test ./internal/eventfmt -run Golden -update creates it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the golden file\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// Issue 12 item 11: names, reasons and URLs come from neko and the page;
// the plain lines printed them as they were, escapes and tokens included.
func TestLineSanitises(t *testing.T) {
	ev := codrive.Event{
		Time: time.Date(2026, 11, 23, 17, 45, 1, 0, time.UTC), Kind: codrive.EventRequest,
		Reason: "mallory\x1b]0;pwned\x07 asked\nfor control",
		Status: codrive.Status{State: codrive.StateHuman, Host: "m-1", HostName: "mal\x1b[2Jlory\u009b31m"},
		Page:   &codrive.PageInfo{URL: "https://shop.test/pay?token=s3cret#frag\x1b[1m", Attached: true},
	}
	line := Line(ev)
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\n", "s3cret", "frag"} {
		if strings.Contains(line, bad) {
			t.Errorf("line contains %q: %q", bad, line)
		}
	}
	if !strings.Contains(line, "page https://shop.test/pay") || !strings.Contains(line, "[request]") {
		t.Errorf("line %q", line)
	}
}

// Issue 12 item 12: the page is named when it changes, not on every line.
func TestPrinterNamesThePageWhenItChanges(t *testing.T) {
	at := time.Date(2026, 11, 23, 17, 45, 1, 0, time.UTC)
	ev := func(url string, attached bool) codrive.Event {
		return codrive.Event{Time: at, Kind: codrive.EventState, Status: codrive.Status{State: codrive.StateFree},
			Page: &codrive.PageInfo{URL: url, Attached: attached}}
	}
	var p Printer
	var got []bool
	for _, e := range []codrive.Event{ev("https://a.test/", true), ev("https://a.test/", true), ev("https://b.test/", true),
		ev("https://b.test/", true), ev("https://b.test/", false), ev("https://b.test/", true)} {
		got = append(got, strings.Contains(p.Line(e), "| page"))
	}
	if want := []bool{true, false, true, false, true, true}; !slices.Equal(got, want) {
		t.Fatalf("page shown %v, want %v", got, want)
	}
}

func TestAge(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		-time.Second:                  "0s",
		45 * time.Second:              "45s",
		3*time.Minute + 7*time.Second: "3m07s",
		2*time.Hour + 5*time.Minute:   "2h05m",
		76 * time.Hour:                "3d04h",
	} {
		if got := Age(d); got != want {
			t.Errorf("Age(%s) = %q, want %q", d, got, want)
		}
	}
}
