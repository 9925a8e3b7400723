package nekoserver

import (
	"bytes"
	"sync"
)

// logBuffer keeps the last logLimit bytes written to it; safe for
// concurrent writers (a process's stdout and stderr).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

const logLimit = 256 << 10

func newLogBuffer() *logBuffer { return &logBuffer{} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len()+len(p) > logLimit {
		keep := append([]byte(nil), l.b.Bytes()[max(0, l.b.Len()-logLimit/2):]...)
		l.b.Reset()
		l.b.Write(keep)
	}
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
