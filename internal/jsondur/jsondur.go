// Package jsondur reads the timeouts codrive's HTTP endpoints take in JSON
// bodies (the proxy's and the operator's POST /codrive/handoff, the
// operator's request): one reading, so the two accept the same bodies.
package jsondur

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Parse reads a Go duration string ("30s") or a number of seconds (1.5).
// Absent, null and "" are 0: the caller's default. Zero, negative and
// absurdly large values are errors, as is anything else.
func Parse(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("codrive: bad timeout %q (want a positive duration such as \"30s\")", s)
		}
		return d, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err != nil || secs <= 0 || secs > 1e9 {
		return 0, fmt.Errorf("codrive: bad timeout %s (want a duration such as \"30s\" or a positive number of seconds)", raw)
	}
	return time.Duration(secs * float64(time.Second)), nil
}
