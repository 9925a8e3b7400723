// Package viewer joins a neko v3 room as a real viewer, the way neko's web
// client does: a WebSocket session (package neko), WebRTC negotiated over
// it with pion, the video track received (frames and keyframes counted, not
// decoded), and the person's mouse and keyboard sent as binary messages on
// the data channel neko opens. It is what tests use for a person's hands
// and eyes: input that goes WebRTC → neko → XTEST → X server → the browser,
// and the stream a person watches.
//
// The path, in neko v3.1.5's source:
//   - signaling (server/internal/websocket/handler/signal.go): the client
//     sends signal/request; neko creates the peer and sends its offer as
//     signal/provide; the client answers with signal/answer; ICE candidates
//     travel both ways as signal/candidate (neko trickles by default);
//     signal/offer and signal/restart renegotiate; signal/close ends it;
//   - the peer (server/internal/webrtc/manager.go CreatePeer): an audio
//     track (paused), a video track, and a data channel "data" created by
//     neko; with ICE lite neko sends no ICE servers, and the client then
//     uses none (as the web client does);
//   - input (server/internal/webrtc/handler.go): see input.go. neko acts on
//     a data channel message only from the host: a non-host's move only
//     updates its inactive cursor, anything else is dropped. There is no
//     implicit hosting on the data channel: the web client asks for control
//     on the WebSocket (control/request) first, and so does the Viewer.
package viewer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/codrive/codrive/neko"
)

// Errors a Viewer reports, wrapped with what happened.
var (
	// ErrNoOffer: neko sent no signal/provide in time. nekotest, which has
	// no media, never does; real neko does not for a session without
	// can_watch.
	ErrNoOffer = errors.New("viewer: neko sent no WebRTC offer")
	// ErrNotConnected: the offer came but ICE or DTLS did not connect in
	// time, the most common neko deployment failure (NAT1TO1, EPR ports).
	ErrNotConnected = errors.New("viewer: WebRTC did not connect")
	// ErrICEFailed: ICE reached "failed" (or the peer connection did).
	ErrICEFailed = errors.New("viewer: ICE failed")
	// ErrDataChannel: the data channel is not open (not yet, or closed).
	ErrDataChannel = errors.New("viewer: data channel not open")
	// ErrNotHost: input while another session hosts and implicit hosting
	// is off; neko would drop it silently.
	ErrNotHost = errors.New("viewer: not the host")
	// ErrClosed: the Viewer was closed, or its WebSocket or peer ended.
	ErrClosed = errors.New("viewer: closed")
)

// Options configure a Viewer. The zero value takes the defaults.
type Options struct {
	// ConnectTimeout bounds Join from signal/request to an open data
	// channel; default 15s, the web client's own connection timeout.
	ConnectTimeout time.Duration
	// HostTimeout bounds the wait for control/host after control/request;
	// default 10s.
	HostTimeout time.Duration
	// ConnOptions are the options of the Viewer's WebSocket; NoReconnect
	// is always set: neko destroys the peer of a session whose socket is
	// replaced, so a reconnected socket would have no media anyway.
	ConnOptions neko.ConnOptions
	// Logger gets the viewer's and pion's diagnostics; default: discarded.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 15 * time.Second
	}
	if o.HostTimeout <= 0 {
		o.HostTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	o.ConnOptions.NoReconnect = true
	if o.ConnOptions.Logger == nil {
		o.ConnOptions.Logger = o.Logger
	}
	return o
}

// Viewer is one person in a neko room: a WebSocket session with a WebRTC
// peer. Its methods are safe for concurrent use.
type Viewer struct {
	opts   Options
	log    *slog.Logger
	client *neko.Client
	conn   *neko.Conn
	api    *webrtc.API

	ctx    context.Context // the Viewer's lifetime
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	pc         *webrtc.PeerConnection
	dc         *webrtc.DataChannel
	pending    []webrtc.ICECandidateInit // neko's candidates before its offer
	remoteSet  bool
	local      []webrtc.ICECandidateInit // ours, gathered before our answer went out
	answered   bool
	provided   bool
	iceState   webrtc.ICEConnectionState
	remoteCand []string // neko's candidates, for error messages
	cursor     [2]int
	cursorSeen bool
	closing    bool // set by Close: no goroutine may start after it

	opened   chan struct{} // closed once the data channel is open
	openOnce sync.Once
	failed   chan struct{} // closed with err set
	failOnce sync.Once
	err      error

	video videoCounter

	pingMu sync.Mutex
	pongs  chan pong

	closeOnce sync.Once
}

// Join connects a logged-in client's session to the room as a viewer: it
// opens a WebSocket, asks neko for a peer, answers neko's offer, and
// returns once the data channel is open (the video track usually starts
// with it). It fails with ErrNoOffer, ErrNotConnected, ErrICEFailed or
// ErrDataChannel, saying what it saw, after Options.ConnectTimeout or when
// ctx ends, whichever comes first.
func Join(ctx context.Context, client *neko.Client, opts Options) (*Viewer, error) {
	if client == nil {
		return nil, errors.New("viewer: join: nil client")
	}
	opts = opts.withDefaults()
	api, err := newAPI(opts.Logger)
	if err != nil {
		return nil, err
	}
	conn, err := client.Connect(ctx, opts.ConnOptions)
	if err != nil {
		return nil, fmt.Errorf("viewer: join: websocket: %w", err)
	}
	v := &Viewer{
		opts: opts, log: opts.Logger, client: client, conn: conn, api: api,
		iceState: webrtc.ICEConnectionStateNew,
		opened:   make(chan struct{}),
		failed:   make(chan struct{}),
		pongs:    make(chan pong, 8),
	}
	v.video.init()
	v.ctx, v.cancel = context.WithCancel(context.Background())
	events, unsubscribe := conn.Subscribe()
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer unsubscribe()
		v.signaling(events)
	}()

	// What the web client asks for: the default video, audio off (neko
	// turns audio on unless told otherwise, signal.go signalRequest).
	req := map[string]any{"video": map[string]any{}, "audio": map[string]any{"disabled": true}}
	if err := conn.Send(eventSignalRequest, req); err != nil {
		v.Close()
		return nil, fmt.Errorf("viewer: join: %w", err)
	}
	// A deadline of ctx sooner than ConnectTimeout is the bound instead,
	// with the same account of what did not happen.
	wait, byCtx := opts.ConnectTimeout, false
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		wait, byCtx = time.Until(dl), true
	}
	start := time.Now()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-v.opened:
		return v, nil
	case <-v.failed:
		err = v.Err()
	case <-timer.C:
		err = v.timeoutError(time.Since(start))
		if byCtx {
			err = fmt.Errorf("%w (%w)", err, context.DeadlineExceeded)
		}
	case <-ctx.Done():
		err = fmt.Errorf("%w (%w)", v.timeoutError(time.Since(start)), ctx.Err())
	}
	v.Close()
	return nil, err
}

// newAPI is pion set up as a browser on this machine would be: default
// codecs and interceptors (NACKs, receiver reports), UDP over IPv4
// (loopback included: a neko on this machine may advertise 127.0.0.1), no
// mDNS.
func newAPI(log *slog.Logger) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, fmt.Errorf("viewer: codecs: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, fmt.Errorf("viewer: interceptors: %w", err)
	}
	s := webrtc.SettingEngine{LoggerFactory: pionLogs{log}}
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetIncludeLoopbackCandidate(true)
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s), webrtc.WithInterceptorRegistry(ir)), nil
}

// timeoutError says which step of Join did not happen in time.
func (v *Viewer) timeoutError(waited time.Duration) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	d := waited.Round(time.Millisecond)
	switch {
	case !v.provided:
		return fmt.Errorf("%w within %v of signal/request (nekotest has no media; on real neko the session needs can_watch)", ErrNoOffer, d)
	case v.iceState != webrtc.ICEConnectionStateConnected && v.iceState != webrtc.ICEConnectionStateCompleted:
		return fmt.Errorf("%w within %v: ICE state %s; neko's candidates %q (check NEKO_WEBRTC_NAT1TO1 and that the NEKO_WEBRTC_EPR/UDPMUX ports are reachable from here)",
			ErrNotConnected, d, v.iceState, v.remoteCand)
	default:
		return fmt.Errorf("%w: ICE %s, but neko's data channel did not open within %v", ErrDataChannel, v.iceState, d)
	}
}

// fail records the first fatal error and wakes everyone waiting.
func (v *Viewer) fail(err error) {
	v.failOnce.Do(func() {
		v.mu.Lock()
		v.err = err
		v.mu.Unlock()
		v.log.Debug("viewer failed", "err", err)
		close(v.failed)
	})
}

// Err is nil while the Viewer works; afterwards it says why it stopped.
func (v *Viewer) Err() error {
	select {
	case <-v.failed:
	default:
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// Done is closed when the Viewer has stopped working (Close, a closed
// WebSocket, a failed peer).
func (v *Viewer) Done() <-chan struct{} { return v.failed }

// Conn is the Viewer's WebSocket (for control events and the room state).
func (v *Viewer) Conn() *neko.Conn { return v.conn }

// SessionID is the viewer's neko session.
func (v *Viewer) SessionID() string { return v.client.SessionID() }

// ScreenSize is neko's desktop size, the space input coordinates are in.
func (v *Viewer) ScreenSize() neko.ScreenSize { return v.conn.Room().ScreenSize }

// Close ends the peer connection and the WebSocket (a clean close: neko
// clears our host at once) and waits for every goroutine it started.
func (v *Viewer) Close() error {
	v.closeOnce.Do(func() {
		v.fail(ErrClosed)
		v.cancel()
		v.mu.Lock()
		pc := v.pc
		v.closing = true
		v.mu.Unlock()
		if pc != nil {
			// GracefulClose waits for pion's own goroutines, the track
			// readers' included (their reads end with io.EOF).
			if err := pc.GracefulClose(); err != nil {
				v.log.Debug("viewer: close peer", "err", err)
			}
		}
		_ = v.conn.Close()
		v.wg.Wait()
	})
	return nil
}
