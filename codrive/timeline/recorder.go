package timeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/codrive/codrive/codrive/cdpproxy"
)

// CaptureFunc takes a screenshot of the page as it is now, as a JPEG. The
// Recorder calls it from one goroutine of its own, one call at a time,
// with a deadline (Options.CaptureTimeout). Tab.Capture is one.
type CaptureFunc func(ctx context.Context) ([]byte, error)

// Defaults of Options.
const (
	DefaultMaxShots        = 300
	DefaultMaxBytes        = 24 << 20
	DefaultMaxEvents       = 100_000
	DefaultMaxHeld         = 100_000
	DefaultCaptureTimeout  = 10 * time.Second
	DefaultNavigationDelay = 300 * time.Millisecond
	DefaultQueueSize       = 32
)

// pendingMax bounds what waits in memory for the disk: past it (a disk
// that stopped answering) events and held commands are dropped and counted
// rather than held in memory or blocking their source.
const pendingMax = 10_000

// Options configure a Recorder. The zero value records events and held
// commands without screenshots, under the default caps.
type Options struct {
	// Title names the recording in the report, e.g. "codrive demo".
	Title string
	// Capture takes the screenshots; nil records no screenshots.
	Capture CaptureFunc
	// MaxShots and MaxBytes cap the screenshots kept on disk (count, and
	// bytes of JPEG); defaults DefaultMaxShots and DefaultMaxBytes. Past
	// either, older screenshots are deleted, least informative first (see
	// the package doc).
	MaxShots int
	MaxBytes int64
	// MaxEvents and MaxHeld cap the lines of events.jsonl and held.jsonl;
	// past them, what comes is counted in meta.json and not written.
	MaxEvents int
	MaxHeld   int
	// CaptureTimeout bounds one screenshot; default DefaultCaptureTimeout.
	CaptureTimeout time.Duration
	// NavigationDelay is how long after a navigation its screenshot is
	// taken, so that it shows the new page painted rather than a blank
	// one; default DefaultNavigationDelay, negative for none. Host changes
	// are captured at once.
	NavigationDelay time.Duration
	// QueueSize bounds the capture requests waiting while a screenshot is
	// being taken; default DefaultQueueSize. Requests past it are dropped
	// and counted (Counts.CapturesDropped): the source is never blocked.
	QueueSize int
	Logger    *slog.Logger
}

func (o *Options) defaults() error {
	if o.MaxShots < 0 || o.MaxBytes < 0 || o.MaxEvents < 0 || o.MaxHeld < 0 || o.CaptureTimeout < 0 || o.QueueSize < 0 {
		return errors.New("timeline: negative cap in Options")
	}
	if o.MaxShots == 0 {
		o.MaxShots = DefaultMaxShots
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEvents == 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if o.MaxHeld == 0 {
		o.MaxHeld = DefaultMaxHeld
	}
	if o.CaptureTimeout == 0 {
		o.CaptureTimeout = DefaultCaptureTimeout
	}
	if o.NavigationDelay == 0 {
		o.NavigationDelay = DefaultNavigationDelay
	}
	if o.NavigationDelay < 0 {
		o.NavigationDelay = 0
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Recorder writes a recording directory while a run goes on. Its methods
// never block on the disk or on a screenshot, and are safe for concurrent
// use: Event and Held only copy what they are given into a bounded buffer
// that a goroutine of the Recorder writes out, and screenshots are taken
// by another, off the caller's path.
type Recorder struct {
	dir     string
	opts    Options
	log     *slog.Logger
	started time.Time

	events, held *os.File // owned by the writer goroutine once started

	mu            sync.Mutex
	closed        bool
	pendEvents    []pendingEvent
	pendHeld      []Held
	nEvents       int
	nHeld         int
	droppedEvents int
	droppedHeld   int
	last          lastSeen
	writeErr      error

	wake       chan struct{} // one slot: "there is something to write"
	flushes    chan chan struct{}
	writerStop chan struct{}
	writerDone chan struct{}

	shots *shooter // nil without Options.Capture

	closeOnce sync.Once
	closeErr  error
}

type pendingEvent struct {
	ev  Event
	raw []byte // the line as given to EventJSON, compacted; nil from Event
}

// lastSeen is what the previous event said, to see what changed.
type lastSeen struct {
	have                   bool
	state, host, gate, url string
}

// Start creates the recording directory dir (it must not exist, or be
// empty) and starts recording. Close it to finish the recording.
func Start(dir string, opts Options) (*Recorder, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	r := &Recorder{
		dir: dir, opts: opts, log: opts.Logger, started: time.Now(),
		wake: make(chan struct{}, 1), flushes: make(chan chan struct{}), writerStop: make(chan struct{}), writerDone: make(chan struct{}),
	}
	var err error
	if r.events, err = createFile(dir, EventsFile); err != nil {
		return nil, err
	}
	if r.held, err = createFile(dir, HeldFile); err != nil {
		r.events.Close()
		return nil, err
	}
	if err := r.writeMeta(Counts{}, time.Time{}); err != nil {
		r.events.Close()
		r.held.Close()
		return nil, err
	}
	if opts.Capture != nil {
		if r.shots, err = startShooter(r); err != nil {
			r.events.Close()
			r.held.Close()
			return nil, err
		}
	}
	go r.writer()
	return r, nil
}

func prepareDir(dir string) error {
	if dir == "" {
		return errors.New("timeline: no recording directory given")
	}
	entries, err := os.ReadDir(dir)
	switch {
	case err == nil && len(entries) > 0:
		return fmt.Errorf("timeline: recording directory %s is not empty (a recording starts in a new or empty directory)", dir)
	case err == nil:
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("timeline: create recording directory: %w", err)
		}
	default:
		return fmt.Errorf("timeline: recording directory: %w", err)
	}
	if err := os.Mkdir(filepath.Join(dir, ShotsDir), 0o755); err != nil {
		return fmt.Errorf("timeline: create %s: %w", ShotsDir, err)
	}
	return nil
}

func createFile(dir, name string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	return f, nil
}

// Dir is the recording directory.
func (r *Recorder) Dir() string { return r.dir }

// Event records one event; the first should be the status when recording
// starts (attach prints one, reason "attached"). Events after Close are
// ignored.
func (r *Recorder) Event(ev Event) { r.event(ev, nil) }

// EventJSON records one line of `codrive attach --json` (or a JSON-encoded
// codrive.Event) as it is, unknown fields included. A line that is not an
// event is an error and is not recorded.
func (r *Recorder) EventJSON(line []byte) error {
	ev, err := ParseEvent(line)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	var raw bytes.Buffer
	if err := json.Compact(&raw, bytes.TrimSpace(line)); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	r.event(ev, raw.Bytes())
	return nil
}

func (r *Recorder) event(ev Event, raw []byte) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if r.nEvents >= r.opts.MaxEvents || len(r.pendEvents) >= pendingMax {
		r.droppedEvents++
		r.mu.Unlock()
		return
	}
	idx := r.nEvents
	r.nEvents++
	r.pendEvents = append(r.pendEvents, pendingEvent{ev: ev, raw: raw})
	reqs := r.triggers(ev, idx)
	// Under the lock: Close cannot slip between the check and the send.
	for _, q := range reqs {
		r.shots.request(q)
	}
	r.mu.Unlock()
	r.kick()
}

// Held records a held command's end. Its signature is
// cdpproxy.Options.OnHeld's: it only appends to a buffer, so it returns
// at once, as OnHeld must.
func (r *Recorder) Held(h cdpproxy.HeldCommand) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	if r.nHeld >= r.opts.MaxHeld || len(r.pendHeld) >= pendingMax {
		r.droppedHeld++
		r.mu.Unlock()
		return
	}
	r.nHeld++
	r.pendHeld = append(r.pendHeld, HeldFrom(h))
	r.mu.Unlock()
	r.kick()
}

// Snapshot asks for a screenshot now, for a reason of the caller's (a
// smoke check touching the page). It does not wait for it.
func (r *Recorder) Snapshot() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.shots.request(shotReq{why: WhySnapshot, event: -1})
	}
}

// triggers says which screenshots an event calls for: at every host change
// (a person's turn starting or ending among them), when a handoff starts,
// and after every navigation. Called with r.mu held.
func (r *Recorder) triggers(ev Event, idx int) []shotReq {
	prev := r.last
	st := ev.Status
	r.last = lastSeen{have: true, state: st.State, host: st.Host, gate: st.Gate, url: prev.url}
	if ev.Page != nil && ev.Page.URL != "" {
		r.last.url = ev.Page.URL
	}
	if r.shots == nil {
		return nil
	}
	var reqs []shotReq
	add := func(why string, delay time.Duration) {
		q := shotReq{why: why, event: idx}
		if delay > 0 {
			q.notBefore = time.Now().Add(delay)
		}
		reqs = append(reqs, q)
	}
	switch {
	case !prev.have:
		add(WhyStart, 0)
	case st.State != prev.state || st.Host != prev.host:
		switch {
		case st.State == stateHuman:
			add(WhyTurnStart, 0)
		case prev.state == stateHuman:
			add(WhyTurnEnd, 0)
		default:
			add(WhyHost, 0)
		}
	}
	if prev.have && st.Gate == gateHandoff && prev.gate != gateHandoff {
		add(WhyHandoff, 0)
	}
	if ev.Kind == kindPage && prev.have && r.last.url != prev.url {
		add(WhyNavigation, r.opts.NavigationDelay)
	}
	return reqs
}

// kick wakes the writer without ever waiting.
func (r *Recorder) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// writer writes what Event and Held buffered, until Close.
func (r *Recorder) writer() {
	defer close(r.writerDone)
	for {
		select {
		case <-r.wake:
			r.flush()
		case done := <-r.flushes:
			r.flush()
			close(done)
		case <-r.writerStop:
			r.flush()
			return
		}
	}
}

func (r *Recorder) flush() {
	r.mu.Lock()
	evs, held := r.pendEvents, r.pendHeld
	r.pendEvents, r.pendHeld = nil, nil
	r.mu.Unlock()
	var buf bytes.Buffer
	for _, p := range evs {
		if p.raw != nil {
			buf.Write(p.raw)
		} else if b, err := json.Marshal(p.ev); err == nil {
			buf.Write(b)
		}
		buf.WriteByte('\n')
	}
	r.write(r.events, buf.Bytes())
	buf.Reset()
	for _, h := range held {
		b, _ := json.Marshal(h)
		buf.Write(b)
		buf.WriteByte('\n')
	}
	r.write(r.held, buf.Bytes())
}

func (r *Recorder) write(f *os.File, b []byte) {
	if len(b) == 0 {
		return
	}
	if _, err := f.Write(b); err != nil {
		r.fail(fmt.Errorf("timeline: write %s: %w", f.Name(), err))
	}
}

// fail keeps the first write error for Close, and logs each.
func (r *Recorder) fail(err error) {
	r.log.Warn("timeline: recording", "err", err)
	r.mu.Lock()
	if r.writeErr == nil {
		r.writeErr = err
	}
	r.mu.Unlock()
}

// Flush waits until every screenshot asked for so far is taken and every
// event and held command recorded so far is written (not synced). Unlike
// the other methods it waits, for as long as ctx allows: for tests, and
// for callers that want the page captured before they go on (a smoke
// check). After Close it returns at once.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil
	}
	if err := r.shots.flush(ctx); err != nil {
		return fmt.Errorf("timeline: flush: %w", err)
	}
	done := make(chan struct{})
	select {
	case r.flushes <- done:
	case <-r.writerDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("timeline: flush: %w", ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("timeline: flush: %w", ctx.Err())
	}
}

// Counts reports what has been recorded so far.
func (r *Recorder) Counts() Counts {
	r.mu.Lock()
	c := Counts{Events: r.nEvents, EventsDropped: r.droppedEvents, Held: r.nHeld, HeldDropped: r.droppedHeld}
	r.mu.Unlock()
	r.shots.counts(&c)
	return c
}

// Close finishes the recording: a last screenshot (bounded by ctx), then
// everything buffered written, then meta.json with the end time and the
// counts. It is safe to call more than once; it returns the first error
// met while recording.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() { r.closeErr = r.close(ctx) })
	return r.closeErr
}

func (r *Recorder) close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.shots.stop(ctx)
	close(r.writerStop)
	<-r.writerDone
	ended := time.Now()
	err := r.writeMeta(r.Counts(), ended)
	r.mu.Lock()
	werr := r.writeErr
	r.mu.Unlock()
	err = errors.Join(werr, err)
	for _, f := range []*os.File{r.events, r.held} {
		if cerr := f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("timeline: %w", cerr))
		}
	}
	return err
}

// writeMeta replaces meta.json atomically: a reader never sees half of it.
func (r *Recorder) writeMeta(c Counts, ended time.Time) error {
	m := Meta{
		Format: FormatVersion, Title: r.opts.Title, Started: r.started, Ended: ended,
		Caps:   Caps{MaxShots: r.opts.MaxShots, MaxBytes: r.opts.MaxBytes, MaxEvents: r.opts.MaxEvents, MaxHeld: r.opts.MaxHeld},
		Counts: c,
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	tmp := filepath.Join(r.dir, MetaFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, MetaFile)); err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	return nil
}
