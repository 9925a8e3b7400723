package viewer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/codrive/codrive/neko"
)

// Signaling events (server/pkg/types/event/events.go).
const (
	eventSignalRequest   = "signal/request"
	eventSignalProvide   = "signal/provide"
	eventSignalOffer     = "signal/offer"
	eventSignalRestart   = "signal/restart"
	eventSignalAnswer    = "signal/answer"
	eventSignalCandidate = "signal/candidate"
	eventSignalClose     = "signal/close"
)

// signaling handles neko's signal/* events until the Viewer ends.
func (v *Viewer) signaling(events <-chan neko.Event) {
	for {
		select {
		case <-v.ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				v.fail(fmt.Errorf("%w: websocket ended: %v", ErrClosed, v.conn.Err()))
				return
			}
			if err := v.handleSignal(ev); err != nil {
				v.fail(err)
				return
			}
		}
	}
}

type signalProvide struct {
	SDP        string             `json:"sdp"`
	ICEServers []webrtc.ICEServer `json:"iceservers"`
}

type signalDescription struct {
	SDP string `json:"sdp"`
}

func (v *Viewer) handleSignal(ev neko.Event) error {
	if strings.HasPrefix(ev.Name, "signal/") {
		v.log.Debug("viewer: signal", "event", ev.Name, "bytes", len(ev.Raw))
	}
	switch ev.Name {
	case eventSignalProvide:
		var p signalProvide
		if err := json.Unmarshal(ev.Raw, &p); err != nil {
			return fmt.Errorf("viewer: decode %s: %w", ev.Name, err)
		}
		v.mu.Lock()
		v.provided = true
		v.mu.Unlock()
		if err := v.createPeer(p.ICEServers); err != nil {
			return err
		}
		return v.answer(p.SDP)
	case eventSignalOffer, eventSignalRestart:
		var p signalDescription
		if err := json.Unmarshal(ev.Raw, &p); err != nil {
			return fmt.Errorf("viewer: decode %s: %w", ev.Name, err)
		}
		return v.answer(p.SDP)
	case eventSignalCandidate:
		var c webrtc.ICECandidateInit
		if err := json.Unmarshal(ev.Raw, &c); err != nil {
			return fmt.Errorf("viewer: decode %s: %w", ev.Name, err)
		}
		return v.addCandidate(c)
	case eventSignalClose:
		return fmt.Errorf("%w: neko closed the media peer (signal/close)", ErrClosed)
	case neko.EventClosed:
		return fmt.Errorf("%w: websocket ended: %v", ErrClosed, v.conn.Err())
	}
	return nil
}

// createPeer makes the PeerConnection for neko's offer. As the web client:
// ICE servers only when neko sends some (with ICE lite it sends none).
func (v *Viewer) createPeer(servers []webrtc.ICEServer) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closing {
		// Close has already closed whatever peer there was; a new one
		// would outlive it.
		return ErrClosed
	}
	if v.pc != nil {
		return errors.New("viewer: neko sent a second signal/provide")
	}
	pc, err := v.api.NewPeerConnection(webrtc.Configuration{ICEServers: servers})
	if err != nil {
		return fmt.Errorf("viewer: new peer connection: %w", err)
	}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		// neko rejects a candidate that arrives before our answer
		// ("remote description is not set"), and gathering starts
		// before the answer is sent: hold them until then.
		v.mu.Lock()
		if !v.answered {
			v.local = append(v.local, c.ToJSON())
			v.mu.Unlock()
			return
		}
		v.mu.Unlock()
		v.sendCandidate(c.ToJSON())
	})
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		v.mu.Lock()
		v.iceState = s
		cands := v.remoteCand
		v.mu.Unlock()
		v.log.Debug("viewer: ICE state", "state", s)
		if s == webrtc.ICEConnectionStateFailed {
			v.fail(fmt.Errorf("%w (neko's candidates %q)", ErrICEFailed, cands))
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		v.log.Debug("viewer: peer state", "state", s)
		switch s {
		case webrtc.PeerConnectionStateFailed:
			v.fail(fmt.Errorf("%w: peer connection failed", ErrICEFailed))
		case webrtc.PeerConnectionStateClosed:
			v.fail(fmt.Errorf("%w: peer connection closed", ErrClosed))
		}
	})
	pc.OnDataChannel(v.onDataChannel)
	pc.OnTrack(func(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		v.mu.Lock()
		if v.closing {
			v.mu.Unlock()
			return
		}
		v.wg.Add(1)
		v.mu.Unlock()
		defer v.wg.Done()
		// pion runs each OnTrack handler on a goroutine of its own.
		v.readTrack(t)
	})
	v.pc = pc
	return nil
}

// answer applies a remote offer and sends our answer.
func (v *Viewer) answer(sdp string) error {
	v.mu.Lock()
	pc := v.pc
	v.mu.Unlock()
	if pc == nil {
		return errors.New("viewer: neko renegotiated before providing a peer")
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return fmt.Errorf("viewer: neko's offer: %w", err)
	}
	v.mu.Lock()
	v.remoteSet = true
	pending := v.pending
	v.pending = nil
	v.mu.Unlock()
	for _, c := range pending {
		if err := pc.AddICECandidate(c); err != nil {
			return fmt.Errorf("viewer: neko's candidate %q: %w", c.Candidate, err)
		}
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("viewer: create answer: %w", err)
	}
	if err := pc.SetLocalDescription(ans); err != nil {
		return fmt.Errorf("viewer: set answer: %w", err)
	}
	if err := v.conn.Send(eventSignalAnswer, signalDescription{SDP: pc.LocalDescription().SDP}); err != nil {
		return fmt.Errorf("viewer: send answer: %w", err)
	}
	v.mu.Lock()
	v.answered = true
	local := v.local
	v.local = nil
	v.mu.Unlock()
	for _, c := range local {
		v.sendCandidate(c)
	}
	return nil
}

func (v *Viewer) sendCandidate(c webrtc.ICECandidateInit) {
	if err := v.conn.Send(eventSignalCandidate, c); err != nil {
		v.log.Debug("viewer: send candidate", "err", err)
	}
}

func (v *Viewer) addCandidate(c webrtc.ICECandidateInit) error {
	v.mu.Lock()
	v.remoteCand = append(v.remoteCand, c.Candidate)
	if !v.remoteSet {
		v.pending = append(v.pending, c)
		v.mu.Unlock()
		return nil
	}
	pc := v.pc
	v.mu.Unlock()
	if err := pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("viewer: neko's candidate %q: %w", c.Candidate, err)
	}
	return nil
}

// onDataChannel takes neko's "data" channel (manager.go CreatePeer creates
// it; the legacy client-created channel exists only in legacy mode).
func (v *Viewer) onDataChannel(dc *webrtc.DataChannel) {
	v.mu.Lock()
	v.dc = dc
	v.mu.Unlock()
	dc.OnOpen(func() { v.openOnce.Do(func() { close(v.opened) }) })
	dc.OnClose(func() { v.fail(fmt.Errorf("%w: neko closed the data channel", ErrClosed)) })
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		op, x, y, p, ok := decodeServer(m.Data)
		if !ok {
			return
		}
		switch op {
		case opCursorPosition:
			v.mu.Lock()
			v.cursor, v.cursorSeen = [2]int{x, y}, true
			v.mu.Unlock()
		case opPong:
			select {
			case v.pongs <- p:
			default:
			}
		}
	})
}
