package timeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/codrive/codrive/codrive/cdpproxy"
)

// FormatVersion is the version of the recording format written in
// meta.json. A reader refuses a newer one.
const FormatVersion = 1

// The files of a recording directory (see the package doc).
const (
	MetaFile     = "meta.json"
	EventsFile   = "events.jsonl"
	HeldFile     = "held.jsonl"
	CapturesFile = "captures.jsonl"
	ShotsDir     = "shots"
)

// Meta is meta.json: what the recording is and what it left out.
type Meta struct {
	Format int    `json:"format"`
	Title  string `json:"title,omitempty"`
	// Started is when recording began; Ended when Close finished (zero in
	// a recording whose process died: the reader then ends the timeline at
	// the last thing recorded).
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"`
	// Caps are the limits the recording ran under.
	Caps Caps `json:"caps"`
	// Counts are written by Close.
	Counts Counts `json:"counts"`
}

// Caps bound a recording's disk use.
type Caps struct {
	MaxShots  int   `json:"maxShots"`
	MaxBytes  int64 `json:"maxBytes"`
	MaxEvents int   `json:"maxEvents"`
	MaxHeld   int   `json:"maxHeld"`
}

// Counts say what was recorded and what was left out, and why.
type Counts struct {
	Events int `json:"events"`
	// EventsDropped: events not recorded, past MaxEvents or while the
	// disk could not keep up.
	EventsDropped int `json:"eventsDropped,omitempty"`
	Held          int `json:"held"`
	HeldDropped   int `json:"heldDropped,omitempty"`
	// Captures counts the screenshots attempted (captures.jsonl lines).
	Captures       int `json:"captures"`
	CapturesFailed int `json:"capturesFailed,omitempty"`
	// CapturesDropped: capture requests refused because the capture queue
	// was full (the page changed faster than screenshots could be taken).
	CapturesDropped int `json:"capturesDropped,omitempty"`
	// CapturesEvicted: screenshot files deleted to stay under the caps.
	CapturesEvicted int   `json:"capturesEvicted,omitempty"`
	ShotBytes       int64 `json:"shotBytes"`
}

// Why a screenshot was taken (Capture.Why).
const (
	WhyStart      = "start"      // the first event of the recording
	WhyTurnStart  = "turn-start" // a person took control
	WhyTurnEnd    = "turn-end"   // a person let go of control
	WhyHost       = "host"       // another host change (automation took or released control)
	WhyHandoff    = "handoff"    // automation asked a person for help
	WhyNavigation = "navigation" // the tab navigated
	WhySnapshot   = "snapshot"   // Recorder.Snapshot
	WhyEnd        = "end"        // Recorder.Close
)

// Capture is one line of captures.jsonl: a screenshot taken, or tried.
type Capture struct {
	N    int       `json:"n"`    // 1, 2, ... in the order taken
	Time time.Time `json:"time"` // when it was taken
	Why  []string  `json:"why"`  // the Why* reasons of the requests it serves
	// Events are the indexes (0-based lines of events.jsonl) of the events
	// it was taken for; one screenshot serves every request that was
	// waiting when it was taken.
	Events []int `json:"events,omitempty"`
	// File is the JPEG, relative to the recording; "" when the capture
	// failed. A capture whose file is gone was evicted to stay under the
	// caps.
	File   string `json:"file,omitempty"`
	Bytes  int    `json:"bytes,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	// Same is the earlier capture whose file this one shares, when the
	// page had not changed (byte-identical JPEG).
	Same  int    `json:"same,omitempty"`
	Error string `json:"error,omitempty"`
}

// Held is one line of held.jsonl: a script's acting command that had to
// wait for control (cdpproxy.HeldCommand).
type Held struct {
	Method  string    `json:"method"`
	Session string    `json:"session,omitempty"`
	Conn    int64     `json:"conn,omitempty"`
	Arrived time.Time `json:"arrived"`
	// HeldMS is how long it waited, in milliseconds.
	HeldMS  float64 `json:"heldMs"`
	Outcome string  `json:"outcome"` // released, answered, timed-out, failed, abandoned
	Detail  string  `json:"detail,omitempty"`
}

// HeldFrom converts the proxy's report.
func HeldFrom(h cdpproxy.HeldCommand) Held {
	return Held{
		Method: h.Method, Session: h.Session, Conn: h.Conn, Arrived: h.Arrived,
		HeldMS: ms(h.Held), Outcome: string(h.Outcome), Detail: h.Detail,
	}
}

// Settled is when the command stopped waiting.
func (h Held) Settled() time.Time {
	return h.Arrived.Add(time.Duration(h.HeldMS * float64(time.Millisecond)))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Recording is a recording directory read back.
type Recording struct {
	Dir      string
	Meta     Meta
	Events   []Event
	Held     []Held
	Captures []Capture
	// Notes are problems met while reading that did not stop it (a line
	// cut short by a crash, a missing meta.json).
	Notes []string
}

// Load reads a recording directory. A recording cut short (the process
// died: no Ended, a partial last line) still loads, with Notes saying so;
// anything else malformed is an error naming the file and line.
func Load(dir string) (*Recording, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("timeline: recording %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("timeline: recording %s is not a directory (a recording is the directory --record wrote)", dir)
	}
	rec := &Recording{Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, e := os.Stat(filepath.Join(dir, EventsFile)); e != nil {
			return nil, fmt.Errorf("timeline: %s is not a recording: it has neither %s nor %s", dir, MetaFile, EventsFile)
		}
		rec.Notes = append(rec.Notes, MetaFile+" is missing: the caps and counts of this recording are unknown")
	case err != nil:
		return nil, fmt.Errorf("timeline: %w", err)
	default:
		if err := json.Unmarshal(b, &rec.Meta); err != nil {
			return nil, fmt.Errorf("timeline: %s: %w", filepath.Join(dir, MetaFile), err)
		}
		if rec.Meta.Format > FormatVersion {
			return nil, fmt.Errorf("timeline: %s is format %d; this codrive reads up to format %d (upgrade codrive)", dir, rec.Meta.Format, FormatVersion)
		}
		if rec.Meta.Ended.IsZero() {
			rec.Notes = append(rec.Notes, "the recording was not closed (the process ended without finishing it): the timeline ends at the last thing recorded")
		}
	}
	if err := readLines(rec, EventsFile, func(line []byte) error {
		ev, err := ParseEvent(line)
		if err == nil {
			rec.Events = append(rec.Events, ev)
		}
		return err
	}); err != nil {
		return nil, err
	}
	if err := readLines(rec, HeldFile, func(line []byte) error {
		var h Held
		if err := json.Unmarshal(line, &h); err != nil {
			return err
		}
		rec.Held = append(rec.Held, h)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := readLines(rec, CapturesFile, func(line []byte) error {
		var c Capture
		if err := json.Unmarshal(line, &c); err != nil {
			return err
		}
		if c.File != "" && !validShotPath(c.File) {
			return fmt.Errorf("capture %d: file %q is not under %s/", c.N, c.File, ShotsDir)
		}
		rec.Captures = append(rec.Captures, c)
		return nil
	}); err != nil {
		return nil, err
	}
	return rec, nil
}

// validShotPath keeps a report from embedding files outside the recording.
func validShotPath(p string) bool {
	return strings.HasPrefix(p, ShotsDir+"/") && filepath.IsLocal(p) && !strings.Contains(p[len(ShotsDir)+1:], "/")
}

// readLines calls f for every line of a JSON-lines file; a missing file is
// an empty one. A last line without its newline is what a crash leaves: it
// is skipped with a note when it does not parse.
func readLines(rec *Recording, name string, f func([]byte) error) error {
	path := filepath.Join(rec.Dir, name)
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	defer file.Close()
	r := bufio.NewReaderSize(file, 64<<10)
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if perr := f(line); perr != nil {
				if err == io.EOF {
					rec.Notes = append(rec.Notes, fmt.Sprintf("%s: the last line (%d) was cut short and is left out", name, n))
					return nil
				}
				return fmt.Errorf("timeline: %s line %d: %w", path, n, perr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("timeline: %s: %w", path, err)
		}
	}
}
