package timeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// shotReq asks for a screenshot: why, for which event (-1: none), and not
// before when (a navigation waits for the new page to paint). A request
// with flushed set is no request: Flush's marker, closed once everything
// queued before it is on disk.
type shotReq struct {
	why       string
	event     int
	notBefore time.Time
	flushed   chan struct{}
}

// shooter takes the screenshots on a goroutine of its own. Requests wait
// in a bounded channel; each screenshot serves every request waiting when
// it is taken (they all ask for "the page now"), so a burst of events
// costs one screenshot, not one per event.
type shooter struct {
	r       *Recorder
	reqs    chan shotReq
	quit    chan struct{}
	done    chan struct{}
	ctx     context.Context // ends when Close gives up waiting
	cancel  context.CancelFunc
	file    *os.File // captures.jsonl
	dropped int      // requests refused, queue full (under r.mu)

	mu      sync.Mutex
	n       int // captures attempted
	failed  int
	evicted int
	kept    []*storedShot // oldest first
	byHash  map[[32]byte]*storedShot
	total   int64
	firstN  int // the first screenshot kept: never evicted while others can be
}

// storedShot is a screenshot file on disk.
type storedShot struct {
	n     int // the capture that wrote it
	file  string
	bytes int
	rank  int // how informative: eviction takes the lowest first
	hash  [32]byte
}

func startShooter(r *Recorder) (*shooter, error) {
	f, err := createFile(r.dir, CapturesFile)
	if err != nil {
		return nil, err
	}
	s := &shooter{
		r: r, reqs: make(chan shotReq, r.opts.QueueSize), quit: make(chan struct{}), done: make(chan struct{}),
		file: f, byHash: map[[32]byte]*storedShot{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// request queues q without ever waiting; a full queue drops it, counted.
// Called with r.mu held.
func (s *shooter) request(q shotReq) {
	if s == nil {
		return
	}
	select {
	case s.reqs <- q:
	default:
		s.dropped++
	}
}

func (s *shooter) counts(c *Counts) {
	if s == nil {
		return
	}
	s.r.mu.Lock()
	c.CapturesDropped = s.dropped
	s.r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Captures, c.CapturesFailed, c.CapturesEvicted, c.ShotBytes = s.n, s.failed, s.evicted, s.total
}

// stop takes the last screenshot, serves what is queued and ends the
// goroutine; when ctx ends first, the screenshot in progress is abandoned.
func (s *shooter) stop(ctx context.Context) {
	if s == nil {
		return
	}
	select {
	case s.reqs <- shotReq{why: WhyEnd, event: -1}:
	case <-ctx.Done():
	}
	close(s.quit)
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
	}
	s.cancel()
	if err := s.file.Close(); err != nil {
		s.r.fail(fmt.Errorf("timeline: %w", err))
	}
}

func (s *shooter) run() {
	defer close(s.done)
	for {
		var first shotReq
		select {
		case first = <-s.reqs:
		case <-s.quit:
			select {
			case first = <-s.reqs:
			default:
				return
			}
		}
		batch := s.drain([]shotReq{first})
		// A navigation waits for its page to paint; whatever arrives
		// meanwhile rides along.
		var notBefore time.Time
		for _, q := range batch {
			if q.notBefore.After(notBefore) {
				notBefore = q.notBefore
			}
		}
		if wait := time.Until(notBefore); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-s.quit:
			case <-s.ctx.Done():
			}
			t.Stop()
			batch = s.drain(batch)
		}
		var markers []chan struct{}
		batch = slices.DeleteFunc(batch, func(q shotReq) bool {
			if q.flushed != nil {
				markers = append(markers, q.flushed)
			}
			return q.flushed != nil
		})
		if len(batch) > 0 {
			s.take(batch)
		}
		for _, m := range markers {
			close(m)
		}
	}
}

// flush waits until every request queued before it is served.
func (s *shooter) flush(ctx context.Context) error {
	if s == nil {
		return nil
	}
	done := make(chan struct{})
	select {
	case s.reqs <- shotReq{event: -1, flushed: done}:
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain adds every request waiting now.
func (s *shooter) drain(batch []shotReq) []shotReq {
	for {
		select {
		case q := <-s.reqs:
			batch = append(batch, q)
		default:
			return batch
		}
	}
}

// take takes one screenshot for batch, stores it under the caps and
// writes its line.
func (s *shooter) take(batch []shotReq) {
	c := Capture{Time: time.Now()}
	for _, q := range batch {
		if !slices.Contains(c.Why, q.why) {
			c.Why = append(c.Why, q.why)
		}
		if q.event >= 0 && !slices.Contains(c.Events, q.event) {
			c.Events = append(c.Events, q.event)
		}
	}
	slices.Sort(c.Events)
	ctx, cancel := context.WithTimeout(s.ctx, s.r.opts.CaptureTimeout)
	img, err := s.r.opts.Capture(ctx)
	cancel()
	if err == nil {
		ic, derr := jpeg.DecodeConfig(bytes.NewReader(img))
		if derr != nil {
			err = fmt.Errorf("not a JPEG image (%d bytes): %w", len(img), derr)
		}
		c.Width, c.Height = ic.Width, ic.Height
	}
	s.mu.Lock()
	s.n++
	c.N = s.n
	if err != nil {
		c.Error = "screenshot failed: " + err.Error()
	} else if err := s.store(&c, img, rankOf(c.Why)); err != nil {
		c.Error = err.Error()
	}
	if c.Error != "" {
		s.failed++
	}
	s.mu.Unlock()
	if c.Error != "" {
		s.r.log.Debug("timeline: capture", "n", c.N, "why", c.Why, "err", c.Error)
	}
	b, _ := json.Marshal(c)
	if _, err := s.file.Write(append(b, '\n')); err != nil {
		s.r.fail(fmt.Errorf("timeline: write %s: %w", CapturesFile, err))
	}
}

// rankOf says how much a screenshot tells: one taken only because the tab
// navigated (0) is the least informative, a Snapshot (1) more, and one at a
// host change, a person's turn, a handoff, the start or the end (2) most.
func rankOf(why []string) int {
	rank := 0
	for _, w := range why {
		switch w {
		case WhyNavigation:
		case WhySnapshot:
			rank = max(rank, 1)
		default:
			rank = 2
		}
	}
	return rank
}

// store writes img under the caps, or shares the file of an identical
// earlier screenshot. Called with s.mu held.
func (s *shooter) store(c *Capture, img []byte, rank int) error {
	h := sha256.Sum256(img)
	if old, ok := s.byHash[h]; ok {
		c.File, c.Bytes, c.Same = old.file, old.bytes, old.n
		old.rank = max(old.rank, rank)
		return nil
	}
	caps := s.r.opts
	if int64(len(img)) > caps.MaxBytes {
		return fmt.Errorf("screenshot of %d bytes is larger than the whole cap (MaxBytes %d): not kept", len(img), caps.MaxBytes)
	}
	for len(s.kept)+1 > caps.MaxShots || s.total+int64(len(img)) > caps.MaxBytes {
		if !s.evictOne() {
			return errors.New("no room under the caps: not kept")
		}
	}
	name := filepath.ToSlash(filepath.Join(ShotsDir, fmt.Sprintf("%06d.jpg", c.N)))
	if err := os.WriteFile(filepath.Join(s.r.dir, name), img, 0o644); err != nil {
		return fmt.Errorf("write screenshot: %w", err)
	}
	st := &storedShot{n: c.N, file: name, bytes: len(img), rank: rank, hash: h}
	if len(s.kept) == 0 && s.firstN == 0 {
		s.firstN = c.N
	}
	s.kept = append(s.kept, st)
	s.byHash[h] = st
	s.total += int64(len(img))
	c.File, c.Bytes = name, len(img)
	return nil
}

// evictOne deletes the least informative screenshot, the oldest among
// equals; the recording's first screenshot goes last. False when nothing
// is left to delete.
func (s *shooter) evictOne() bool {
	victim := -1
	for i, st := range s.kept {
		if st.n == s.firstN && len(s.kept) > 1 {
			continue
		}
		if victim < 0 || st.rank < s.kept[victim].rank {
			victim = i
		}
	}
	if victim < 0 {
		return false
	}
	st := s.kept[victim]
	if err := os.Remove(filepath.Join(s.r.dir, st.file)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.r.fail(fmt.Errorf("timeline: evict %s: %w", st.file, err))
	}
	s.kept = slices.Delete(s.kept, victim, victim+1)
	delete(s.byHash, st.hash)
	s.total -= int64(st.bytes)
	s.evicted++
	return true
}
