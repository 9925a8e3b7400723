package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/urfave/cli/v2"

	"github.com/codrive/codrive/codrive"
	"github.com/codrive/codrive/fleet"
	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/tui/fleetview"
)

func fleetCommand(st *appState) *cli.Command {
	return &cli.Command{
		Name:      "fleet",
		Usage:     "one screen for many codrives: who drives each browser, who waits for control, which handoffs nobody answered",
		ArgsUsage: " ",
		Description: `Each room is one codrive's operator listener (codrive attach --http ADDR): --room NAME=URL (repeatable),
a rooms file (--rooms FILE), or $` + envFleetRooms + ` (NAME=URL entries separated by commas or spaces) when
neither flag is given. The rooms file:

   tokenFile: /run/secrets/codrive      # optional: the token of every room that names none
   rooms:
     - name: checkout
       url: http://10.0.0.5:8081
       tokenFile: checkout.token        # optional (or token_file); relative to the rooms file
     - name: search
       url: http://10.0.0.6:8081

Tokens are read from files only (--token-file for the --room rooms) and never shown.
The table shows the rooms that need a person first (an unanswered handoff, a person asking for control,
unreachable, degraded); type to filter, enter opens a room with the keys of codrive tui (r request,
l release, t take, g give, p pause, h handoff), esc comes back, ctrl+c quits.
Without a terminal on stdout, or with --plain, it prints one line per change of a room; --json prints
every room's events as JSON lines with a "room" field.`,
		OnUsageError: usageError,
		Before:       noArgs,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "room", Usage: "a room: NAME=URL of its codrive --http listener (repeatable)"},
			&cli.StringFlag{Name: "rooms", EnvVars: []string{envFleetFile}, Usage: "a YAML file of rooms (name, url, tokenFile)"},
			&cli.StringFlag{Name: "token-file", EnvVars: []string{envFleetTokenFile}, Usage: "the token file of the rooms that name none (--room rooms, and the file's without tokenFile)"},
			&cli.BoolFlag{Name: "plain", Usage: "print one line per change of a room instead of the full-screen view"},
			&cli.BoolFlag{Name: "json", Usage: "print every room's events as JSON lines with a \"room\" field (fleet's own: kind \"fleet\", with health and error)"},
			durationFlag("action-timeout", 30*time.Second, "bound a room's request, release, take, give and pause"),
			durationFlag("handoff-timeout", 15*time.Minute, "how long a person has to answer a handoff started from the fleet"),
		},
		Action: st.runFleet,
	}
}

// fleetRooms gathers the rooms from the flags, else the environment.
func (st *appState) fleetRooms(c *cli.Context) ([]fleet.Room, error) {
	var rooms []fleet.Room
	for _, s := range c.StringSlice("room") {
		r, err := fleet.ParseRoom(s)
		if err != nil {
			return nil, err
		}
		rooms = append(rooms, r)
	}
	if f := c.String("rooms"); f != "" {
		fromFile, err := fleet.LoadFile(f)
		if err != nil {
			return nil, err
		}
		rooms = append(rooms, fromFile...)
	}
	if len(rooms) == 0 {
		v, _ := st.getenv(envFleetRooms)
		env, err := fleet.ParseRooms(v)
		if err != nil {
			return nil, fmt.Errorf("$%s: %w", envFleetRooms, err)
		}
		rooms = env
	}
	if err := fleet.CheckRooms(rooms); err != nil {
		return nil, err
	}
	return rooms, nil
}

func (st *appState) runFleet(c *cli.Context) error {
	if err := checkDurations(c, "action-timeout", "handoff-timeout"); err != nil {
		return err
	}
	if c.Bool("plain") && c.Bool("json") {
		return cli.Exit("--plain and --json do not go together", exitcode.Usage)
	}
	rooms, err := st.fleetRooms(c)
	if err != nil {
		return cli.Exit(err.Error(), exitcode.Usage)
	}
	if err := fleet.LoadTokens(rooms, c.String("token-file")); err != nil {
		return cli.Exit(err.Error(), exitcode.Usage)
	}
	ctx, stop := signalContext(c.App.ErrWriter)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	f := fleet.New(rooms, fleet.Options{})
	var wg sync.WaitGroup
	wg.Go(func() { f.Run(ctx) })
	// The fleet stops before the command returns.
	defer func() {
		cancel()
		wg.Wait()
	}()

	out, isFile := c.App.Writer.(*os.File)
	switch {
	case c.Bool("json"):
		return fleetJSON(f, c.App.Writer)
	case c.Bool("plain") || !isFile || !isTerminal(out):
		return fleetPlain(f, rooms, c.App.Writer)
	}
	return fleetview.Run(ctx, f, fleetview.Options{
		ActionTimeout:  c.Duration("action-timeout"),
		HandoffTimeout: c.Duration("handoff-timeout"),
		Renderer:       lipgloss.NewRenderer(out),
	}, tea.WithAltScreen(), tea.WithOutput(out))
}

// fleetPlain prints a line each time a room changes (who drives, the
// gate, requests, a handoff, its health), until the fleet stops.
func fleetPlain(f *fleet.Fleet, rooms []fleet.Room, w io.Writer) error {
	board := fleet.NewBoard(rooms, time.Now())
	for u := range f.Updates() {
		if !board.Apply(u) {
			continue
		}
		why := ""
		if u.Kind == fleet.UpdateEvent {
			why = u.Event.Reason
		}
		if _, err := fmt.Fprintln(w, board.Row(u.Room, u.At).Line(u.At, why)); err != nil {
			return err
		}
	}
	return nil
}

// fleetEvent is one line of --json: a room's event, or the fleet's own
// news of it (kind "fleet": its health changed).
type fleetEvent struct {
	Room string `json:"room"`
	codrive.Event
	Health fleet.Health `json:"health,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// fleetJSON prints every event of every room, and each change of a
// room's health, as JSON lines.
func fleetJSON(f *fleet.Fleet, w io.Writer) error {
	enc := json.NewEncoder(w)
	health := map[int]fleet.Health{}
	for u := range f.Updates() {
		var line *fleetEvent
		switch {
		case u.Kind == fleet.UpdateEvent:
			line = &fleetEvent{Room: u.Name, Event: u.Event}
		case u.Snapshot.Health != health[u.Room] && u.Snapshot.Health != fleet.HealthConnecting:
			ev := codrive.Event{Time: u.At, Kind: "fleet", Reason: "the room is " + string(u.Snapshot.Health), Status: u.Snapshot.State.Status}
			line = &fleetEvent{Room: u.Name, Event: ev, Health: u.Snapshot.Health}
			if u.Snapshot.Health != fleet.HealthReady {
				line.Error = u.Snapshot.Err
			}
		}
		health[u.Room] = u.Snapshot.Health
		if line == nil {
			continue
		}
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}
