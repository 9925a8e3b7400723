package oneshot

import (
	"strings"
	"testing"

	"github.com/codrive/codrive/neko"
)

func TestResolveSession(t *testing.T) {
	s := func(id, name string, connected bool) neko.SessionData {
		return neko.SessionData{ID: id, Profile: neko.MemberProfile{Name: name}, State: neko.SessionState{IsConnected: connected}}
	}
	sessions := []neko.SessionData{
		s("alice-1", "alice", false), s("alice-2", "alice", true),
		s("bob-1", "bob", true), s("bob-2", "bob", true),
		s("carol-1", "carol", false),
	}
	for _, tc := range []struct {
		key, want, err string
	}{
		{key: "bob-2", want: "bob-2"},     // an id wins
		{key: "alice", want: "alice-2"},   // the one connected alice
		{key: "carol", want: "carol-1"},   // unique, even offline
		{key: "bob", err: "is ambiguous"}, // two connected bobs
		{key: "dave", err: `no session "dave"`},
	} {
		got, err := ResolveSession(sessions, tc.key)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %+v, %v; want error %q", tc.key, got.ID, err, tc.err)
		case tc.err == "" && (err != nil || got.ID != tc.want):
			t.Errorf("%s: %q, %v; want %q", tc.key, got.ID, err, tc.want)
		}
	}
}
