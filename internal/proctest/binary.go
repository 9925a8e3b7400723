package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Binary is the codrive command built once for a test package, for the
// tests that must run, signal or kill a real process. The zero value is
// ready; TestMain calls Remove after m.Run.
type Binary struct {
	// NoRace builds without the race detector (a binary whose speed is
	// measured); by default it has it, like the tests.
	NoRace bool

	once      sync.Once
	dir, path string
	err       error
}

// Path builds github.com/codrive/codrive/cmd/codrive on first use and
// returns the binary's path.
func (b *Binary) Path(tb testing.TB) string {
	tb.Helper()
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "codrive-bin-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "codrive")
		args := []string{"build", "-o", b.path}
		if !b.NoRace {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "github.com/codrive/codrive/cmd/codrive")...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build ./cmd/codrive: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// Remove deletes the binary, if it was built.
func (b *Binary) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
