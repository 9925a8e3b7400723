package codrive

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/codrive/codrive/codrive/cdpproxy"
	"github.com/codrive/codrive/neko"
)

// Options configures Attach. NekoURL, User, Password and CDPURL say where
// things are; every other field has a working default.
type Options struct {
	// NekoURL is the neko server, e.g. http://127.0.0.1:8080. Required.
	NekoURL string
	// User is the neko user codrive logs in as. Its session is
	// "automation" in the room. Required.
	User string
	// Password is User's neko password. Policy locked, Take and Takeover
	// need an admin's. It is never logged.
	Password string
	// Cookies prefers neko's cookie login (session.cookie.enabled) to the
	// token. Either works whatever the server's setting: codrive uses the
	// credential neko returns.
	Cookies bool
	// HTTPClient makes neko's REST calls. Default: a client with a 10s
	// timeout, so a neko that accepts connections but never answers cannot
	// hang a call.
	HTTPClient *http.Client

	// CDPURL is Chromium's debugging endpoint: http://127.0.0.1:9222, or a
	// ws://.../devtools/browser/ID URL. codrive attaches to its existing tab
	// (it never opens one) and re-attaches when Chromium comes back.
	// Empty: codrive arbitrates only; automation reaches Chromium itself
	// and passes the gate with Begin, Do or Wait. There is then no proxy and
	// no PageInfo.
	CDPURL string
	// Target selects the tab: a target id or a URL substring. Default: the
	// first page.
	Target string

	// WaitTimeout makes Attach wait for Chromium and neko to answer, as a
	// sidecar started beside them must: while a peer is unreachable (or
	// Chromium has no tab yet) Attach tries again with backoff, from 250ms
	// up to 5s between tries, for up to this long; a negative value waits
	// until ctx ends. Default 0: no waiting, Attach fails at once when a
	// peer does not answer. A refused login or a bad URL fails at once
	// either way. Once attached, codrive rides out outages by itself.
	WaitTimeout time.Duration
	// OnWait, when set, is called from Attach after every failed try while
	// it waits: for progress lines and readiness probes. Without it the
	// notable tries are logged at info.
	OnWait func(WaitProgress)

	// Policy is what happens when a person asks for control while
	// automation holds it. Default PolicyYield.
	Policy Policy
	// ReclaimAfter is how long the room must stay without a host, after a
	// person released it, before automation takes control back. Default 2s.
	ReclaimAfter time.Duration
	// NoReclaim leaves control with people once a person had it, until
	// Resume or Acquire.
	NoReclaim bool
	// StepTimeout bounds how long policy finish-step waits for the steps in
	// flight. Default 30s.
	StepTimeout time.Duration
	// IdleRelease releases control after this long without automation
	// steps, so viewers get the browser back when a script goes quiet; it
	// is asked for again on the next step. Default 0: never.
	IdleRelease time.Duration
	// HandoffTimeout bounds every Handoff, whatever its context. Default
	// 15m.
	HandoffTimeout time.Duration
	// Takeover lets Acquire take control from a person instead of asking
	// (admin login only).
	Takeover bool

	// Listen starts the CDP gating proxy on this address, e.g.
	// 127.0.0.1:9223 or 127.0.0.1:0 for a free port (ProxyURL says which).
	// Scripts connect to it instead of Chromium; their acting commands wait
	// while a person drives. Default "": no proxy. Needs CDPURL.
	Listen string
	// Token is the secret the proxy requires (?token= or Authorization:
	// Bearer). Mandatory when Listen is not a loopback address.
	Token string
	// HoldTimeout fails a script's held command after this long. Default
	// 10m.
	HoldTimeout time.Duration
	// MaxMessage bounds one CDP message from a script, in bytes; a larger
	// one gets a CDP error. Default 128 MiB (cdpproxy.DefaultMaxMessage).
	MaxMessage int64
	// LogCDP logs proxied messages at debug level, bodies included. Off by
	// default: they carry page data.
	LogCDP bool

	// Logger receives codrive's logs: every event at info, trouble at warn.
	// Default: discard.
	Logger *slog.Logger

	// Tuning the tests shorten; the defaults suit every real deployment.
	requestInterval time.Duration    // Acquire's repeat to a host, and REST retries; 5s
	opTimeout       time.Duration    // each REST call codrive makes on its own; 10s
	reattachMin     time.Duration    // first delay before re-attaching to Chromium; 500ms
	reattachMax     time.Duration    // cap of that delay; 10s
	conn            neko.ConnOptions // the neko WebSocket's reconnect and liveness
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, error) {
	if o.NekoURL == "" {
		return o, errors.New("codrive: neko URL is required")
	}
	if o.User == "" {
		return o, errors.New("codrive: neko user is required")
	}
	if o.Listen != "" && o.CDPURL == "" {
		return o, errors.New("codrive: the CDP proxy (Listen) needs a CDP URL")
	}
	if o.Listen != "" {
		// Before any network call: a proxy that may not listen is a
		// mistake in the options, not something to find after logging in.
		if err := cdpproxy.CheckAddr(o.Listen, o.Token); err != nil {
			return o, fmt.Errorf("codrive: Listen: %w", err)
		}
	}
	if o.Policy == "" {
		o.Policy = PolicyYield
	}
	if _, err := ParsePolicy(string(o.Policy)); err != nil {
		return o, fmt.Errorf("codrive: %w", err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ReclaimAfter", o.ReclaimAfter}, {"StepTimeout", o.StepTimeout}, {"IdleRelease", o.IdleRelease},
		{"HandoffTimeout", o.HandoffTimeout}, {"HoldTimeout", o.HoldTimeout}} {
		if d.v < 0 {
			return o, fmt.Errorf("codrive: %s must not be negative (got %s)", d.name, d.v)
		}
	}
	if o.MaxMessage < 0 {
		return o, fmt.Errorf("codrive: MaxMessage must not be negative (got %d)", o.MaxMessage)
	}
	setDefault(&o.ReclaimAfter, 2*time.Second)
	setDefault(&o.StepTimeout, 30*time.Second)
	setDefault(&o.HandoffTimeout, 15*time.Minute)
	setDefault(&o.requestInterval, 5*time.Second)
	setDefault(&o.opTimeout, 10*time.Second)
	setDefault(&o.reattachMin, 500*time.Millisecond)
	setDefault(&o.reattachMax, 10*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.conn.Logger == nil {
		o.conn.Logger = o.Logger
	}
	return o, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}
