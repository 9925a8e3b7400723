package codrive

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/neko"
)

// Overall states of a status report.
const (
	ReportReady       = "ready"       // neko and Chromium both answer, a page is attached-to-able
	ReportDegraded    = "degraded"    // neko answers, Chromium or its page does not
	ReportUnreachable = "unreachable" // neko does not answer
	ReportError       = "error"       // neko answers but refuses codrive (login) or misbehaves
)

// Report is `codrive status`: one snapshot of both sides.
type Report struct {
	State  string     `json:"state"`
	Reason string     `json:"reason"`
	Neko   NekoReport `json:"neko"`
	CDP    CDPReport  `json:"cdp"`
}

// NekoReport is the neko half of a Report.
type NekoReport struct {
	URL       string           `json:"url"`
	Reachable bool             `json:"reachable"`
	Protocol  string           `json:"protocol,omitempty"`
	User      string           `json:"user"`
	Admin     bool             `json:"admin"`
	Host      *HostReport      `json:"host"`
	Sessions  []SessionReport  `json:"sessions"`
	Settings  *neko.Settings   `json:"settings,omitempty"`
	Screen    *neko.ScreenSize `json:"screen,omitempty"`
	// OrphanLock is a room lock left by a codrive session that is gone
	// (policy locked, then a crash): `codrive control reset` restores it.
	OrphanLock *OrphanLock `json:"orphanLock,omitempty"`
	Error      string      `json:"error,omitempty"`
}

// HostReport names the host.
type HostReport struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SessionReport is one neko session.
type SessionReport struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Admin     bool   `json:"admin"`
	Connected bool   `json:"connected"`
	Watching  bool   `json:"watching"`
	Host      bool   `json:"host"`
	// Self marks the session the status command itself used.
	Self bool `json:"self,omitempty"`
}

// CDPReport is the Chromium half of a Report.
type CDPReport struct {
	URL             string         `json:"url"`
	Reachable       bool           `json:"reachable"`
	Browser         string         `json:"browser,omitempty"`
	ProtocolVersion string         `json:"protocolVersion,omitempty"`
	Targets         []TargetReport `json:"targets"`
	Page            *TargetReport  `json:"page"`
	Error           string         `json:"error,omitempty"`
}

// TargetReport is one DevTools target.
type TargetReport struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// StatusOptions configures CollectStatus.
type StatusOptions struct {
	NekoURL, User, Password string
	Cookies                 bool
	CDPURL, Target          string
}

// CollectStatus asks both sides and reports. It never fails: what went wrong
// is in the report, and ExitCode turns it into a process status. It logs in
// as its own short-lived neko session and logs out again.
func CollectStatus(ctx context.Context, o StatusOptions) Report {
	r := Report{
		Neko: NekoReport{URL: o.NekoURL, User: o.User, Sessions: []SessionReport{}},
		CDP:  CDPReport{URL: o.CDPURL, Targets: []TargetReport{}},
	}
	nekoErr := collectNeko(ctx, o, &r.Neko)
	cdpErr := collectCDP(ctx, o, &r.CDP)
	switch {
	case nekoErr != nil && errors.Is(nekoErr, neko.ErrUnreachable):
		r.State, r.Reason = ReportUnreachable, nekoErr.Error()
	case nekoErr != nil:
		r.State, r.Reason = ReportError, nekoErr.Error()
	case cdpErr != nil:
		r.State, r.Reason = ReportDegraded, cdpErr.Error()
	case r.Neko.OrphanLock != nil:
		r.State, r.Reason = ReportDegraded, r.Neko.OrphanLock.String()+"; `codrive control reset` (admin) restores it"
	default:
		r.State = ReportReady
		host := "nobody hosts"
		if r.Neko.Host != nil {
			host = describeHost(r.Neko.Host.ID, r.Neko.Host.Name) + " hosts"
		}
		r.Reason = fmt.Sprintf("neko and Chromium answer; %s; page %s", host, r.CDP.Page.URL)
	}
	return r
}

func collectNeko(ctx context.Context, o StatusOptions, r *NekoReport) error {
	c, err := neko.NewClient(o.NekoURL, neko.Options{Cookies: o.Cookies})
	if err != nil {
		r.Error = err.Error()
		return err
	}
	if err := c.Health(ctx); err != nil {
		r.Error = err.Error()
		return err
	}
	r.Reachable = true
	login, err := c.Login(ctx, o.User, o.Password)
	if err != nil {
		r.Error = err.Error()
		return err
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	r.Admin = login.Profile.IsAdmin
	// The socket proves the WebSocket side works and brings the room as neko
	// sees it, settings included even for non-admins.
	conn, err := c.Connect(ctx, neko.ConnOptions{NoReconnect: true})
	if err != nil {
		r.Error = err.Error()
		return err
	}
	// Read sessions while the socket is open, so the check's own session
	// reads the same (connected) every time.
	sessions, err := c.Sessions(ctx)
	room := conn.Room()
	_ = conn.Close()
	if err != nil {
		r.Error = err.Error()
		return err
	}
	r.Protocol = "neko v3 (system/init received)"
	settings := room.Settings
	r.Settings = &settings
	screen := room.ScreenSize
	r.Screen = &screen
	if room.Host.HasHost && room.Host.HostID != "" {
		r.Host = &HostReport{ID: room.Host.HostID, Name: sessionName(room, room.Host.HostID)}
	}
	if r.OrphanLock, err = findOrphan(room.Settings, sessions); err != nil {
		r.Error = err.Error()
	}
	for _, s := range sessions {
		r.Sessions = append(r.Sessions, SessionReport{
			ID: s.ID, Name: s.Profile.Name, Admin: s.Profile.IsAdmin,
			Connected: s.State.IsConnected, Watching: s.State.IsWatching,
			Host: r.Host != nil && r.Host.ID == s.ID, Self: s.ID == login.ID,
		})
	}
	sort.Slice(r.Sessions, func(i, j int) bool { return r.Sessions[i].ID < r.Sessions[j].ID })
	return nil
}

func collectCDP(ctx context.Context, o StatusOptions, r *CDPReport) error {
	v, err := cdp.GetVersion(ctx, o.CDPURL)
	if err != nil {
		r.Error = err.Error()
		return err
	}
	r.Reachable = true
	r.Browser, r.ProtocolVersion = v.Browser, v.ProtocolVersion
	targets, err := cdp.ListTargets(ctx, o.CDPURL)
	if err != nil {
		r.Error = err.Error()
		return err
	}
	for _, t := range targets {
		r.Targets = append(r.Targets, TargetReport{ID: t.ID, Type: t.Type, Title: t.Title, URL: t.URL})
	}
	page, err := cdp.SelectPage(targets, o.Target)
	if err != nil {
		r.Error = err.Error()
		return err
	}
	r.Page = &TargetReport{ID: page.ID, Type: page.Type, Title: page.Title, URL: page.URL}
	return nil
}

// Exit codes, documented in the README and in `codrive --help`.
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitAuth        = 3
	ExitUnreachable = 4
)

// ExitCode maps a report to the process status: ready 0, degraded 1,
// error 3 when neko refused the login (else 1), unreachable 4.
func (r Report) ExitCode() int {
	switch r.State {
	case ReportReady:
		return ExitOK
	case ReportUnreachable:
		return ExitUnreachable
	case ReportError:
		if r.Neko.Reachable && r.Neko.Error != "" && !r.Neko.loggedIn() {
			return ExitAuth
		}
		return ExitFailure
	default:
		return ExitFailure
	}
}

func (n NekoReport) loggedIn() bool { return n.Protocol != "" }

// ExitCodeFor maps an error to the process status: 3 for authentication
// failures, 4 when neko or Chromium cannot be reached, 1 otherwise.
func ExitCodeFor(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, neko.ErrUnauthorized), errors.Is(err, neko.ErrLoginsLocked):
		return ExitAuth
	case errors.Is(err, neko.ErrUnreachable), errors.Is(err, cdp.ErrNoEndpoint):
		return ExitUnreachable
	default:
		return ExitFailure
	}
}
