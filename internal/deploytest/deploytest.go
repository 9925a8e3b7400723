// Package deploytest is test support for codrive's deployment files
// (compose/, deploy/kubernetes/, the Dockerfile): the real codrive CLI's
// help as data, a Dockerfile's instructions, supervisord programs, and
// where neko v3.1.5's own files are. It reads files and runs the built
// binary; nothing in it is a stand-in for what it checks.
package deploytest

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codrive/codrive/internal/proctest"
)

// RepoRoot is the module root: the nearest folder above the working
// directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := proctest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// NekoSource is neko v3.1.5's source and image files (server/, apps/,
// image-config.yml), found as scripts/build-neko.sh finds them: $NEKO_SOURCE,
// ../shared/third_party/neko beside the repository, beside the main work
// tree of a git worktree, or beside the local repository it was cloned from. Without them the test is skipped, or fails
// under CI=true, where they must be.
func NekoSource(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	cands := []string{os.Getenv("NEKO_SOURCE"), filepath.Join(root, "..", "shared", "third_party", "neko")}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--path-format=absolute", "--git-common-dir").Output(); err == nil {
		common := strings.TrimSpace(string(out))
		if filepath.Base(common) == ".git" {
			cands = append(cands, filepath.Join(filepath.Dir(common), "..", "shared", "third_party", "neko"))
		}
	}
	// A clone of a local repository (CI clones main): beside its origin.
	if out, err := exec.Command("git", "-C", root, "config", "--get", "remote.origin.url").Output(); err == nil {
		origin := strings.TrimPrefix(strings.TrimSpace(string(out)), "file://")
		if fi, err := os.Stat(origin); err == nil && fi.IsDir() {
			cands = append(cands, filepath.Join(origin, "..", "shared", "third_party", "neko"))
		}
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(c, "apps", "chromium", "policies.json")); err == nil {
			return c
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("neko v3.1.5's source not found (NEKO_SOURCE, %v): CI must compare against it", cands[1:])
	}
	t.Skipf("neko v3.1.5's source not found (set NEKO_SOURCE to the folder with apps/chromium/)")
	return ""
}

// Instruction is one Dockerfile instruction, continuation lines joined.
type Instruction struct {
	Line int
	Op   string // upper case: FROM, RUN, ...
	Args string
}

// ParseDockerfile reads a Dockerfile's instructions.
func ParseDockerfile(path string) ([]Instruction, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var (
		out     []Instruction
		pending strings.Builder
		start   int
	)
	for n, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		// Blank and comment lines are dropped, inside a continuation too.
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if pending.Len() == 0 {
			start = n + 1
		}
		if cont, ok := strings.CutSuffix(trimmed, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(trimmed)
		op, args, _ := strings.Cut(pending.String(), " ")
		out = append(out, Instruction{Line: start, Op: strings.ToUpper(op), Args: strings.TrimSpace(args)})
		pending.Reset()
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: instruction continues past the end of the file", path, start)
	}
	return out, nil
}

// SupervisordProgram reads one [program:NAME] section of a supervisord
// file: its keys, with indented continuation lines joined to the key above.
func SupervisordProgram(path, name string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var (
		section string
		last    string
		found   bool
		keys    = map[string]string{}
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, ";") || strings.HasPrefix(trimmed, "#"):
			continue
		case strings.HasPrefix(trimmed, "["):
			if !strings.HasSuffix(trimmed, "]") {
				return nil, fmt.Errorf("%s:%d: bad section header %q", path, n, trimmed)
			}
			section = strings.TrimSpace(trimmed[1 : len(trimmed)-1])
			last = ""
			if section == "program:"+name {
				if found {
					return nil, fmt.Errorf("%s:%d: [program:%s] twice", path, n, name)
				}
				found = true
			}
		case line[0] == ' ' || line[0] == '\t':
			if last == "" {
				return nil, fmt.Errorf("%s:%d: continuation line with no key above", path, n)
			}
			if section == "program:"+name {
				keys[last] += " " + trimmed
			}
		default:
			k, v, ok := strings.Cut(trimmed, "=")
			if !ok {
				return nil, fmt.Errorf("%s:%d: want key=value, got %q", path, n, trimmed)
			}
			last = strings.TrimSpace(k)
			if section == "program:"+name {
				keys[last] = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !found {
		return nil, fmt.Errorf("%s: no [program:%s]", path, name)
	}
	return keys, nil
}

// errNoValue: a flag that takes a value came last.
var errNoValue = errors.New("flag without its value")
