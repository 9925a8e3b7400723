package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/internal/exitcode"
)

// normalizeArgs reorders a command line the way people type it into the
// way urfave/cli reads it, and finds unknown commands before anything runs:
//
//   - global flags may come after the command (`codrive wait --cdp URL`):
//     they move before it;
//   - a command's flags may come after its arguments (`codrive control
//     give alice --json`): they move before them, except for `run`, whose
//     arguments are the script's own;
//   - `--` ends flag handling: what follows is left as it is;
//   - an unknown command or subcommand (also after `help`) is a usage error
//     that suggests the nearest name.
//
// A shell-completion request (urfave's --generate-bash-completion, last)
// is passed through untouched: it completes partial words.
func normalizeArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 || args[len(args)-1] == "--"+cli.BashCompletionFlag.Names()[0] {
		return args, nil
	}
	globals := globalNames(app.Flags)
	isHelp := func(a string) bool { return a == "-h" || a == "--help" }
	var lead []string
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" || !isFlag(a) {
			break
		}
		lead = append(lead, a)
		if name, hasValue := flagName(a); globals[name] && !hasValue && i+1 < len(args) {
			i++
			lead = append(lead, args[i])
		}
	}
	if i >= len(args) || args[i] == "--" {
		return args, nil
	}

	var hoisted, path, flags, positional []string
	cmds := app.Commands
	var cmd *cli.Command
	word := args[i]
	if word == "help" || word == "h" {
		// `help [COMMAND [SUBCOMMAND]]`: every word must name one.
		path = append(path, word)
		for _, w := range args[i+1:] {
			if isFlag(w) {
				break
			}
			c := findCommand(cmds, w)
			if c == nil {
				return nil, unknownCommand(cmds, w, strings.Join(path[1:], " "))
			}
			cmds = c.Subcommands
		}
		return args, nil
	}
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i:]...)
			break
		}
		if isFlag(a) {
			name, hasValue := flagName(a)
			var cmdFlags []cli.Flag
			if cmd != nil {
				cmdFlags = cmd.Flags
			}
			known, takesValue := flagTakesValue(cmdFlags, name)
			globalTakesValue, isGlobal := globals[name]
			if known || isHelp(a) || !isGlobal {
				// The command's own (or unknown: urfave says so).
				flags = append(flags, a)
				if known && takesValue && !hasValue && i+1 < len(args) {
					i++
					flags = append(flags, args[i])
				}
				continue
			}
			hoisted = append(hoisted, a)
			if globalTakesValue && !hasValue && i+1 < len(args) {
				i++
				hoisted = append(hoisted, args[i])
			}
			continue
		}
		if cmd == nil || (len(cmd.Subcommands) > 0 && len(positional) == 0) {
			// A command word: the command, or a subcommand of it.
			c := findCommand(cmds, a)
			if c == nil {
				return nil, unknownCommand(cmds, a, strings.Join(path, " "))
			}
			// The flags seen so far belong to the parent.
			path = append(path, flags...)
			flags = nil
			path = append(path, a)
			cmd, cmds = c, c.Subcommands
			continue
		}
		positional = append(positional, a)
		if cmd.Name == "run" {
			// The script's arguments are its own, flags included.
			positional = append(positional, args[i+1:]...)
			break
		}
	}
	out := append([]string{args[0]}, lead...)
	out = append(out, hoisted...)
	out = append(out, path...)
	out = append(out, flags...)
	return append(out, positional...), nil
}

func isFlag(a string) bool { return len(a) > 1 && a[0] == '-' && a != "--" }

// flagName is a flag's name without dashes, and whether it carries its
// value (--name=value).
func flagName(a string) (string, bool) {
	n := strings.TrimLeft(a, "-")
	name, _, hasValue := strings.Cut(n, "=")
	return name, hasValue
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// unknownCommand says a command does not exist and suggests the nearest.
func unknownCommand(cmds []*cli.Command, word, parent string) error {
	what := "command"
	see := "codrive --help"
	if parent != "" {
		what = "subcommand of " + parent
		see = "codrive " + parent + " --help"
	}
	msg := fmt.Sprintf("unknown %s %q", what, word)
	if s := suggest(cmds, word); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return cli.Exit(msg+"; see "+see, exitcode.Usage)
}

// suggest is the visible command nearest to word: a prefix, or within two
// edits.
func suggest(cmds []*cli.Command, word string) string {
	best, bestD := "", 3
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		for _, n := range c.Names() {
			if len(word) >= 2 && strings.HasPrefix(n, word) {
				return n
			}
			if d := editDistance(word, n); d < bestD {
				best, bestD = n, d
			}
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = slices.Min([]int{prev[j] + 1, cur[j-1] + 1, prev[j-1] + cost})
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
