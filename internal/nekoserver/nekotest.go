package nekoserver

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

// Nekotest is a nekotest server behind the Server interface. Its defaults are
// neko's: 10 s heartbeats, 5 s delayed disconnect, plugin messages on.
type Nekotest struct {
	admin
	srv *nekotest.Server
	log *logBuffer
}

var _ Server = (*Nekotest)(nil)

// StartNekotest starts a nekotest server configured like StartNeko would
// configure real neko.
func StartNekotest(opts Options) (*Nekotest, error) {
	log := newLogBuffer()
	settings, cookies := opts.Settings, opts.Cookies
	if opts.BinaryDefaults {
		st := neko.DefaultSettings()
		if settings != nil {
			st = settings.Clone()
		}
		st.ImplicitHosting, cookies = true, true
		settings = &st
	}
	srv, err := nekotest.Start(nekotest.Options{
		UserPassword:  UserPassword,
		AdminPassword: AdminPassword,
		Settings:      settings,
		CookieEnabled: cookies,
		Logger:        slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		return nil, fmt.Errorf("nekoserver: %w", err)
	}
	return &Nekotest{admin: admin{url: srv.URL}, srv: srv, log: log}, nil
}

// Nekotest returns the underlying server, for what only nekotest can do.
func (n *Nekotest) Nekotest() *nekotest.Server { return n.srv }

// Kind is KindNekotest.
func (n *Nekotest) Kind() Kind { return KindNekotest }

// URL is the server's base URL.
func (n *Nekotest) URL() string { return n.srv.URL }

// Display is "": nekotest has no desktop.
func (n *Nekotest) Display() string { return "" }

// Start serves again after Stop.
func (n *Nekotest) Start(context.Context) error {
	n.forget()
	if err := n.srv.Start(); err != nil {
		return fmt.Errorf("nekoserver: %w", err)
	}
	return nil
}

// Stop is nekotest's StopWith.
func (n *Nekotest) Stop(_ context.Context, how Shutdown) error {
	n.srv.StopWith(how)
	n.forget()
	return nil
}

// Restart is nekotest's RestartWith: the port keeps serving throughout.
func (n *Nekotest) Restart(_ context.Context, how Shutdown) error {
	n.srv.RestartWith(how)
	n.forget()
	return nil
}

// Pause freezes nekotest like SIGSTOP freezes neko: connections are
// accepted and nothing is answered until Resume (nekotest.Server.Pause).
func (n *Nekotest) Pause() error {
	n.srv.Pause()
	return nil
}

// Resume is SIGCONT: what queued while paused is handled in arrival order.
func (n *Nekotest) Resume() error {
	n.srv.Resume()
	return nil
}

// Log is the server's slog output (tail).
func (n *Nekotest) Log() string { return n.log.String() }

// Close closes the server (gracefully, as nekotest's Close does).
func (n *Nekotest) Close() { n.srv.Close() }
