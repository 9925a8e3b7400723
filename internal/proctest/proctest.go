// Package proctest reads a test process's output line by line and lets the
// test wait for a line, with a deadline: the one way the command's tests,
// the fleet's and the end-to-end scenarios wait on what a codrive binary
// prints.
package proctest

import (
	"bufio"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lines is what a process printed so far; it grows until the process
// closes its end.
type Lines struct {
	mu      sync.Mutex
	all     []string
	changed chan struct{} // closed at every new line, and at the end
	done    bool
	next    int // Next's cursor
}

// Read collects r's lines until it ends.
func Read(r io.Reader) *Lines {
	l := &Lines{changed: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.add(sc.Text(), false)
		}
		l.add("", true)
	}()
	return l
}

func (l *Lines) add(line string, done bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if done {
		l.done = true
	} else {
		l.all = append(l.all, line)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// String is every line so far.
func (l *Lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}

// Wait returns re's submatches in the first line, printed so far or
// later, that matches it; it fails the test when the output ends or
// timeout passes first.
func (l *Lines) Wait(t testing.TB, timeout time.Duration, what string, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	l.await(t, timeout, what, 0, func(line string) bool {
		m = re.FindStringSubmatch(line)
		return m != nil
	})
	return m
}

// Next returns the next line, after the one the previous Next returned,
// that holds every part: for output where the same line comes more than
// once, in order.
func (l *Lines) Next(t testing.TB, timeout time.Duration, parts ...string) string {
	t.Helper()
	l.mu.Lock()
	from := l.next
	l.mu.Unlock()
	i := l.await(t, timeout, "a line with "+strings.Join(parts, ", "), from, func(line string) bool {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				return false
			}
		}
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.next = i + 1
	return l.all[i]
}

// await returns the index of the first line from from on that ok accepts.
func (l *Lines) await(t testing.TB, timeout time.Duration, what string, from int, ok func(string) bool) int {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for i := from; i < len(l.all); i++ {
			if ok(l.all[i]) {
				l.mu.Unlock()
				return i
			}
		}
		from = len(l.all)
		changed, done := l.changed, l.done
		l.mu.Unlock()
		if done {
			t.Fatalf("the output ended before %s:\n%s", what, l)
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no %s within %v:\n%s", what, timeout, l)
		}
	}
}
