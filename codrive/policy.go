package codrive

import (
	"fmt"
	"strings"
)

// Policy decides what happens when a person asks for control while
// automation holds it.
type Policy string

const (
	// PolicyYield pauses automation at once and gives control to the person.
	PolicyYield Policy = "yield"
	// PolicyFinishStep lets the step in flight finish, then yields.
	PolicyFinishStep Policy = "finish-step"
	// PolicyHold keeps control and tells the person why.
	PolicyHold Policy = "hold"
	// PolicyLocked locks the room's controls while automation runs.
	PolicyLocked Policy = "locked"
)

// Policies lists every policy, in the order above, for flag help and
// pickers. The slice is the caller's.
func Policies() []Policy {
	return []Policy{PolicyYield, PolicyFinishStep, PolicyHold, PolicyLocked}
}

// ParsePolicy turns a policy's name ("yield", "finish-step", "hold",
// "locked") into the Policy, or says which names are valid.
func ParsePolicy(s string) (Policy, error) {
	all := Policies()
	names := make([]string, len(all))
	for i, p := range all {
		if string(p) == s {
			return p, nil
		}
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown policy %q (want one of %s)", s, strings.Join(names, ", "))
}
