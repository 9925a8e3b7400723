package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/nekotest"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tableAfter returns the rows (cells without backticks) of the first
// Markdown table after heading.
func tableAfter(t *testing.T, doc, heading string) [][]string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no %q", heading)
	}
	var rows [][]string
	started := false
	for _, l := range strings.Split(doc[i+len(heading)+2:], "\n") {
		if !strings.HasPrefix(l, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, cells)
	}
	return rows[1:] // the header
}

func unquote(s string) string { return strings.Trim(s, "`") }

// The README's exit-code table is the one the command uses
// (internal/exitcode), and `codrive --help` prints it.
func TestREADMEExitCodes(t *testing.T) {
	rows := tableAfter(t, readme(t), "### Exit codes")
	var got []exitcode.Code
	for _, r := range rows {
		n, err := strconv.Atoi(r[0])
		if err != nil {
			t.Fatalf("row %q", r)
		}
		got = append(got, exitcode.Code{Code: n, Meaning: r[1]})
	}
	if want := exitcode.Table(); !slices.Equal(got, want) {
		t.Fatalf("README exit codes:\n%v\nthe command's:\n%v", got, want)
	}
	_, out, _ := runCLI(t, "--help")
	for _, c := range exitcode.Table() {
		if line := fmt.Sprintf("%d  %s", c.Code, strings.ReplaceAll(c.Meaning, "`", "")); !strings.Contains(out, line) {
			t.Errorf("--help lacks %q", line)
		}
	}
}

// The README's list of environment variables is the command's (envVars),
// every flag's variable is in it, and `codrive --help` prints it.
func TestREADMEEnvironment(t *testing.T) {
	rows := tableAfter(t, readme(t), "### Flags and environment")
	var got []envVar
	for _, r := range rows {
		got = append(got, envVar{Name: unquote(r[0]), Flag: unquote(r[1]), Meaning: r[2]})
	}
	if want := envVars(); !slices.Equal(got, want) {
		t.Fatalf("README variables:\n%q\nthe command's (flags.go envVars):\n%q", got, want)
	}
	known := map[string]envVar{}
	for _, e := range envVars() {
		known[e.Name] = e
	}
	// Every variable a flag reads is listed, with that flag.
	app := newApp(nil, nil, &appState{getenv: os.LookupEnv})
	var walk func(flags []cli.Flag, cmds []*cli.Command)
	flagsSeen := map[string]bool{}
	walk = func(flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			for _, n := range f.Names() {
				flagsSeen["--"+n] = true
			}
			ev, ok := f.(interface{ GetEnvVars() []string })
			if !ok {
				continue
			}
			for _, v := range ev.GetEnvVars() {
				e, listed := known[v]
				if !listed || e.Flag != "--"+f.Names()[0] {
					t.Errorf("flag --%s reads $%s: not in envVars with that flag (%+v)", f.Names()[0], v, e)
				}
			}
		}
		for _, c := range cmds {
			walk(c.Flags, c.Subcommands)
		}
	}
	walk(app.Flags, app.Commands)
	for _, e := range envVars() {
		if e.Flag != "" && !flagsSeen[e.Flag] {
			t.Errorf("$%s is listed for %s, which no command has", e.Name, e.Flag)
		}
	}
	_, out, _ := runCLI(t, "--help")
	for _, e := range envVars() {
		if !strings.Contains(out, e.Name) {
			t.Errorf("--help lacks $%s", e.Name)
		}
	}
}

// The README's chromedp recipe is examples/chromedp, and it compiles.
func TestREADMEChromedpRecipe(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "chromedp", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	imports := s[strings.Index(s, "import ("):]
	imports = imports[:strings.Index(imports, ")\n")+1]
	body := strings.TrimRight(s[strings.Index(s, "func main() {"):], "\n")
	if block := "```go\n" + imports + "\n\n" + body + "\n```"; !strings.Contains(readme(t), block) {
		t.Fatalf("README's chromedp recipe differs from examples/chromedp/main.go:\n%s", block)
	}
	out, err := exec.Command("go", "build", "-o", os.DevNull, "../../examples/chromedp").CombinedOutput()
	if err != nil {
		t.Fatalf("examples/chromedp does not build: %v\n%s", err, out)
	}
}

// codeBlock returns the body of the fenced block of lang that follows
// marker in the README.
func codeBlock(t *testing.T, doc, marker, lang string) string {
	t.Helper()
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("README has no %q", marker)
	}
	rest := doc[i:]
	j := strings.Index(rest, "```"+lang+"\n")
	if j < 0 {
		t.Fatalf("no %s block after %q", lang, marker)
	}
	rest = rest[j+len(lang)+4:]
	return rest[:strings.Index(rest, "```")]
}

// The README's Playwright (Node) recipe, run as it is under `codrive run`
// (only its page is a local one): a person takes control when the handoff
// asks and releases it, and the script goes on.
func TestREADMEPlaywrightNodeRecipe(t *testing.T) {
	t.Parallel()
	driver, err := cdptest.DriverDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(driver, "package", "index.js")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("playwright driver not found in %s (make driver)", driver)
		}
		t.Skipf("playwright driver not found in %s (make driver)", driver)
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<!doctype html><title>login page</title><h1>log in</h1>")
	}))
	t.Cleanup(site.Close)
	script := strings.ReplaceAll(codeBlock(t, readme(t), "Playwright (Node):", "js"), "https://example.com/login", site.URL+"/login")

	// `require('playwright')` finds the driver's playwright-core.
	dir := t.TempDir()
	mod := filepath.Join(dir, "node_modules", "playwright")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	shim := fmt.Sprintf("module.exports = require(%q);\n", filepath.Join(driver, "package"))
	if err := os.WriteFile(filepath.Join(mod, "index.js"), []byte(shim), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "recipe.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}

	c := cdptest.StartT(t, cdptest.Options{})
	srv := newNeko(t, nil)
	alice, evs := person(t, srv.URL, "alice")
	cmd := exec.Command(binary(t), "--neko", srv.URL, "--cdp", c.URL, "run", "--", filepath.Join(driver, "node"), "recipe.js")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "CODRIVE_NEKO_PASSWORD=admin")
	var out bytes.Buffer
	errb := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &out, errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// The handoff: told in the chat, then the person's turn.
	var told bool
	_, err = neko.Await(ctxT(t), evs, func(ev neko.Event) bool {
		if m, ok := ev.Payload.(*neko.ChatMessage); ok && strings.Contains(m.Content.Text, "solve the CAPTCHA") {
			told = true
		}
		return told
	})
	if err != nil {
		t.Fatalf("no handoff in neko's chat: %v\n%s", err, errb.String())
	}
	if _, err := srv.WaitFor(ctxT(t), func(st nekotest.State) bool { return !st.HasHost }); err != nil {
		t.Fatal(err)
	}
	if res, err := alice.RequestControl(ctxT(t)); err != nil || res != neko.ControlGranted {
		t.Fatalf("alice could not take control: %v %v", res, err)
	}
	if err := alice.ReleaseControl(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil || strings.TrimSpace(out.String()) != "login page" {
			t.Fatalf("the recipe: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
		}
	case <-time.After(testTimeout):
		t.Fatalf("the recipe did not finish after the person released\n%s", errb.String())
	}
	// The tab people watch is still there, on the recipe's page.
	targets, err := cdp.ListTargets(ctxT(t), c.URL)
	if err != nil || !slices.ContainsFunc(targets, func(tg cdp.Target) bool { return tg.URL == site.URL+"/login" }) {
		t.Fatalf("the tab is gone: %v %+v", err, targets)
	}
}
