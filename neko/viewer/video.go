package viewer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
)

// VideoStats is what the Viewer has received of neko's video track. Frames
// are counted by RTP timestamp (every packet of a frame carries the same
// one), keyframes from the codec's payload header; nothing is decoded.
type VideoStats struct {
	// Codec is the track's MIME type, e.g. "video/VP8" (neko's default
	// pipeline: vp8enc, server/internal/config/capture.go).
	Codec     string
	Packets   int64
	Bytes     int64 // RTP payload bytes
	Frames    int64
	Keyframes int64
	// First and Last are when the first and the latest frame began.
	First, Last time.Time
}

// FPS is the frame rate between the first and the latest frame; 0 before
// two frames.
func (s VideoStats) FPS() float64 {
	d := s.Last.Sub(s.First)
	if s.Frames < 2 || d <= 0 {
		return 0
	}
	return float64(s.Frames-1) / d.Seconds()
}

// Since is the difference from an earlier snapshot: what arrived in
// between (First and Last are the later snapshot's).
func (s VideoStats) Since(before VideoStats) VideoStats {
	s.Packets -= before.Packets
	s.Bytes -= before.Bytes
	s.Frames -= before.Frames
	s.Keyframes -= before.Keyframes
	return s
}

// videoCounter counts the video track; changed is closed and replaced on
// every new frame, so that waiters need no polling.
type videoCounter struct {
	mu      sync.Mutex
	stats   VideoStats
	lastTS  uint32
	started bool
	changed chan struct{}
}

func (c *videoCounter) init() { c.changed = make(chan struct{}) }

func (c *videoCounter) packet(p *rtp.Packet, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Packets++
	c.stats.Bytes += int64(len(p.Payload))
	if c.started && p.Timestamp == c.lastTS {
		return
	}
	c.started, c.lastTS = true, p.Timestamp
	c.stats.Frames++
	if isKeyframe(c.stats.Codec, p.Payload) {
		c.stats.Keyframes++
	}
	if c.stats.First.IsZero() {
		c.stats.First = now
	}
	c.stats.Last = now
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *videoCounter) snapshot() (VideoStats, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats, c.changed
}

// isKeyframe looks at the first packet of a frame. A packet lost there
// makes a keyframe go uncounted, never a delta frame counted as one.
func isKeyframe(mime string, payload []byte) bool {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		var vp8 codecs.VP8Packet
		if _, err := vp8.Unmarshal(payload); err != nil || vp8.S != 1 || vp8.PID != 0 || len(vp8.Payload) == 0 {
			return false
		}
		// RFC 7741 4.3: P bit 0 in the VP8 payload header = key frame.
		return vp8.Payload[0]&0x01 == 0
	case strings.ToLower(webrtc.MimeTypeH264):
		return h264Keyframe(payload)
	}
	return false
}

// h264Keyframe reports an IDR slice or SPS in a single NAL unit, a STAP-A
// or the start of an FU-A (RFC 6184).
func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; {
	case t == 5 || t == 7:
		return true
	case t == 24: // STAP-A: 16-bit sizes, then NAL units
		for i := 1; i+2 < len(p); {
			if nt := p[i+2] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			i += 2 + (int(p[i])<<8 | int(p[i+1]))
		}
	case t == 28: // FU-A: start bit and the fragmented NAL's type
		return len(p) > 1 && p[1]&0x80 != 0 && (p[1]&0x1f == 5 || p[1]&0x1f == 7)
	}
	return false
}

// readTrack reads a remote track until the peer closes; only video is
// counted (neko's audio track is paused unless asked for).
func (v *Viewer) readTrack(t *webrtc.TrackRemote) {
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	if video {
		v.video.mu.Lock()
		v.video.stats.Codec = t.Codec().MimeType
		v.video.mu.Unlock()
	}
	for {
		p, _, err := t.ReadRTP()
		if err != nil {
			return // io.EOF once the peer closes
		}
		if video {
			v.video.packet(p, time.Now())
		}
	}
}

// Video returns what has been received of the video track so far.
func (v *Viewer) Video() VideoStats {
	s, _ := v.video.snapshot()
	return s
}

// WaitFrames returns once at least n frames in all have been received, or
// fails when ctx ends or the Viewer stops first.
func (v *Viewer) WaitFrames(ctx context.Context, n int64) (VideoStats, error) {
	for {
		s, changed := v.video.snapshot()
		if s.Frames >= n {
			return s, nil
		}
		select {
		case <-changed:
		case <-v.failed:
			return s, fmt.Errorf("viewer: waiting for %d frames (have %d): %w", n, s.Frames, v.Err())
		case <-ctx.Done():
			err := ctx.Err()
			if s.Frames == 0 {
				err = errors.Join(err, errors.New("no video received at all"))
			}
			return s, fmt.Errorf("viewer: waiting for %d frames (have %d): %w", n, s.Frames, err)
		}
	}
}
