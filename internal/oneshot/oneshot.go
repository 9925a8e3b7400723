// Package oneshot is what the codrive command does without a Session: each
// operation logs in to neko as its own short-lived session, does one thing
// and logs out. `codrive status` (CollectStatus), `codrive control`
// (Request, Release, Give, Take, Reset) and `codrive wait` (WaitReady) are
// built on it.
package oneshot

import (
	"fmt"

	"github.com/codrive/codrive/neko"
)

// Login is the neko server and credentials a one-shot operation uses.
type Login struct {
	NekoURL  string // the neko server, e.g. http://127.0.0.1:8080
	User     string // the neko user to log in as
	Password string // its password; never logged
	Cookies  bool   // prefer neko's cookie login to the token
}

func (l Login) client() (*neko.Client, error) {
	return neko.NewClient(l.NekoURL, neko.Options{Cookies: l.Cookies})
}

// who names a neko session for people: `alice (alice-Ab3dE)`.
func who(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return fmt.Sprintf("%s (%s)", name, id)
}
