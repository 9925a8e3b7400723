package roomlock

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/neko"
)

// settingsAsNekoSendsThem round-trips a patch through JSON the way neko
// stores and returns plugin settings: values come back as maps.
func settingsAsNekoSendsThem(t *testing.T, p neko.SettingsPatch) neko.Settings {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var s neko.Settings
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLeaseRoundTrip(t *testing.T) {
	since := time.Date(2026, 11, 23, 17, 45, 1, 0, time.UTC)
	want := Lease{Owner: "codrive-x1Y2z", User: "codrive", Before: Settings{ImplicitHosting: true}, Since: since}
	s := settingsAsNekoSendsThem(t, LockPatch(want))
	if !s.LockedControls || s.ImplicitHosting {
		t.Fatalf("the lock patch does not lock: %+v", s)
	}
	got, err := Of(s)
	if err != nil || got == nil || *got != want {
		t.Fatalf("Of = %+v, %v; want %+v", got, err, want)
	}
	// The record's wire form is shared by every codrive version in a room.
	raw, _ := json.Marshal(s.Plugins[Key])
	if string(raw) != `{"before":{"implicit_hosting":true,"locked_controls":false},"owner":"codrive-x1Y2z","since":"2026-11-23T17:45:01Z","user":"codrive"}` {
		t.Fatalf("record on the wire: %s", raw)
	}
}

func TestOfRejectsForeignRecords(t *testing.T) {
	for _, v := range []any{"locked", map[string]any{"owner": ""}, map[string]any{"owner": 7}} {
		l, err := Of(neko.Settings{Plugins: map[string]any{Key: v}})
		if l != nil || err == nil || !strings.Contains(err.Error(), "not codrive's") {
			t.Errorf("%v: %+v, %v", v, l, err)
		}
	}
	if l, err := Of(neko.Settings{Plugins: map[string]any{Key: nil}}); l != nil || err != nil {
		t.Errorf("a cleared record (null): %+v, %v", l, err)
	}
}

// A restore puts back only what still holds the lock's value: an admin's
// change since the lock stays.
func TestRestoreOntoKeepsLaterChanges(t *testing.T) {
	before := &Settings{LockedControls: false, ImplicitHosting: true}
	if got := RestoreOnto(Settings{LockedControls: true}, before); got != *before {
		t.Errorf("untouched lock: %+v", got)
	}
	// An admin unlocked controls by hand and turned implicit hosting on.
	if got := RestoreOnto(Settings{ImplicitHosting: true}, &Settings{LockedControls: true}); got != (Settings{ImplicitHosting: true}) {
		t.Errorf("admin's changes overwritten: %+v", got)
	}
	if got := RestoreOnto(Settings{LockedControls: true}, nil); got != (Settings{LockedControls: true}) {
		t.Errorf("nothing known before: %+v", got)
	}
	p := RestorePatch(Settings{LockedControls: true}, before)
	if v, ok := p.Plugins[Key]; !ok || v != nil || *p.LockedControls || !*p.ImplicitHosting {
		t.Errorf("restore patch: %+v", p)
	}
}

func TestFindOrphan(t *testing.T) {
	s := settingsAsNekoSendsThem(t, LockPatch(Lease{Owner: "codrive-A", User: "codrive", Before: Settings{ImplicitHosting: true}}))
	live := []neko.SessionData{{ID: "codrive-A", State: neko.SessionState{IsConnected: true}}}
	if o, err := FindOrphan(s, live); o != nil || err != nil {
		t.Fatalf("a live codrive's lock is no orphan: %+v %v", o, err)
	}
	gone := []neko.SessionData{{ID: "codrive-A"}}
	o, err := FindOrphan(s, gone)
	if err != nil || o == nil || o.Owner != "codrive-A" || !o.ImplicitHosting || o.LockedControls {
		t.Fatalf("orphan: %+v %v", o, err)
	}
	if !strings.Contains(o.String(), "codrive session codrive-A (user codrive)") {
		t.Fatalf("orphan text: %s", o)
	}
}
