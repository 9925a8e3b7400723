package proctest

import (
	"errors"
	"os"
	"path/filepath"
)

// ModuleRoot is the repository's root, found by walking up from the
// working directory (go test sets it to the package's folder) to go.mod:
// where .cache holds the Playwright driver and the built neko.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
