package neko

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestAwait(t *testing.T) {
	ch := make(chan Event, 4)
	ch <- Event{Name: EventSystemHeartbeat}
	ch <- Event{Name: EventControlHost, Payload: &ControlHost{HasHost: true, HostID: "bob"}}
	ch <- Event{Name: EventControlHost, Payload: &ControlHost{HasHost: true, HostID: "alice"}}
	ch <- Event{Name: EventControlHost, Payload: &ControlHost{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev, err := Await(ctx, ch, HostIs("alice"))
	if err != nil || ev.Payload.(*ControlHost).HostID != "alice" {
		t.Fatalf("got %+v %v", ev, err)
	}
	if _, err := Await(ctx, ch, HostIs("")); err != nil {
		t.Fatal(err)
	}
	close(ch)
	if _, err := Await(ctx, ch, HostIs("")); err == nil {
		t.Fatal("a closed channel must be an error")
	}
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := Await(short, make(chan Event), HostIs("")); !errors.Is(err, context.Canceled) {
		t.Fatalf("ctx end: %v", err)
	}
}
