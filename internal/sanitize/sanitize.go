// Package sanitize makes text from the outside safe to print on a terminal:
// neko profile names, page URLs and titles, handoff reasons, error messages
// that quote them. Every place the codrive command prints such text (plain
// event lines, the status report, the terminal UI, the demo) goes through
// it; JSON output needs nothing, its encoder escapes control characters.
package sanitize

import (
	"net/url"
	"strings"
	"unicode"
)

// Text replaces control characters, which could move the cursor or change
// the terminal's state (C0 with ESC, DEL, C1 with CSI U+009B), with
// spaces. Everything else, any script or emoji, is kept.
func Text(s string) string {
	if strings.IndexFunc(s, IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// Line is Text on one line: runs of spaces, tabs and newlines become one
// space, and the ends are trimmed (error messages, reasons, names in a
// table cell or a log line).
func Line(s string) string { return strings.Join(strings.Fields(Text(s)), " ") }

// IsControl reports the characters Text replaces.
func IsControl(r rune) bool { return unicode.IsControl(r) }

// URL keeps a URL's scheme, host and path, sanitised: user info could be a
// password and a query or fragment could carry a token. data: URLs keep
// their media type only. A URL that does not parse is not shown.
func URL(raw string) string {
	if raw == "" {
		return ""
	}
	if rest, ok := strings.CutPrefix(raw, "data:"); ok {
		mt, _, _ := strings.Cut(rest, ",")
		mt, _, _ = strings.Cut(mt, ";")
		return Text("data:" + mt + ",…")
	}
	u, err := url.Parse(Text(raw))
	if err != nil {
		return "(unparsable URL hidden)"
	}
	if u.Host == "" && u.Opaque != "" {
		// about:blank, chrome://newtab and the like carry no secrets.
		return Text(u.Scheme + ":" + u.Opaque)
	}
	if u.Host == "" && u.Scheme != "about" && u.Scheme != "file" {
		return "(unparsable URL hidden)"
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	return Text(u.String())
}
