package neko

import (
	"context"
	"errors"
	"fmt"
)

// Await reads events until ok accepts one and returns it. It fails when the
// channel closes (the Conn ended) or ctx ends first. ok may keep state
// across calls, to wait for several events in any order.
func Await(ctx context.Context, events <-chan Event, ok func(Event) bool) (Event, error) {
	for {
		select {
		case ev, open := <-events:
			if !open {
				return Event{}, errors.New("neko: socket closed while waiting for an event")
			}
			if ok(ev) {
				return ev, nil
			}
		case <-ctx.Done():
			return Event{}, fmt.Errorf("neko: waiting for an event: %w", ctx.Err())
		}
	}
}

// HostIs accepts the control/host event that makes id the host, or, with
// id "", the one that leaves the room without a host.
func HostIs(id string) func(Event) bool {
	return func(ev Event) bool {
		h, ok := ev.Payload.(*ControlHost)
		if !ok || ev.Name != EventControlHost {
			return false
		}
		if id == "" {
			return !h.HasHost
		}
		return h.HasHost && h.HostID == id
	}
}
