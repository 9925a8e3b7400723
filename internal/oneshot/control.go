package oneshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/codrive/codrive/internal/roomlock"
	"github.com/codrive/codrive/neko"
)

// Control operations for `codrive control`. None of them leaves its
// short-lived session hosting: a session without a socket would hold the
// browser for good, the "dead bot" codrive exists to prevent.

func oneShot(ctx context.Context, o Login, f func(c *neko.Client) (string, error)) (string, error) {
	return oneShotAs(ctx, o, "", f)
}

// oneShotAs is oneShot for an operation only an admin may do (what names
// it): a login without admin rights is refused before anything is tried.
func oneShotAs(ctx context.Context, o Login, admin string, f func(c *neko.Client) (string, error)) (string, error) {
	c, err := o.client()
	if err != nil {
		return "", err
	}
	login, err := c.Login(ctx, o.User, o.Password)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	if admin != "" && !login.Profile.IsAdmin {
		return "", fmt.Errorf("%s needs a neko admin login: %w", admin, neko.ErrNotAdmin)
	}
	return f(c)
}

// ResolveSession finds a session by exact id or by unique name. Among
// sessions of the same name, the one connected wins: a disconnected "alice"
// cannot take control anyway.
func ResolveSession(sessions []neko.SessionData, key string) (neko.SessionData, error) {
	var byName, connected []neko.SessionData
	for _, s := range sessions {
		if s.ID == key {
			return s, nil
		}
		if s.Profile.Name == key {
			byName = append(byName, s)
			if s.State.IsConnected {
				connected = append(connected, s)
			}
		}
	}
	if len(byName) > 1 && len(connected) == 1 {
		return connected[0], nil
	}
	switch len(byName) {
	case 1:
		return byName[0], nil
	case 0:
		ids := make([]string, 0, len(sessions))
		for _, s := range sessions {
			ids = append(ids, who(s.ID, s.Profile.Name))
		}
		return neko.SessionData{}, fmt.Errorf("no session %q (sessions: %s)", key, strings.Join(ids, ", "))
	default:
		ids := make([]string, 0, len(byName))
		for _, s := range byName {
			ids = append(ids, s.ID)
		}
		return neko.SessionData{}, fmt.Errorf("session name %q is ambiguous: %s; use the id", key, strings.Join(ids, ", "))
	}
}

func hostText(c *neko.Client, ctx context.Context) (string, error) {
	st, err := c.ControlStatus(ctx)
	if err != nil {
		return "", err
	}
	if !st.HasHost {
		return "", nil
	}
	sessions, err := c.Sessions(ctx)
	if err != nil {
		return st.HostID, nil
	}
	for _, s := range sessions {
		if s.ID == st.HostID {
			return who(s.ID, s.Profile.Name), nil
		}
	}
	return st.HostID, nil
}

// Request asks for control on behalf of a short-lived session. When
// someone hosts, neko forwards the request to them: the message names them.
// When nobody hosts, neko would grant it to this session, which is about to
// go away; codrive gives it straight back and says so.
func Request(ctx context.Context, o Login) (string, error) {
	return oneShot(ctx, o, func(c *neko.Client) (string, error) {
		res, err := c.RequestControl(ctx)
		if err != nil {
			return "", err
		}
		if res == neko.ControlPending {
			host, _ := hostText(c, ctx)
			if host == "" {
				host = "(unknown)"
			}
			return "request sent to the current host " + host, nil
		}
		if err := c.ReleaseControl(ctx); err != nil {
			return "", fmt.Errorf("control was granted to this one-shot session, and releasing it failed: %w", err)
		}
		return "nobody hosted: control was granted, then released again (a one-shot session must not keep it; use `codrive attach` to hold control)", nil
	})
}

// Release frees control held by a session of codrive's user (a bot
// that died without releasing, say). It needs an admin login, since neko
// lets only the host itself release.
func Release(ctx context.Context, o Login) (string, error) {
	return oneShot(ctx, o, func(c *neko.Client) (string, error) {
		st, err := c.ControlStatus(ctx)
		if err != nil {
			return "", err
		}
		if !st.HasHost {
			return "nobody hosts: nothing to release", nil
		}
		sessions, err := c.Sessions(ctx)
		if err != nil {
			return "", err
		}
		host, err := ResolveSession(sessions, st.HostID)
		if err != nil {
			return "", err
		}
		if host.Profile.Name != o.User {
			return "", fmt.Errorf("%s hosts, not a %q session: not releasing a person's control (use `codrive control reset` as admin)", who(host.ID, host.Profile.Name), o.User)
		}
		if err := c.ResetControl(ctx); err != nil {
			if errors.Is(err, neko.ErrNotAdmin) {
				return "", fmt.Errorf("releasing %s needs an admin login: %w", who(host.ID, host.Profile.Name), err)
			}
			return "", err
		}
		return "released control held by " + who(host.ID, host.Profile.Name), nil
	})
}

// Give makes session (an id or a unique name) the host; the caller
// must host or be admin.
func Give(ctx context.Context, o Login, session string) (string, error) {
	return oneShot(ctx, o, func(c *neko.Client) (string, error) {
		target, err := resolveOther(ctx, c, session)
		if err != nil {
			return "", err
		}
		if err := c.GiveControl(ctx, target.ID); err != nil {
			return "", err
		}
		return "control given to " + who(target.ID, target.Profile.Name), nil
	})
}

// Take takes control from whoever hosts (admin only) and hands it to
// session, or, with session empty, clears it: the one-shot session itself
// never keeps it.
func Take(ctx context.Context, o Login, session string) (string, error) {
	return oneShotAs(ctx, o, "control take", func(c *neko.Client) (string, error) {
		prev, _ := hostText(c, ctx)
		if err := c.TakeControl(ctx); err != nil {
			return "", err
		}
		if session == "" {
			if err := c.ReleaseControl(ctx); err != nil {
				return "", err
			}
			if prev == "" {
				return "took control and released it: nobody hosts", nil
			}
			return "took control from " + prev + ": nobody hosts now", nil
		}
		target, err := resolveOther(ctx, c, session)
		if err != nil {
			_ = c.ReleaseControl(ctx)
			return "", err
		}
		if err := c.GiveControl(ctx, target.ID); err != nil {
			_ = c.ReleaseControl(ctx)
			return "", err
		}
		return "took control and gave it to " + who(target.ID, target.Profile.Name), nil
	})
}

// resolveOther resolves a session other than the one-shot's own: giving
// control to it would hand the browser to a session about to log out.
func resolveOther(ctx context.Context, c *neko.Client, key string) (neko.SessionData, error) {
	sessions, err := c.Sessions(ctx)
	if err != nil {
		return neko.SessionData{}, err
	}
	self := c.SessionID()
	others := slices.DeleteFunc(slices.Clone(sessions), func(s neko.SessionData) bool { return s.ID == self })
	target, err := ResolveSession(others, key)
	if err != nil && key == self {
		return target, fmt.Errorf("%s is this command's own short-lived session: give control to a session that stays (e.g. `codrive attach`)", key)
	}
	return target, err
}

// Reset clears the host (admin only), and restores a room lock left
// by a codrive session that is gone (see roomlock.Orphan).
func Reset(ctx context.Context, o Login) (string, error) {
	return oneShotAs(ctx, o, "control reset", func(c *neko.Client) (string, error) {
		restored, err := roomlock.RestoreOrphan(ctx, c)
		if err != nil {
			return "", err
		}
		prev, _ := hostText(c, ctx)
		if err := c.ResetControl(ctx); err != nil {
			return "", err
		}
		msg := "control reset: " + prev + " no longer hosts"
		if prev == "" {
			msg = "nobody hosted; control reset"
		}
		if restored != nil {
			msg += fmt.Sprintf("; restored the room settings left locked by codrive session %s (locked_controls=%v, implicit_hosting=%v)",
				restored.Owner, restored.LockedControls, restored.ImplicitHosting)
		}
		return msg, nil
	})
}
