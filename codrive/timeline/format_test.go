package timeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeRecording writes a recording directory by hand: the format is what
// users keep, so the reader is tested on files, not only on what the
// Recorder writes.
func writeRecording(t *testing.T, meta *Meta, events []Event, held []Held, captures []Capture) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rec")
	if err := os.MkdirAll(filepath.Join(dir, ShotsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if meta != nil {
		writeJSON(t, filepath.Join(dir, MetaFile), meta)
	}
	writeLines(t, filepath.Join(dir, EventsFile), events)
	writeLines(t, filepath.Join(dir, HeldFile), held)
	writeLines(t, filepath.Join(dir, CapturesFile), captures)
	return dir
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeLines[T any](t *testing.T, path string, vs []T) {
	t.Helper()
	var b strings.Builder
	for _, v := range vs {
		line, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRefusesWhatIsNotARecording(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 17, 45, 0, 0, time.UTC)
	ev := evAt(t0, "state", "free", "", "waiting", false, "")
	meta := &Meta{Format: FormatVersion, Started: t0, Ended: t0.Add(time.Second)}
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		dir  func() string
		want string
	}{
		"missing": {func() string { return filepath.Join(t.TempDir(), "nope") }, "no such file"},
		"a file":  {func() string { return file }, "is not a directory"},
		"empty":   {func() string { return t.TempDir() }, "is not a recording"},
		"newer format": {func() string {
			return writeRecording(t, &Meta{Format: FormatVersion + 1, Started: t0}, nil, nil, nil)
		}, "upgrade codrive"},
		"bad meta": {func() string {
			d := writeRecording(t, meta, nil, nil, nil)
			_ = os.WriteFile(filepath.Join(d, MetaFile), []byte("{"), 0o644)
			return d
		}, MetaFile},
		"bad event mid-file": {func() string {
			d := writeRecording(t, meta, []Event{ev}, nil, nil)
			appendFile(t, filepath.Join(d, EventsFile), "{\"kind\":\"state\"}\n")
			writeLinesAppend(t, filepath.Join(d, EventsFile), ev)
			return d
		}, "events.jsonl line 2: event without a time"},
		"capture outside the recording": {func() string {
			return writeRecording(t, meta, []Event{ev}, nil, []Capture{{N: 1, Time: t0, File: "../../etc/passwd"}})
		}, "is not under shots/"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(tc.dir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load: %v, want an error with %q", err, tc.want)
			}
			if _, err := os.Stat(file); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func writeLinesAppend(t *testing.T, path string, ev Event) {
	t.Helper()
	b, _ := json.Marshal(ev)
	appendFile(t, path, string(b)+"\n")
}

// What a crash leaves (no end in meta.json, a line cut short, even no
// meta.json) still loads, and says so.
func TestLoadACrashedRecording(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 17, 45, 0, 0, time.UTC)
	evs := []Event{
		evAt(t0, "state", "automation", "codrive-1", "open", true, ""),
		evAt(t0.Add(2*time.Second), "state", "human", "alice-1", "waiting", false, ""),
	}
	held := []Held{{Method: "Input.insertText", Arrived: t0.Add(3 * time.Second), HeldMS: 4000, Outcome: "abandoned"}}
	dir := writeRecording(t, &Meta{Format: FormatVersion, Started: t0}, evs, held, nil)
	appendFile(t, filepath.Join(dir, EventsFile), `{"time":"2026-11-23T17:45:09Z","kind":"sta`)
	rec, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Events) != 2 || len(rec.Notes) != 2 {
		t.Fatalf("%d events, notes %q", len(rec.Events), rec.Notes)
	}
	if !strings.Contains(rec.Notes[0], "not closed") || !strings.Contains(rec.Notes[1], "line (3) was cut short") {
		t.Errorf("notes %q", rec.Notes)
	}
	// It ends at the last thing recorded: the held command abandoned at +7 s.
	if r := Build(rec); r.DurationMS != 7000 || r.Segments[1].DurMS != 5000 {
		t.Errorf("duration %v, segments %+v", r.DurationMS, r.Segments)
	}

	_ = os.Remove(filepath.Join(dir, MetaFile))
	rec, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rec.Notes, "\n"), MetaFile+" is missing") {
		t.Errorf("notes %q", rec.Notes)
	}
}
