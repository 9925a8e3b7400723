package codrive

import (
	"github.com/codrive/codrive/internal/roomlock"
	"github.com/codrive/codrive/neko"
)

// roomSettingsOf is the rule's view of neko's settings: the two a lock
// changes, and codrive's lock record (internal/roomlock) if there is one.
func roomSettingsOf(s neko.Settings) roomSettings {
	l, _ := roomlock.Of(s)
	return roomSettings{lockSettings: roomlock.SettingsOf(s), Lease: l}
}
