package deploytest

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/proctest"
)

// CLI is what the real `codrive --help` and `codrive CMD --help` say.
type CLI struct {
	// Bin is the built binary.
	Bin string
	// Global are the global flags, with dashes.
	Global map[string]bool
	// Env is every $ENV named in any help screen.
	Env map[string]bool
	// Commands maps each command to its flags, with dashes.
	Commands map[string]map[string]bool
	// ValueFlags are the flags that take a value (they show "value" in
	// the help), global or of any command.
	ValueFlags map[string]bool
}

var (
	helpFlag = regexp.MustCompile(`^\s+((?:--?[a-z0-9][a-z0-9-]*(?:, )?)+)( value)?`)
	helpEnv  = regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)`)
	helpCmd  = regexp.MustCompile(`^\s{3}([a-z][a-z0-9-]*)(?:, [a-z0-9-]+)*\s{2,}`)
)

// Help is what one urfave/cli help screen lists.
type Help struct {
	Commands []string        // under COMMANDS:
	Flags    map[string]bool // under any OPTIONS: heading, with dashes
	Values   map[string]bool // those of Flags that take a value
	Env      []string        // the [$ENV] the flags list
}

// ParseHelp reads one help screen.
func ParseHelp(out string) Help {
	h := Help{Flags: map[string]bool{}, Values: map[string]bool{}}
	section := ""
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " ") {
			section = line
			continue
		}
		switch {
		case section == "COMMANDS:":
			if m := helpCmd.FindStringSubmatch(line); m != nil {
				h.Commands = append(h.Commands, m[1])
			}
		case strings.HasSuffix(section, "OPTIONS:"):
			if m := helpFlag.FindStringSubmatch(line); m != nil {
				for _, f := range strings.Split(m[1], ", ") {
					f = strings.TrimSpace(f)
					h.Flags[f] = true
					if m[2] != "" {
						h.Values[f] = true
					}
				}
			}
			if i := strings.LastIndex(line, "[$"); i >= 0 {
				for _, e := range helpEnv.FindAllStringSubmatch(line[i:], -1) {
					h.Env = append(h.Env, e[1])
				}
			}
		}
	}
	return h
}

var cliOnce struct {
	sync.Once
	// bin is never removed: it lives as long as the test process, and the
	// OS's temp cleanup takes it after.
	bin proctest.Binary
	cli CLI
	err error
}

// BuildCLI builds codrive once per test process and reads every help
// screen. -race: `make test` has just built every dependency that way, so
// this costs a link.
func BuildCLI(t testing.TB) CLI {
	t.Helper()
	bin := cliOnce.bin.Path(t)
	cliOnce.Do(func() { cliOnce.cli, cliOnce.err = readCLI(bin) })
	if cliOnce.err != nil {
		t.Fatal(cliOnce.err)
	}
	return cliOnce.cli
}

// readCLI runs bin's help screens.
func readCLI(bin string) (CLI, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	help := func(args ...string) (Help, error) {
		out, err := exec.CommandContext(ctx, bin, append(args, "--help")...).CombinedOutput()
		if err != nil {
			return Help{}, fmt.Errorf("codrive %s --help: %v\n%s", strings.Join(args, " "), err, out)
		}
		return ParseHelp(string(out)), nil
	}
	top, err := help()
	if err != nil {
		return CLI{}, err
	}
	if len(top.Commands) == 0 || len(top.Flags) == 0 {
		return CLI{}, fmt.Errorf("could not read commands and global flags from codrive --help")
	}
	c := CLI{Bin: bin, Global: top.Flags, Env: map[string]bool{}, Commands: map[string]map[string]bool{}, ValueFlags: map[string]bool{}}
	add := func(h Help) {
		for _, e := range h.Env {
			c.Env[e] = true
		}
		for f := range h.Values {
			c.ValueFlags[f] = true
		}
	}
	add(top)
	for _, name := range top.Commands {
		h, err := help(name)
		if err != nil {
			return CLI{}, err
		}
		c.Commands[name] = h.Flags
		add(h)
	}
	return c, nil
}

// Check returns what is wrong with `codrive ARGS...`: an unknown command,
// a flag neither it nor the global set defines, a value flag with no value.
func (c CLI) Check(args []string) []error {
	if len(args) == 0 {
		return []error{fmt.Errorf("codrive with no command")}
	}
	var errs []error
	cmd := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if cmd == "" {
				cmd = a
				if _, ok := c.Commands[cmd]; !ok {
					return []error{fmt.Errorf("codrive has no command %q", cmd)}
				}
			}
			continue
		}
		name, _, hasValue := strings.Cut(a, "=")
		if !c.Global[name] && (cmd == "" || !c.Commands[cmd][name]) {
			errs = append(errs, fmt.Errorf("codrive %s has no flag %s", cmd, name))
			continue
		}
		if c.ValueFlags[name] && !hasValue {
			if i+1 >= len(args) {
				errs = append(errs, fmt.Errorf("%s: %w", name, errNoValue))
			}
			i++
		}
	}
	if cmd == "" {
		errs = append(errs, fmt.Errorf("codrive with no command"))
	}
	return errs
}

// FlagValue returns the value of --name in args, given as "--name v" or
// "--name=v", and whether it is there.
func FlagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
	}
	return "", false
}
