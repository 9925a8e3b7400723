package cdptest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/playwright-community/playwright-go"

	"github.com/codrive/codrive/internal/proctest"
)

// DriverDir is where scripts/install-playwright-driver.sh puts the
// Playwright driver: $CODRIVE_PLAYWRIGHT_DRIVER, or .cache/playwright-driver
// at the root of the repository (found by walking up to go.mod from the
// working directory, which go test sets to the package's folder).
func DriverDir() (string, error) {
	if d := os.Getenv("CODRIVE_PLAYWRIGHT_DRIVER"); d != "" {
		return d, nil
	}
	dir, err := proctest.ModuleRoot()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w (set CODRIVE_PLAYWRIGHT_DRIVER)", err)
	}
	return filepath.Join(dir, ".cache", "playwright-driver"), nil
}

// Playwright starts playwright-go with the repository's driver and stops it
// on cleanup. It never installs anything and never downloads a browser:
// tests connect it to a Chromium from Start with
// pw.Chromium.ConnectOverCDP(c.URL). Without the driver the test is skipped
// locally and fails under CI=true, as with Require.
func Playwright(tb testing.TB) *playwright.Playwright {
	tb.Helper()
	dir, err := DriverDir()
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "package", "cli.js")); err != nil {
		msg := fmt.Sprintf("playwright driver not found in %s (install it: make driver)", dir)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	// Stdout, Stderr and Logger stay unset on purpose: setting them makes
	// playwright-go replace process-wide loggers, which races between
	// parallel tests.
	pw, err := playwright.Run(&playwright.RunOptions{
		DriverDirectory:     dir,
		SkipInstallBrowsers: true,
		Verbose:             false,
	})
	if err != nil {
		tb.Fatalf("start playwright driver from %s: %v (reinstall it: make driver)", dir, err)
	}
	tb.Cleanup(func() {
		if err := pw.Stop(); err != nil {
			tb.Errorf("stop playwright: %v", err)
		}
	})
	return pw
}
