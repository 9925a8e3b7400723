package neko

import "context"

// Test-only access for the external test package (which cannot be internal
// because it imports nekotest, which imports this package).

// WithWrittenHook returns o with a hook that sees every frame the Conn wrote.
func WithWrittenHook(o ConnOptions, f func(frame []byte)) ConnOptions {
	o.written = f
	return o
}

// WithoutHealthProbe returns o with the health probe before reconnect dials
// turned off, so that dials, abandoned ones included, reach a paused server.
func WithoutHealthProbe(o ConnOptions) ConnOptions {
	o.noProbe = true
	return o
}

// PostForTest performs an authenticated POST that the Client has no method
// for (e.g. /api/profile, to provoke session/profile).
func (c *Client) PostForTest(ctx context.Context, op, path string, body any) error {
	_, err := c.post(ctx, op, path, body)
	return err
}
