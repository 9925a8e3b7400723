package neko

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// payloadTypes is the contract of Event.Payload per known event name.
var payloadTypes = map[string]reflect.Type{
	EventSystemInit:       reflect.TypeFor[*SystemInit](),
	EventSystemAdmin:      reflect.TypeFor[*SystemAdmin](),
	EventSystemSettings:   reflect.TypeFor[*SystemSettingsUpdate](),
	EventSystemDisconnect: reflect.TypeFor[*SystemDisconnect](),
	EventControlHost:      reflect.TypeFor[*ControlHost](),
	EventControlRequest:   reflect.TypeFor[*SessionID](),
	EventSessionDeleted:   reflect.TypeFor[*SessionID](),
	EventSessionCreated:   reflect.TypeFor[*SessionData](),
	EventSessionState:     reflect.TypeFor[*SessionStateUpdate](),
	EventSessionProfile:   reflect.TypeFor[*SessionProfileUpdate](),
	EventSendUnicast:      reflect.TypeFor[*SendUnicast](),
	EventSendBroadcast:    reflect.TypeFor[*SendBroadcast](),
	EventScreenUpdated:    reflect.TypeFor[*ScreenSize](),
}

// readCorpus reads the seed corpus in Go's "go test fuzz v1" format.
func readCorpus(t *testing.T) map[string][]byte {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeFrame")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read seed corpus: %v", err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", 2)
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s: not a fuzz corpus file", e.Name())
		}
		lit := strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")")
		s, err := strconv.Unquote(lit)
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = []byte(s)
	}
	if len(out) < 20 {
		t.Fatalf("seed corpus has only %d entries", len(out))
	}
	return out
}

func TestDecodeFrameSeedCorpus(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for name, data := range readCorpus(t) {
		ev, err := decodeFrame(data, time.Unix(1, 0))
		switch {
		case strings.HasPrefix(name, "valid_"):
			if err != nil {
				t.Errorf("%s: unexpected error %v", name, err)
				continue
			}
			seen[ev.Name] = true
			if want, ok := payloadTypes[ev.Name]; ok {
				if got := reflect.TypeOf(ev.Payload); got != want {
					t.Errorf("%s: payload %v, want %v", name, got, want)
				}
			} else if ev.Payload != nil {
				t.Errorf("%s: unknown/heartbeat event got payload %T", name, ev.Payload)
			}
			if ev.Name != EventSystemHeartbeat && len(ev.Raw) == 0 {
				t.Errorf("%s: Raw is empty", name)
			}
		case strings.HasPrefix(name, "broken_"):
			if err == nil {
				t.Errorf("%s: decoded without error: %+v", name, ev)
				continue
			}
			var fe *frameError
			if !errors.As(err, &fe) {
				t.Errorf("%s: error %T is not a frameError", name, err)
			}
		}
	}
	for name := range payloadTypes {
		if !seen[name] {
			t.Errorf("seed corpus has no valid frame for %s", name)
		}
	}
}

func TestDecodeFrameErrorsNameTheEvent(t *testing.T) {
	t.Parallel()
	_, err := decodeFrame([]byte(`{"event":"control/host","payload":{"has_host":"yes"}}`), time.Now())
	if err == nil || !strings.Contains(err.Error(), "control/host") {
		t.Fatalf("err = %v, want it to name control/host", err)
	}
	_, err = decodeFrame([]byte(`<html>`), time.Now())
	if err == nil || !strings.Contains(err.Error(), "malformed frame") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeUnknownEventKeepsRaw(t *testing.T) {
	t.Parallel()
	ev, err := decodeFrame([]byte(`{"event":"plugin/x","payload":{"a":[1,2]}}`+"\n"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ev.Payload != nil || string(ev.Raw) != `{"a":[1,2]}` {
		t.Fatalf("got payload %v raw %s", ev.Payload, ev.Raw)
	}
}

func mustDecode(t *testing.T, frame string) Event {
	t.Helper()
	ev, err := decodeFrame([]byte(frame), time.Now())
	if err != nil {
		t.Fatalf("decode %s: %v", frame, err)
	}
	return ev
}

func TestRoomApply(t *testing.T) {
	t.Parallel()
	var r Room
	r.apply(mustDecode(t, `{"event":"system/init","payload":{"session_id":"me-1","control_host":{"has_host":true,"host_id":"a-1"},
		"screen_size":{"width":800,"height":600,"rate":25},"sessions":{"me-1":{"id":"me-1"},"a-1":{"id":"a-1"}},
		"settings":{"heartbeat_interval":7,"merciful_reconnect":true}}}`))
	if r.SessionID != "me-1" || r.Host.HostID != "a-1" || len(r.Sessions) != 2 || r.Settings.HeartbeatInterval != 7 || r.ScreenSize.Width != 800 {
		t.Fatalf("after init: %+v", r)
	}
	r.apply(mustDecode(t, `{"event":"control/host","payload":{"id":"me-1","has_host":true,"host_id":"me-1"}}`))
	r.apply(mustDecode(t, `{"event":"session/created","payload":{"id":"b-2","profile":{"name":"b"}}}`))
	r.apply(mustDecode(t, `{"event":"session/state","payload":{"id":"b-2","is_connected":true}}`))
	r.apply(mustDecode(t, `{"event":"session/profile","payload":{"id":"b-2","name":"bee","is_admin":true}}`))
	r.apply(mustDecode(t, `{"event":"session/deleted","payload":{"id":"a-1"}}`))
	r.apply(mustDecode(t, `{"event":"system/settings","payload":{"id":"x","locked_controls":true,"heartbeat_interval":3}}`))
	r.apply(mustDecode(t, `{"event":"screen/updated","payload":{"id":"x","width":1920,"height":1080,"rate":60}}`))
	r.apply(mustDecode(t, `{"event":"control/request","payload":{"id":"b-2"}}`))
	want := Room{
		SessionID: "me-1",
		Host:      ControlHost{ID: "me-1", HasHost: true, HostID: "me-1"},
		Sessions: map[string]SessionData{
			"me-1": {ID: "me-1"},
			"b-2": {ID: "b-2", Profile: MemberProfile{Name: "bee", IsAdmin: true},
				State: SessionState{IsConnected: true}},
		},
		Settings:   Settings{LockedControls: true, HeartbeatInterval: 3},
		ScreenSize: ScreenSize{Width: 1920, Height: 1080, Rate: 60},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("room\n got %+v\nwant %+v", r, want)
	}
	// A fresh init replaces everything, sessions included.
	r.apply(mustDecode(t, `{"event":"system/init","payload":{"session_id":"me-2","control_host":{"has_host":false},"sessions":{"me-2":{"id":"me-2"}}}}`))
	if r.SessionID != "me-2" || r.Host.HasHost || len(r.Sessions) != 1 || r.Settings.LockedControls {
		t.Fatalf("after second init: %+v", r)
	}
	c := r.clone()
	c.Sessions["zz"] = SessionData{}
	if _, ok := r.Sessions["zz"]; ok {
		t.Fatal("clone shares the sessions map")
	}
}

func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"event":"control/host","payload":{"id":"a","has_host":true,"host_id":"a"}}`))
	f.Add([]byte(`{"event":"system/heartbeat"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decodeFrame(data, time.Unix(0, 0))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if ev.Name == "" {
			t.Fatal("decoded an event without a name")
		}
		if want, ok := payloadTypes[ev.Name]; ok && reflect.TypeOf(ev.Payload) != want {
			t.Fatalf("%s: payload %T", ev.Name, ev.Payload)
		}
		// Applying any decodable frame to any room must not panic either.
		var empty Room
		empty.apply(ev)
		full := Room{Sessions: map[string]SessionData{"a": {ID: "a"}}}
		full.apply(ev)
		_ = full.clone()
		// Whatever decoded must re-encode (the Raw is passed on to others).
		if len(ev.Raw) > 0 && !json.Valid(bytes.TrimSpace(ev.Raw)) {
			t.Fatalf("raw payload is not valid JSON: %q", ev.Raw)
		}
	})
}
