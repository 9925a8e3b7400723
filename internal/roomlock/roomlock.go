// Package roomlock is codrive's crash-safe record of a room lock, kept in
// the neko room itself.
//
// Policy locked changes two room settings; if codrive died with them
// changed (kill -9, a lost machine), nothing it kept in memory could put them
// back. So the lock carries its own record, in the room: the plugin setting
// "codrive.lock" (Key) names the codrive session that locked and the exact
// values from before. neko keeps any "plugin.setting" key
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
//
// The arbiter (package codrive) writes and clears the record; the CLI's
// status and control reset read it and restore orphans. The record's JSON is
// shared by every codrive version that may meet in one room: change it only
// compatibly.
package roomlock

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/codrive/codrive/neko"
)

// Key is the neko plugin setting that holds codrive's lock record.
const Key = "codrive.lock"

// Settings are the two room settings policy locked changes.
type Settings struct {
	LockedControls  bool `json:"locked_controls"`
	ImplicitHosting bool `json:"implicit_hosting"`
}

// SettingsOf picks the two settings a lock changes out of neko's.
func SettingsOf(s neko.Settings) Settings {
	return Settings{LockedControls: s.LockedControls, ImplicitHosting: s.ImplicitHosting}
}

func (s *Settings) String() string {
	if s == nil {
		return "unknown"
	}
	return fmt.Sprintf("locked_controls=%v, implicit_hosting=%v", s.LockedControls, s.ImplicitHosting)
}

// Lease is codrive's lock record in the room.
type Lease struct {
	// Owner is the neko session id of the codrive that locked.
	Owner string `json:"owner"`
	// User is its neko user name, for people reading the record.
	User string `json:"user,omitempty"`
	// Before is the room as it was before any codrive locked it.
	Before Settings  `json:"before"`
	Since  time.Time `json:"since"`
}

// Of reads the lock record from room settings: nil when there is none (or
// neko's null after a restore). A record that does not decode is reported,
// not trusted.
func Of(s neko.Settings) (*Lease, error) {
	v, ok := s.Plugins[Key]
	if !ok || v == nil {
		return nil, nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("codrive: lock record %s: %w", Key, err)
	}
	var l Lease
	if err := json.Unmarshal(raw, &l); err != nil || l.Owner == "" {
		return nil, fmt.Errorf("codrive: lock record %s is not codrive's: %s", Key, raw)
	}
	return &l, nil
}

// LockPatch locks the room and records the lease in one POST.
func LockPatch(l Lease) neko.SettingsPatch {
	on, off := true, false
	return neko.SettingsPatch{
		LockedControls:  &on,
		ImplicitHosting: &off,
		Plugins:         map[string]any{Key: l},
	}
}

// RestoreOnto is the room after restoring before onto cur: a setting goes
// back only while it still holds the value the lock gave it. One someone
// changed since (an admin unlocking by hand) is theirs, and stays.
func RestoreOnto(cur Settings, before *Settings) Settings {
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

// RestorePatch restores before onto cur (see RestoreOnto) and clears the
// lease, in one POST. neko has no compare-and-set: between reading cur and
// this POST (a round trip) an admin's change can still be overwritten.
func RestorePatch(cur Settings, before *Settings) neko.SettingsPatch {
	p := neko.SettingsPatch{Plugins: map[string]any{Key: nil}}
	if before != nil {
		to := RestoreOnto(cur, before)
		p.LockedControls, p.ImplicitHosting = &to.LockedControls, &to.ImplicitHosting
	}
	return p
}

// Lock reads the room's settings and locks it, recording in the lease (owner
// self, user) what it was before. A lease already there tells the truth
// about "before": its own (a re-lock after a reconnect) or a gone codrive's;
// a live codrive's lock is left alone, and declined names that codrive.
func Lock(ctx context.Context, c *neko.Client, self, user string, now time.Time) (before *Settings, declined string, err error) {
	cur, err := c.Settings(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("read room settings: %w", err)
	}
	b := SettingsOf(cur)
	if l, _ := Of(cur); l != nil {
		if l.Owner != self {
			sessions, err := c.Sessions(ctx)
			if err != nil {
				return nil, "", fmt.Errorf("read sessions: %w", err)
			}
			for _, s := range sessions {
				if s.ID == l.Owner && s.State.IsConnected {
					return nil, describe(s.ID, s.Profile.Name), nil
				}
			}
		}
		b = l.Before // it knows the room before any codrive locked it
	}
	l := Lease{Owner: self, User: user, Before: b, Since: now.UTC()}
	if err := c.UpdateSettings(ctx, LockPatch(l)); err != nil {
		return nil, "", fmt.Errorf("lock controls: %w", err)
	}
	return &b, "", nil
}

// Restore puts back the settings before a lock (see RestoreOnto) and clears
// the lease.
func Restore(ctx context.Context, c *neko.Client, before *Settings) error {
	cur, err := c.Settings(ctx)
	if err != nil {
		return fmt.Errorf("read room settings: %w", err)
	}
	return c.UpdateSettings(ctx, RestorePatch(SettingsOf(cur), before))
}

// Orphan describes a room lock left by a codrive session that is gone.
type Orphan struct {
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

// String says what the orphan is, for status reports and logs.
func (o Orphan) String() string {
	return fmt.Sprintf("room locked by codrive session %s (user %s) since %s, which is gone; before the lock: locked_controls=%v, implicit_hosting=%v",
		o.Owner, o.User, o.Since.Format(time.RFC3339), o.LockedControls, o.ImplicitHosting)
}

// FindOrphan returns the room's lock record if its owner is not a connected
// session.
func FindOrphan(s neko.Settings, sessions []neko.SessionData) (*Orphan, error) {
	l, err := Of(s)
	if l == nil {
		return nil, err
	}
	for _, sd := range sessions {
		if sd.ID == l.Owner && sd.State.IsConnected {
			return nil, nil
		}
	}
	return &Orphan{Owner: l.Owner, User: l.User, Since: l.Since,
		LockedControls: l.Before.LockedControls, ImplicitHosting: l.Before.ImplicitHosting}, nil
}

// RestoreOrphan restores the room's lock record if its codrive is gone, and
// returns what it restored (nil when there was no orphan).
func RestoreOrphan(ctx context.Context, c *neko.Client) (*Orphan, error) {
	settings, err := c.Settings(ctx)
	if err != nil {
		return nil, fmt.Errorf("read room settings: %w", err)
	}
	sessions, err := c.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	o, err := FindOrphan(settings, sessions)
	if o == nil {
		return nil, err
	}
	before := Settings{LockedControls: o.LockedControls, ImplicitHosting: o.ImplicitHosting}
	if err := c.UpdateSettings(ctx, RestorePatch(SettingsOf(settings), &before)); err != nil {
		return nil, fmt.Errorf("restore the room left locked by codrive session %s: %w", o.Owner, err)
	}
	return o, nil
}

// describe names a session for messages: `alice (alice-Ab3dE)`.
func describe(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return fmt.Sprintf("%s (%s)", name, id)
}
