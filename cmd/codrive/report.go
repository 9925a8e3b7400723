package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/codrive/timeline"
	"github.com/codrive/codrive/internal/exitcode"
)

// recordFlag is attach's and run's --record.
func recordFlag() cli.Flag {
	return &cli.StringFlag{Name: "record", Usage: "record the run's timeline into this new (or empty) directory: events, held commands and screenshots at every turn (codrive report DIR -o report.html renders it)"}
}

// recordOptions sets the Session's recording from --record, checked before
// any network call.
func recordOptions(c *cli.Context, o codrive.Options, title string) (codrive.Options, error) {
	if !definesFlag(c, "record") || c.String("record") == "" {
		return o, nil
	}
	dir := c.String("record")
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return o, cli.Exit(fmt.Sprintf("--record %s: the directory is not empty (a recording starts in a new or empty one)", dir), exitcode.Usage)
	}
	o.Record, o.RecordTitle = dir, title
	return o, nil
}

// recordedHint tells where the recording is and how to read it.
func recordedHint(c *cli.Context, s *codrive.Session) {
	if dir := s.Recording(); dir != "" {
		fmt.Fprintf(c.App.ErrWriter, "codrive: timeline recorded in %s (codrive report %s -o report.html)\n", dir, shellQuote(dir))
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "render a recorded timeline (attach --record, run --record, smoke --report, demo) as one HTML page",
		ArgsUsage: "DIR",
		Description: `Reads a recording directory and writes one self-contained HTML file: a timeline bar coloured by who
drove (automation, a person, nobody, paused), the screenshots at every turn, the totals (time per driver,
handoffs, held actions, the longest wait for a person) and every event. It needs no network and opens
offline; keep it as a CI artefact. --json writes the same report as JSON instead.

   codrive attach --listen 127.0.0.1:9223 --record run1
   codrive report run1 -o run1.html`,
		OnUsageError: usageError,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the report to this file (default: stdout)"},
			&cli.BoolFlag{Name: "json", Usage: "write the report as JSON"},
		},
		Action: writeReport,
	}
}

func writeReport(c *cli.Context) error {
	if c.NArg() != 1 {
		return cli.Exit("usage: codrive report DIR [-o FILE] [--json]", exitcode.Usage)
	}
	dir := c.Args().First()
	if _, err := os.Stat(filepath.Join(dir, timeline.MetaFile)); err != nil {
		return cli.Exit(fmt.Sprintf("%s is not a codrive recording (no %s): record one with attach --record DIR", dir, timeline.MetaFile), exitcode.Usage)
	}
	render := timeline.Render
	if c.Bool("json") {
		render = timeline.RenderJSON
	}
	out := c.String("output")
	if out == "" {
		// Both renderers write in large pieces of their own (WriteHTML
		// buffers, the JSON encoder writes once): no buffer needed here.
		if err := render(c.App.Writer, dir); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		return nil
	}
	if err := renderFile(out, dir, render); err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "codrive: report written to %s\n", out)
	return nil
}

// renderFile writes the report next to out and renames it into place: a
// report that failed half-way never replaces a good one.
func renderFile(out, dir string, render func(w io.Writer, dir string) error) error {
	f, err := os.CreateTemp(filepath.Dir(out), ".report-*")
	if err != nil {
		return cli.Exit("-o: "+err.Error(), exitcode.Usage)
	}
	err = errors.Join(render(f, dir), f.Close())
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), out)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
