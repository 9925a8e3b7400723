package codrive

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/codrive/codrive/neko"
)

// Policy locked changes two room settings; if codrive died with them
// changed (kill -9, a lost machine), nothing it kept in memory could put them
// back. So the lock carries its own record, in the room itself: the plugin
// setting "codrive.lock" (LeaseKey) names the codrive session that locked and
// the exact values from before. neko keeps any "plugin.setting" key
// (pkg/types/plugins.go) and merges a settings POST over the current
// settings (internal/api/room/settings.go), so one POST both locks and
// records, and one both restores and clears. Every codrive sees the record,
// on any machine; a neko restart clears the lock and the record together.
//
// A record whose owner is not a connected session is an orphan: the next
// codrive with an admin login (attach with any policy, control reset)
// restores the recorded values exactly and says so; status reports it. A
// still-connected codrive's lock is never undone by another. neko keeps a
// crashed client's session connected for its 5 s delayed-disconnect window,
// so an orphan shows up at most that long after the crash.

// LeaseKey is the neko plugin setting that holds codrive's lock record.
const LeaseKey = "codrive.lock"

// lockLease is codrive's lock record in the room.
type lockLease struct {
	Owner  string       `json:"owner"` // neko session id of the codrive that locked
	User   string       `json:"user,omitempty"`
	Before lockSettings `json:"before"`
	Since  time.Time    `json:"since"`
}

// leaseOf reads the lock record from room settings: nil when there is none
// (or neko's null after a restore). A record that does not decode is
// reported, not trusted.
func leaseOf(s neko.Settings) (*lockLease, error) {
	v, ok := s.Plugins[LeaseKey]
	if !ok || v == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("codrive: lock record %s: %w", LeaseKey, err)
	}
	var l lockLease
	if err := json.Unmarshal(raw, &l); err != nil || l.Owner == "" {
		return nil, fmt.Errorf("codrive: lock record %s is not codrive's: %s", LeaseKey, raw)
	}
	return &l, nil
}

// roomSettingsOf is the rule's view of neko's settings.
func roomSettingsOf(s neko.Settings) roomSettings {
	l, _ := leaseOf(s)
	return roomSettings{
		lockSettings: lockSettings{LockedControls: s.LockedControls, ImplicitHosting: s.ImplicitHosting},
		Lease:        l,
	}
}

// lockPatch locks the room and records the lease in one POST.
func lockPatch(l lockLease) neko.SettingsPatch {
	on, off := true, false
	return neko.SettingsPatch{
		LockedControls:  &on,
		ImplicitHosting: &off,
		Plugins:         map[string]any{LeaseKey: l},
	}
}

// restoreOnto is the room after restoring before onto cur: a setting goes
// back only while it still holds the value the lock gave it. One someone
// changed since (an admin unlocking by hand) is theirs, and stays.
func restoreOnto(cur lockSettings, before *lockSettings) lockSettings {
	if before == nil {
		return cur
	}
	if cur.LockedControls {
		cur.LockedControls = before.LockedControls
	}
	if !cur.ImplicitHosting {
		cur.ImplicitHosting = before.ImplicitHosting
	}
	return cur
}

// restorePatch restores before onto cur (see restoreOnto) and clears the
// lease, in one POST. neko has no compare-and-set: between reading cur and
// this POST (a round trip) an admin's change can still be overwritten.
func restorePatch(cur lockSettings, before *lockSettings) neko.SettingsPatch {
	p := neko.SettingsPatch{Plugins: map[string]any{LeaseKey: nil}}
	if before != nil {
		to := restoreOnto(cur, before)
		p.LockedControls, p.ImplicitHosting = &to.LockedControls, &to.ImplicitHosting
	}
	return p
}

// OrphanLock describes a room lock left by a codrive session that is gone.
type OrphanLock struct {
	// Owner is the neko session id of the codrive that locked the room.
	Owner string `json:"owner"`
	// User is its neko user name.
	User string `json:"user,omitempty"`
	// Since is when it locked the room.
	Since time.Time `json:"since"`
	// LockedControls and ImplicitHosting are the values before the lock,
	// which a restore writes back.
	LockedControls  bool `json:"lockedControls"`
	ImplicitHosting bool `json:"implicitHosting"`
}

func (o OrphanLock) String() string {
	return fmt.Sprintf("room locked by codrive session %s (user %s) since %s, which is gone; before the lock: locked_controls=%v, implicit_hosting=%v",
		o.Owner, o.User, o.Since.Format(time.RFC3339), o.LockedControls, o.ImplicitHosting)
}

// findOrphan returns the room's lock record if its owner is not a connected
// session.
func findOrphan(s neko.Settings, sessions []neko.SessionData) (*OrphanLock, error) {
	l, err := leaseOf(s)
	if l == nil {
		return nil, err
	}
	for _, sd := range sessions {
		if sd.ID == l.Owner && sd.State.IsConnected {
			return nil, nil
		}
	}
	return &OrphanLock{Owner: l.Owner, User: l.User, Since: l.Since,
		LockedControls: l.Before.LockedControls, ImplicitHosting: l.Before.ImplicitHosting}, nil
}
