package codrive

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/codrive/codrive/neko"
)

// Policy locked keeps viewers watching but not taking while automation
// drives: locked_controls on, implicit_hosting off. syncLock reconciles the
// room with what the policy wants right now; whatever it changes it restores
// to the exact previous values.

// syncLock applies or restores the lock to match the current state.
func (a *Arbiter) syncLock(ctx context.Context) {
	a.settingsMu.Lock()
	defer a.settingsMu.Unlock()
	a.mu.Lock()
	if a.status.State == StateDisconnected {
		// A lost socket is not a lost host: keep the lock as it is until
		// neko answers again.
		a.mu.Unlock()
		return
	}
	want := a.cfg.Policy == PolicyLocked && a.status.State == StateAutomation &&
		!a.paused && a.handoff == "" && !a.closing
	applied := a.lockApplied
	a.mu.Unlock()
	switch {
	case want && !applied:
		a.applyLockSerialized(ctx)
	case !want && applied:
		if err := a.restoreLockSerialized(ctx); err != nil {
			a.mu.Lock()
			a.emitLocked("error", "", err.Error())
			a.mu.Unlock()
		}
	}
}

func (a *Arbiter) applyLockSerialized(ctx context.Context) {
	octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
	defer cancel()
	cur, err := a.client.Settings(octx)
	if err != nil {
		a.lockFailed(fmt.Errorf("read room settings: %w", err))
		return
	}
	a.mu.Lock()
	if a.saved == nil {
		a.saved = &savedSettings{LockedControls: cur.LockedControls, ImplicitHosting: cur.ImplicitHosting}
	}
	saved := *a.saved
	a.mu.Unlock()
	on, off := true, false
	if err := a.client.UpdateSettings(octx, neko.SettingsPatch{LockedControls: &on, ImplicitHosting: &off}); err != nil {
		a.lockFailed(fmt.Errorf("lock controls: %w", err))
		return
	}
	a.mu.Lock()
	a.lockApplied = true
	a.notifyLocked()
	a.emitLocked("settings", "", fmt.Sprintf("controls locked while automation runs (before: locked_controls=%v, implicit_hosting=%v)",
		saved.LockedControls, saved.ImplicitHosting))
	a.mu.Unlock()
}

func (a *Arbiter) lockFailed(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastErr = err
	a.emitLocked("error", "", "policy locked: "+err.Error())
}

// restoreLock puts back the settings codrive changed, if any.
func (a *Arbiter) restoreLock(ctx context.Context) error {
	a.settingsMu.Lock()
	defer a.settingsMu.Unlock()
	return a.restoreLockSerialized(ctx)
}

func (a *Arbiter) restoreLockSerialized(ctx context.Context) error {
	a.mu.Lock()
	saved := a.saved
	a.mu.Unlock()
	if saved == nil {
		return nil
	}
	octx, cancel := context.WithTimeout(ctx, a.cfg.OpTimeout)
	defer cancel()
	err := a.client.UpdateSettings(octx, neko.SettingsPatch{
		LockedControls:  &saved.LockedControls,
		ImplicitHosting: &saved.ImplicitHosting,
	})
	if err != nil {
		return fmt.Errorf("restore room settings (locked_controls=%v, implicit_hosting=%v): %w",
			saved.LockedControls, saved.ImplicitHosting, err)
	}
	a.mu.Lock()
	a.saved = nil
	a.lockApplied = false
	a.notifyLocked()
	a.emitLocked("settings", "", fmt.Sprintf("room settings restored (locked_controls=%v, implicit_hosting=%v)",
		saved.LockedControls, saved.ImplicitHosting))
	a.mu.Unlock()
	return nil
}

// onSettingsLocked notices when someone else undoes codrive's lock: codrive
// does not fight an admin over it, it records it and keeps the values to
// restore.
func (a *Arbiter) onSettingsLocked(ev neko.Event) {
	p, ok := ev.Payload.(*neko.SystemSettingsUpdate)
	if !ok || !a.lockApplied || p.ID == a.status.Session {
		return
	}
	if p.LockedControls && !p.ImplicitHosting {
		return
	}
	a.lockApplied = false
	a.notifyLocked()
	a.emitLocked("settings", p.ID, fmt.Sprintf("%s changed the room settings while automation runs: controls no longer locked",
		describeHost(p.ID, a.nameLocked(p.ID))))
}

// onReconnectedLocked forgets a lock that did not survive a neko restart;
// syncLock applies it again once codrive hosts.
func (a *Arbiter) onReconnectedLocked() {
	if !a.lockApplied {
		return
	}
	s := a.conn.Room().Settings
	if !s.LockedControls || s.ImplicitHosting {
		a.lockApplied = false
	}
}

func sortPending(p []PendingRequest) {
	slices.SortFunc(p, func(x, y PendingRequest) int {
		if c := x.Since.Compare(y.Since); c != 0 {
			return c
		}
		return strings.Compare(x.ID, y.ID)
	})
}
