package deploytest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Bad input to the parsers gives an error, never a panic.
func TestParsersRejectBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("  --orphan\n[program:chromium\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SupervisordProgram(bad, "chromium"); err == nil {
		t.Error("SupervisordProgram on a broken file: no error")
	}
	if _, err := SupervisordProgram(filepath.Join(dir, "missing"), "chromium"); err == nil {
		t.Error("SupervisordProgram on a missing file: no error")
	}
	df := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(df, []byte("FROM x \\\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseDockerfile(df); err == nil {
		t.Error("ParseDockerfile with a dangling continuation: no error")
	}
}

func TestParseHelpAndCheck(t *testing.T) {
	t.Parallel()
	h := ParseHelp(`NAME:
   codrive attach - attach

OPTIONS:
   --http value  serve operators here [$CODRIVE_HTTP]
   --json        print JSON (default: false)
   --help, -h    show help
`)
	if !h.Flags["--http"] || !h.Values["--http"] || !h.Flags["--json"] || h.Values["--json"] || !h.Flags["-h"] {
		t.Fatalf("flags %v values %v", h.Flags, h.Values)
	}
	if len(h.Env) != 1 || h.Env[0] != "CODRIVE_HTTP" {
		t.Fatalf("env %v", h.Env)
	}
	c := CLI{Global: map[string]bool{"--neko": true}, Commands: map[string]map[string]bool{"attach": h.Flags},
		ValueFlags: map[string]bool{"--http": true, "--neko": true}}
	for _, ok := range [][]string{{"attach", "--http", "0.0.0.0:8081", "--json"}, {"--neko", "x", "attach"}, {"attach", "--http=:1"}} {
		if errs := c.Check(ok); len(errs) != 0 {
			t.Errorf("Check(%q): %v", ok, errs)
		}
	}
	for _, bad := range [][]string{{}, {"bogus"}, {"attach", "--nope"}, {"attach", "--http"}, {"--neko", "x"}} {
		if errs := c.Check(bad); len(errs) == 0 {
			t.Errorf("Check(%q): no error", bad)
		}
	}
	if errs := c.Check([]string{"attach", "--http"}); !errors.Is(errs[0], errNoValue) {
		t.Errorf("a value flag with no value: %v", errs)
	}
}
