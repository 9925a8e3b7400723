package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
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
