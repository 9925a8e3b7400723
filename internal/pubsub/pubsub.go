// Package pubsub fans values out to any number of subscribers. Each
// subscriber has its own unbounded queue, so a slow subscriber never blocks
// the publisher or the other subscribers, and nothing is dropped: for a
// control-arbitration tool a lost "a person took over" event is a bug, while
// a few queued events in memory are not.
package pubsub

import "sync"

// Hub publishes values of type T to its subscribers. The zero value is ready
// to use. Methods are safe for concurrent use.
type Hub[T any] struct {
	mu     sync.Mutex
	subs   map[*sub[T]]struct{}
	closed bool
}

type sub[T any] struct {
	out     chan T
	wake    chan struct{}
	cancel  chan struct{}
	ended   chan struct{}
	once    sync.Once
	mu      sync.Mutex
	queue   []T
	closing bool
}

// Subscribe returns a channel that receives every value published from now
// on, in order, and a cancel func that ends the subscription at once (queued
// values are dropped) and closes the channel. After Close the channel is
// closed once the values already queued have been received; a subscriber
// must therefore either read until the channel closes or call cancel.
func (h *Hub[T]) Subscribe() (<-chan T, func()) {
	s := &sub[T]{
		out:    make(chan T),
		wake:   make(chan struct{}, 1),
		cancel: make(chan struct{}),
		ended:  make(chan struct{}),
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		close(s.out)
		return s.out, func() {}
	}
	if h.subs == nil {
		h.subs = make(map[*sub[T]]struct{})
	}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	go s.pump()
	return s.out, func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		s.once.Do(func() { close(s.cancel) })
		<-s.ended
	}
}

// Publish queues v for every current subscriber. It never blocks on them.
func (h *Hub[T]) Publish(v T) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	for s := range h.subs {
		s.mu.Lock()
		s.queue = append(s.queue, v)
		s.mu.Unlock()
		s.poke()
	}
}

// Close ends every subscription after its queued values are delivered.
// Publish after Close does nothing; Subscribe returns a closed channel.
func (h *Hub[T]) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	subs := h.subs
	h.subs = nil
	h.mu.Unlock()
	for s := range subs {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		s.poke()
	}
}

// Halt ends every subscription at once: values not yet received are
// dropped and each channel is closed before Halt returns. Unlike Close it
// never waits on a reader, so an abandoned subscription cannot hold it up.
func (h *Hub[T]) Halt() {
	h.mu.Lock()
	h.closed = true
	subs := h.subs
	h.subs = nil
	h.mu.Unlock()
	for s := range subs {
		s.once.Do(func() { close(s.cancel) })
		<-s.ended
	}
}

// Len reports the number of live subscriptions.
func (h *Hub[T]) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (s *sub[T]) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sub[T]) pump() {
	defer close(s.ended)
	defer close(s.out)
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return
			}
			select {
			case <-s.wake:
				continue
			case <-s.cancel:
				return
			}
		}
		v := s.queue[0]
		var zero T
		s.queue[0] = zero // let the value be collected once delivered
		s.queue = s.queue[1:]
		s.mu.Unlock()
		select {
		case s.out <- v:
		case <-s.cancel:
			return
		}
	}
}
