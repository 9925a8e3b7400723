// Package exitcode is the codrive command's process statuses, documented in
// the README and in `codrive --help` (both from Table), and how errors map
// to them.
package exitcode

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/neko"
)

// The codrive command's exit codes, the same for every command. `codrive
// run` exits with its script's own code instead, once the script started.
const (
	OK          = 0 // it worked
	Failure     = 1 // anything else, including a degraded status and a failed smoke
	Usage       = 2 // bad flags, arguments or environment; found before any network call
	Auth        = 3 // neko refused the login, or the login lacks the admin rights needed
	Unreachable = 4 // neko, Chromium or codrive's proxy did not answer
	Timeout     = 5 // a handoff ran out of time: the person did not release control
)

// Code is one row of the table.
type Code struct {
	Code    int
	Meaning string
}

// Table lists every exit code with its meaning, in order: the README's
// table and `codrive --help` are checked against it.
func Table() []Code {
	return []Code{
		{OK, "ok"},
		{Failure, "failure (including a degraded `status` and a failed `smoke`)"},
		{Usage, "usage: bad flags, arguments or environment, found before any network call"},
		{Auth, "authentication: neko refused the login, or the login is not admin where admin is needed"},
		{Unreachable, "unreachable: neko, Chromium or codrive's proxy did not answer"},
		{Timeout, "timeout: a handoff ran out of time before the person released control"},
	}
}

// Help renders Table for `codrive --help`.
func Help() string {
	var b strings.Builder
	b.WriteString("EXIT CODES:\n")
	for _, c := range Table() {
		fmt.Fprintf(&b, "   %d  %s\n", c.Code, strings.ReplaceAll(c.Meaning, "`", ""))
	}
	b.WriteString("   codrive run exits with its script's code (128+N when signal N killed it, 127 when it could not start)\n")
	return b.String()
}

// For maps an error to the process status: Auth for authentication and
// admin-rights failures, Unreachable when neko or Chromium cannot be
// reached, Failure otherwise, OK for nil. Usage and Timeout are decided by
// the commands themselves.
func For(err error) int {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, neko.ErrUnauthorized), errors.Is(err, neko.ErrLoginsLocked), errors.Is(err, neko.ErrNotAdmin):
		return Auth
	case errors.Is(err, neko.ErrUnreachable), errors.Is(err, cdp.ErrNoEndpoint), errors.Is(err, cdp.ErrNotDevTools), notNeko(err):
		return Unreachable
	default:
		return Failure
	}
}

// notNeko: something answered at neko's address, but not as neko (its
// /health failed, or it has no login): neko itself did not answer.
func notNeko(err error) bool {
	var api *neko.APIError
	return errors.As(err, &api) && (api.Op == "health" || api.Op == "login" && api.Status == http.StatusNotFound)
}
