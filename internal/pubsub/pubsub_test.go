package pubsub

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestSlowSubscriberDoesNotBlockOrLose(t *testing.T) {
	defer goleak.VerifyNone(t)
	var h Hub[int]
	slow, cancelSlow := h.Subscribe()
	fast, cancelFast := h.Subscribe()
	defer cancelFast()
	const n = 10000
	for i := 0; i < n; i++ {
		h.Publish(i) // must not block although nobody reads slow yet
	}
	for i := 0; i < n; i++ {
		if v := recv(t, fast); v != i {
			t.Fatalf("fast got %d, want %d", v, i)
		}
	}
	for i := 0; i < n; i++ {
		if v := recv(t, slow); v != i {
			t.Fatalf("slow got %d, want %d", v, i)
		}
	}
	cancelSlow()
	if _, ok := <-slow; ok {
		t.Fatal("channel open after cancel")
	}
}

func TestCloseDeliversQueuedThenCloses(t *testing.T) {
	defer goleak.VerifyNone(t)
	var h Hub[string]
	ch, cancel := h.Subscribe()
	defer cancel()
	h.Publish("a")
	h.Publish("b")
	h.Close()
	h.Publish("c")
	var got []string
	for v := range ch {
		got = append(got, v)
	}
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("got %v", got)
	}
	late, _ := h.Subscribe()
	if _, ok := <-late; ok {
		t.Fatal("subscribe after close must give a closed channel")
	}
}

func TestCancelDropsUnread(t *testing.T) {
	defer goleak.VerifyNone(t)
	var h Hub[int]
	_, cancel := h.Subscribe()
	h.Publish(1)
	cancel()
	cancel() // idempotent
	if h.Len() != 0 {
		t.Fatalf("Len = %d after cancel", h.Len())
	}
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a value")
	}
	var zero T
	return zero
}

func TestHaltDropsAndClosesAtOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	var h Hub[int]
	ch, cancel := h.Subscribe()
	defer cancel()
	h.Publish(1) // never read
	h.Halt()
	if _, ok := <-ch; ok {
		t.Fatal("Halt must drop queued values and close the channel")
	}
	late, _ := h.Subscribe()
	if _, ok := <-late; ok {
		t.Fatal("subscribe after Halt must give a closed channel")
	}
}
