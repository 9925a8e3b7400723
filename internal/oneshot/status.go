package oneshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/hint"
	"github.com/codrive/codrive/internal/roomlock"
	"github.com/codrive/codrive/internal/sanitize"
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
	OrphanLock *roomlock.Orphan `json:"orphanLock,omitempty"`
	Error      string           `json:"error,omitempty"`
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
	// Codrive marks another codrive session (same neko user): not a person.
	Codrive bool `json:"codrive,omitempty"`
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
	// Proxy: URL is the CDP proxy of the `codrive run` this status ran
	// under (Chromium is behind it), not Chromium itself.
	Proxy bool `json:"proxy,omitempty"`
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
	Login
	// CDPURL is Chromium's debugging endpoint.
	CDPURL string
	// Target selects the tab to report on: a target id or URL substring;
	// default the first page.
	Target string
	// ViaProxy: CDPURL is the CDP proxy of the `codrive run` this status
	// runs under, with Chromium behind it.
	ViaProxy bool
	// Hints says how the command was configured, for the advice in the
	// report's errors (hint.Explain).
	Hints hint.Context
}

// CollectStatus asks both sides and reports. It never fails: what went wrong
// is in the report, and ExitCode turns it into a process status. It logs in
// as its own short-lived neko session and logs out again.
func CollectStatus(ctx context.Context, o StatusOptions) Report {
	r := Report{
		Neko: NekoReport{URL: o.NekoURL, User: o.User, Sessions: []SessionReport{}},
		CDP:  CDPReport{URL: o.CDPURL, Proxy: o.ViaProxy, Targets: []TargetReport{}},
	}
	nekoErr := hint.Explain(ctx, collectNeko(ctx, o, &r.Neko), o.Hints)
	if nekoErr != nil {
		r.Neko.Error = nekoErr.Error()
	}
	cdpErr := hint.Explain(ctx, collectCDP(ctx, o, &r.CDP), o.Hints)
	if cdpErr != nil {
		r.CDP.Error = cdpErr.Error()
	}
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
			host = who(r.Neko.Host.ID, r.Neko.Host.Name) + " hosts"
		}
		r.Reason = fmt.Sprintf("neko and Chromium answer; %s; page %s", host, r.CDP.Page.URL)
	}
	return r
}

func collectNeko(ctx context.Context, o StatusOptions, r *NekoReport) error {
	c, err := o.client()
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
	if r.OrphanLock, err = roomlock.FindOrphan(room.Settings, sessions); err != nil {
		r.Error = err.Error()
	}
	for _, s := range sessions {
		r.Sessions = append(r.Sessions, SessionReport{
			ID: s.ID, Name: s.Profile.Name, Admin: s.Profile.IsAdmin,
			Connected: s.State.IsConnected, Watching: s.State.IsWatching,
			Host: r.Host != nil && r.Host.ID == s.ID, Self: s.ID == login.ID,
			Codrive: s.ID != login.ID && s.Profile.Name == o.User,
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

// ExitCode maps a report to the process status: ready 0; neko or
// Chromium not answering (or something else answering in their place) 4;
// neko refusing the login, or a login without the admin rights needed, 3;
// anything else degraded or wrong 1.
func (r Report) ExitCode() int {
	switch {
	case r.State == ReportReady:
		return exitcode.OK
	case r.State == ReportUnreachable, !r.Neko.Reachable:
		return exitcode.Unreachable
	case r.State == ReportError && r.Neko.Error != "" && !r.Neko.loggedIn():
		return exitcode.Auth
	case r.State == ReportDegraded && !r.CDP.Reachable:
		return exitcode.Unreachable
	default:
		return exitcode.Failure
	}
}

func (n NekoReport) loggedIn() bool { return n.Protocol != "" }

// sessionName is a session's display name, or its id.
func sessionName(room neko.Room, id string) string {
	if s, ok := room.Sessions[id]; ok && s.Profile.Name != "" {
		return s.Profile.Name
	}
	return id
}

// WriteText writes the report for people, as `codrive status` prints it.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "state:\t%s\n", r.State)
	fmt.Fprintf(tw, "reason:\t%s\n", sanitize.Text(r.Reason))
	fmt.Fprintf(tw, "\n")
	fmt.Fprintf(tw, "neko:\t%s\n", r.Neko.URL)
	fmt.Fprintf(tw, "  reachable:\t%v\n", r.Neko.Reachable)
	if r.Neko.Protocol != "" {
		fmt.Fprintf(tw, "  protocol:\t%s\n", r.Neko.Protocol)
	}
	admin := ""
	if r.Neko.Admin {
		admin = " (admin)"
	}
	fmt.Fprintf(tw, "  user:\t%s%s\n", r.Neko.User, admin)
	if r.Neko.Error != "" {
		fmt.Fprintf(tw, "  error:\t%s\n", sanitize.Text(r.Neko.Error))
	}
	if r.Neko.Protocol != "" {
		host := "nobody"
		if r.Neko.Host != nil {
			host = sanitize.Text(who(r.Neko.Host.ID, r.Neko.Host.Name))
		}
		fmt.Fprintf(tw, "  host:\t%s\n", host)
		if s := r.Neko.Settings; s != nil {
			fmt.Fprintf(tw, "  settings:\tlocked_controls=%v implicit_hosting=%v locked_logins=%v private_mode=%v control_protection=%v heartbeat_interval=%d\n",
				s.LockedControls, s.ImplicitHosting, s.LockedLogins, s.PrivateMode, s.ControlProtection, s.HeartbeatInterval)
		}
		if sc := r.Neko.Screen; sc != nil {
			fmt.Fprintf(tw, "  screen:\t%dx%d@%d\n", sc.Width, sc.Height, sc.Rate)
		}
		fmt.Fprintf(tw, "  sessions:\t%d\n", len(r.Neko.Sessions))
		for _, s := range r.Neko.Sessions {
			var flags []string
			if s.Host {
				flags = append(flags, "HOST")
			}
			if s.Admin {
				flags = append(flags, "admin")
			}
			if s.Connected {
				flags = append(flags, "connected")
			}
			if s.Watching {
				flags = append(flags, "watching")
			}
			if s.Codrive {
				flags = append(flags, "codrive (not a person)")
			}
			if s.Self {
				flags = append(flags, "this status check")
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", sanitize.Text(s.Name), sanitize.Text(s.ID), strings.Join(flags, ", "))
		}
	}
	fmt.Fprintf(tw, "\n")
	if r.CDP.Proxy {
		fmt.Fprintf(tw, "chromium:\tthrough codrive run's CDP proxy %s\n", sanitize.URL(r.CDP.URL))
	} else {
		fmt.Fprintf(tw, "chromium:\t%s\n", r.CDP.URL)
	}
	fmt.Fprintf(tw, "  reachable:\t%v\n", r.CDP.Reachable)
	if r.CDP.Browser != "" {
		fmt.Fprintf(tw, "  browser:\t%s (protocol %s)\n", r.CDP.Browser, r.CDP.ProtocolVersion)
	}
	if r.CDP.Error != "" {
		fmt.Fprintf(tw, "  error:\t%s\n", sanitize.Text(r.CDP.Error))
	}
	if r.CDP.Page != nil {
		fmt.Fprintf(tw, "  page:\t%s  %q (%s)\n", orDash(sanitize.URL(r.CDP.Page.URL)), r.CDP.Page.Title, sanitize.Text(r.CDP.Page.ID))
	}
	if len(r.CDP.Targets) > 0 {
		fmt.Fprintf(tw, "  targets:\t%d\n", len(r.CDP.Targets))
		for _, t := range r.CDP.Targets {
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", sanitize.Text(t.Type), sanitize.Text(t.ID), orDash(sanitize.URL(t.URL)))
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
