package smoke

import (
	"context"
	"fmt"
	"time"

	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/viewer"
)

// viewerFrames is how much video CheckViewer waits for: more than the
// first keyframe, so that the stream is known to flow.
const viewerFrames = 10

// viewer joins as a person's WebRTC viewer, in a session of its own, and
// waits for video frames and a data channel round trip.
func (r *run) viewer(ctx context.Context) (string, error) {
	pw, name := r.o.UserPassword, r.o.User+"-smoke-viewer"
	if pw == "" {
		pw = r.o.Password
	}
	c, err := neko.NewClient(r.o.NekoURL, neko.Options{Cookies: r.o.Cookies})
	if err != nil {
		return "", err
	}
	if _, err := c.Login(ctx, name, pw); err != nil {
		return "", fmt.Errorf("viewer: %w", err)
	}
	defer func() { _ = c.Logout(context.WithoutCancel(ctx)) }()
	v, err := viewer.Join(ctx, c, viewer.Options{Logger: r.o.Logger})
	if err != nil {
		return "", err
	}
	defer v.Close()
	st, err := v.WaitFrames(ctx, viewerFrames)
	if err != nil {
		return "", err
	}
	rtt, err := v.Ping(ctx)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d frames (%d keyframes) of %s in %v, data channel round trip %v",
		st.Frames, st.Keyframes, st.Codec, st.Last.Sub(st.First).Round(time.Millisecond), rtt.Round(100*time.Microsecond)), nil
}
