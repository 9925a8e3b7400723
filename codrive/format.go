package codrive

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// FormatEvent renders one event as the single line `codrive attach` prints:
// time, state, host, why, and the page.
func FormatEvent(ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-12s", ev.Time.Format("15:04:05"), ev.Status.State)
	switch ev.Status.State {
	case StateAutomation, StateHuman:
		fmt.Fprintf(&b, " host=%s", describeHost(ev.Status.Host, ev.Status.HostName))
	}
	if ev.Kind != "state" {
		fmt.Fprintf(&b, " [%s]", ev.Kind)
	}
	if ev.Status.Paused {
		b.WriteString(" paused")
	}
	if ev.Status.Locked {
		b.WriteString(" locked")
	}
	if ev.Reason != "" {
		fmt.Fprintf(&b, " — %s", ev.Reason)
	}
	if ev.Page != nil {
		if ev.Page.Attached {
			fmt.Fprintf(&b, " | page %s", orDash(ev.Page.URL))
		} else {
			b.WriteString(" | page: chromium not attached")
		}
	}
	return b.String()
}

// WriteEventJSON writes ev as one JSON object and a newline.
func WriteEventJSON(w io.Writer, ev Event) error {
	return json.NewEncoder(w).Encode(ev)
}

// WriteReport writes the human form of a status report.
func WriteReport(w io.Writer, r Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "state:\t%s\n", r.State)
	fmt.Fprintf(tw, "reason:\t%s\n", r.Reason)
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
		fmt.Fprintf(tw, "  error:\t%s\n", r.Neko.Error)
	}
	if r.Neko.Protocol != "" {
		host := "nobody"
		if r.Neko.Host != nil {
			host = describeHost(r.Neko.Host.ID, r.Neko.Host.Name)
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
			if s.Self {
				flags = append(flags, "this status check")
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", s.Name, s.ID, strings.Join(flags, ", "))
		}
	}
	fmt.Fprintf(tw, "\n")
	fmt.Fprintf(tw, "chromium:\t%s\n", r.CDP.URL)
	fmt.Fprintf(tw, "  reachable:\t%v\n", r.CDP.Reachable)
	if r.CDP.Browser != "" {
		fmt.Fprintf(tw, "  browser:\t%s (protocol %s)\n", r.CDP.Browser, r.CDP.ProtocolVersion)
	}
	if r.CDP.Error != "" {
		fmt.Fprintf(tw, "  error:\t%s\n", r.CDP.Error)
	}
	if r.CDP.Page != nil {
		fmt.Fprintf(tw, "  page:\t%s  %q (%s)\n", orDash(r.CDP.Page.URL), r.CDP.Page.Title, r.CDP.Page.ID)
	}
	if len(r.CDP.Targets) > 0 {
		fmt.Fprintf(tw, "  targets:\t%d\n", len(r.CDP.Targets))
		for _, t := range r.CDP.Targets {
			fmt.Fprintf(tw, "    %s\t%s\t%s\n", t.Type, t.ID, orDash(t.URL))
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
