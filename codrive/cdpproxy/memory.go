package cdpproxy

import (
	"runtime/debug"
	"sync"
	"time"
)

// memRelease gives memory back to the system after a large client message
// is gone. Go returns freed heap only after a garbage collection, and a
// proxy that goes quiet after one large message allocates too little to
// start one: measured on `codrive attach --listen`, a 300 MB frame left
// RSS at 147 MiB (8x idle) for the two minutes until the runtime's forced
// collection. One debug.FreeOSMemory (a collection of the small live heap,
// then every free page returned) shortly after such a message brings it
// back to idle; it is cheap next to moving the message, and runs at most
// once per second.
type memRelease struct {
	mu      sync.Mutex
	timer   *time.Timer
	last    time.Time
	stopped bool
	running sync.WaitGroup // a release under way
}

// releaseAfter is the size of a message worth a release.
const releaseAfter = 16 << 20

// released notes that a message of n bytes the proxy buffered is gone.
func (m *memRelease) released(n int64) {
	if n < releaseAfter {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped || m.timer != nil {
		return
	}
	wait := max(100*time.Millisecond, time.Second-time.Since(m.last))
	m.running.Add(1)
	m.timer = time.AfterFunc(wait, m.free)
}

func (m *memRelease) free() {
	defer m.running.Done()
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.timer = nil
	m.last = time.Now()
	m.mu.Unlock()
	debug.FreeOSMemory()
}

// stop cancels a pending release and waits for one under way, when the
// proxy closes.
func (m *memRelease) stop() {
	m.mu.Lock()
	m.stopped = true
	if m.timer != nil && m.timer.Stop() {
		m.running.Done() // it will not run
	}
	m.timer = nil
	m.mu.Unlock()
	m.running.Wait()
}
