// Package exitcode is the codrive command's process statuses, documented in
// the README and in `codrive --help`, and how errors map to them.
package exitcode

import (
	"errors"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/neko"
)

// The codrive command's exit codes. `codrive run` exits with its script's
// own code instead.
const (
	OK          = 0 // it worked
	Failure     = 1 // anything else, including a degraded status and a failed smoke
	Usage       = 2 // bad flags or arguments
	Auth        = 3 // neko refused the login
	Unreachable = 4 // neko or Chromium did not answer
)

// For maps an error to the process status: Auth for authentication
// failures, Unreachable when neko or Chromium cannot be reached, Failure
// otherwise, OK for nil.
func For(err error) int {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, neko.ErrUnauthorized), errors.Is(err, neko.ErrLoginsLocked):
		return Auth
	case errors.Is(err, neko.ErrUnreachable), errors.Is(err, cdp.ErrNoEndpoint):
		return Unreachable
	default:
		return Failure
	}
}
