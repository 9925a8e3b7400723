// Package hint turns the errors people hit first into messages that say
// what to do: no password given, a login that is not admin where admin is
// needed, neko and Chromium swapped (--neko on the DevTools port, --cdp on
// neko). The codrive command's one error line, its status report, wait
// and smoke use it.
package hint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/neko"
)

// Context is what the command knows about how it was configured.
type Context struct {
	NekoURL string
	CDPURL  string
	User    string
	// PasswordGiven: a password came from a flag, a file or the
	// environment.
	PasswordGiven bool
}

// Explain returns err with a message people can act on, or err itself when
// there is nothing to add. The result wraps err: errors.Is still sees the
// sentinels (and the exit code stays the same). It may ask neko's or
// Chromium's address one short question to tell a swapped address; ctx
// bounds it.
func Explain(ctx context.Context, err error, c Context) error {
	var done *explained
	if err == nil || errors.As(err, &done) {
		return err
	}
	if msg := explain(ctx, err, c); msg != "" {
		return &explained{msg: msg, err: err}
	}
	return err
}

type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }

// Admin is the advice for a login without the admin rights an operation
// needs.
func Admin(user string) string {
	return fmt.Sprintf("user %q is not a neko admin: give neko's admin password (--password-file FILE or $CODRIVE_NEKO_PASSWORD; the server's NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD)", user)
}

// NoPassword is the advice for a login refused without a password.
func NoPassword(user string) string {
	return fmt.Sprintf("neko refused the login of user %q: no password was given; set --password-file FILE or $CODRIVE_NEKO_PASSWORD (neko's admin password for attach, run, tui and smoke)", user)
}

func explain(ctx context.Context, err error, c Context) string {
	var api *neko.APIError
	isAPI := errors.As(err, &api)
	switch {
	case errors.Is(err, neko.ErrUnauthorized) && !c.PasswordGiven:
		return NoPassword(c.User)
	case errors.Is(err, neko.ErrNotAdmin):
		// What needed admin, in the words of whoever wrapped neko's 403.
		full := strings.TrimPrefix(err.Error(), "codrive: ")
		what := strings.TrimSuffix(full, ": "+neko.ErrNotAdmin.Error())
		if isAPI {
			what = strings.TrimSuffix(strings.TrimSuffix(full, api.Error()), ": ")
		}
		if what == "" && isAPI {
			what = "neko's " + api.Op + " needs an admin login"
		}
		return what + "; " + Admin(c.User)
	case isAPI && api.Status != 0 && (api.Op == "health" || api.Op == "login") && api.Status != http.StatusUnauthorized && api.Status != http.StatusForbidden:
		if looksLikeChromium(ctx, c.NekoURL) {
			return fmt.Sprintf("%v: --neko %s answers like Chromium's DevTools port (/json/version), not neko: are --neko and --cdp swapped? Give neko's URL (e.g. http://127.0.0.1:8080) as --neko and this one as --cdp", err, c.NekoURL)
		}
	case errors.Is(err, cdp.ErrNotDevTools) && c.CDPURL != "":
		if looksLikeNeko(ctx, c.CDPURL) {
			return fmt.Sprintf("%v: --cdp %s answers like neko (/health), not Chromium: are --neko and --cdp swapped? Give Chromium's debugging port (e.g. http://127.0.0.1:9222) as --cdp and this one as --neko", err, c.CDPURL)
		}
	}
	return ""
}

// probe GETs one path with a short deadline and returns the body of a 200.
func probe(ctx context.Context, base, path string) ([]byte, bool) {
	ep, err := cdp.ParseEndpoint(base)
	if err == nil {
		base = ep.HTTP
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return nil, false
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return nil, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return b, err == nil && resp.StatusCode == http.StatusOK
}

// looksLikeChromium: the address answers /json/version as Chromium does.
func looksLikeChromium(ctx context.Context, base string) bool {
	b, ok := probe(ctx, base, "/json/version")
	if !ok {
		return false
	}
	var v cdp.Version
	return json.Unmarshal(b, &v) == nil && v.WebSocketDebuggerURL != ""
}

// looksLikeNeko: the address answers /health as neko does (`true`).
func looksLikeNeko(ctx context.Context, base string) bool {
	b, ok := probe(ctx, base, "/health")
	return ok && strings.TrimSpace(string(b)) == "true"
}
