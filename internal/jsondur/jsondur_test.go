package jsondur

import (
	"encoding/json"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{``: 0, `null`: 0, `""`: 0, `"30s"`: 30 * time.Second, `1.5`: 1500 * time.Millisecond, ` 20 `: 20 * time.Second} {
		if got, err := Parse(json.RawMessage(in)); err != nil || got != want {
			t.Errorf("Parse(%s) = %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{`"soon"`, `-1`, `"-1s"`, `0`, `"0s"`, `true`, `1e12`, `{}`} {
		if _, err := Parse(json.RawMessage(bad)); err == nil {
			t.Errorf("Parse(%s): no error", bad)
		}
	}
}
