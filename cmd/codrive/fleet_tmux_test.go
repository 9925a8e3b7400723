package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/fleettest"
)

// fleetSecret is the rooms' --http-token: it must never reach the screen.
const fleetSecret = "fleet-s3cret-t0ken"

func postRoomHandoff(ctx context.Context, url, reason string) error {
	body := strings.NewReader(fmt.Sprintf(`{"reason":%q}`, reason))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/codrive/handoff", body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+fleetSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("handoff: HTTP %d", resp.StatusCode)
	}
	return nil
}

// fleetScreen is the fleet's table read back from a captured screen by
// its header's columns, so that what a test asserts does not depend on
// the terminal's width or on how the view shares it out among the
// columns.
type fleetScreen struct {
	text string
	// order is the rooms' rows top to bottom; marks their need's mark;
	// cells their cells by column title (the columns shown).
	order []string
	marks map[string]string
	cells map[string]map[string]string
	// selected is the line about the room under the cursor ("› NAME: …").
	selected string
}

// parseFleetScreen reads the table of rooms (names) from screen; ok is
// false when the screen shows no table.
func parseFleetScreen(screen string, names []string) (fleetScreen, bool) {
	fs := fleetScreen{text: screen, marks: map[string]string{}, cells: map[string]map[string]string{}}
	lines := strings.Split(screen, "\n")
	header := -1
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "ROOM" && slices.Contains(f, "HEALTH") {
			header = i
			break
		}
	}
	if header < 0 {
		return fs, false
	}
	// A column starts where its title does; every cell of the screen is
	// one rune (the view draws no wide characters).
	type col struct {
		title string
		start int
	}
	var cols []col
	h := []rune(lines[header])
	for i := 0; i < len(h); i++ {
		if h[i] != ' ' && (i == 0 || h[i-1] == ' ') {
			j := i
			for j < len(h) && h[j] != ' ' {
				j++
			}
			cols = append(cols, col{string(h[i:j]), i})
			i = j
		}
	}
	slice := func(r []rune, from, to int) string {
		from, to = min(from, len(r)), min(to, len(r))
		return strings.TrimSpace(string(r[from:to]))
	}
	for _, l := range lines[header+1:] {
		r := []rune(l)
		if strings.HasPrefix(l, "› ") && strings.Contains(l, ": ") && !slices.Contains(names, slice(r, cols[0].start, cols[min(1, len(cols)-1)].start)) {
			fs.selected = l
			continue
		}
		if len(r) < cols[0].start || r[1] != ' ' || r[3] != ' ' {
			continue
		}
		cells := map[string]string{}
		for i, c := range cols {
			end := len(r)
			if i+1 < len(cols) {
				end = cols[i+1].start
			}
			cells[c.title] = slice(r, c.start, end)
		}
		name := cells["ROOM"]
		if !slices.Contains(names, name) {
			continue
		}
		fs.order = append(fs.order, name)
		fs.marks[name] = string(r[2])
		fs.cells[name] = cells
	}
	return fs, true
}

// room tells whether the room's row shows mark and, in each column named
// in cells that the screen shows, the value (see cellIs).
func (fs fleetScreen) room(name, mark string, cells ...string) bool {
	if fs.marks[name] != mark {
		return false
	}
	for i := 0; i+1 < len(cells); i += 2 {
		if got, shown := fs.cells[name][cells[i]]; shown && !cellIs(got, cells[i+1]) {
			return false
		}
	}
	return true
}

// cellIs tells whether a cell shows want: all of it, or as much as fits
// before "…". A want starting with "AGE " is a cell that starts with an
// age (3s, 2m): the rest is compared.
func cellIs(got, want string) bool {
	if rest, ok := strings.CutPrefix(want, "AGE "); ok {
		age, text, _ := strings.Cut(got, " ")
		if age == "" || !strings.ContainsAny(age[:1], "0123456789≥") {
			return false
		}
		got, want = text, rest
	}
	if cut, truncated := strings.CutSuffix(got, "…"); truncated {
		return cut != "" && strings.HasPrefix(want, cut)
	}
	return got == want
}

// waitFor polls the pane until ok says yes, or fails with what it was
// waiting for, the last screen and codrive's stderr.
func (s *tmuxSession) waitFor(what, stderrPath string, ok func(screen string) bool) string {
	s.t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		screen := s.capture()
		if ok(screen) {
			return screen
		}
		if time.Now().After(deadline) {
			errOut, _ := os.ReadFile(stderrPath)
			s.t.Fatalf("the screen never showed %s; last screen:\n%s\nstderr:\n%s", what, screen, errOut)
		}
		time.Sleep(50 * time.Millisecond) // polling an external process's screen, under a deadline
	}
}

// waitFleet polls the pane until the fleet's table satisfies ok, or
// fails with what it was waiting for, the last screen and stderr.
func (s *tmuxSession) waitFleet(what, stderrPath string, names []string, ok func(fleetScreen) bool) fleetScreen {
	s.t.Helper()
	var last fleetScreen
	s.waitFor(what, stderrPath, func(screen string) bool {
		fs, table := parseFleetScreen(screen, names)
		last = fs
		return table && ok(fs)
	})
	return last
}

// Done-when of issue 14, with the real binary in a real terminal (tmux):
// three rooms, each a nekotest with its own `codrive attach --http` and a
// token; enter, r and esc start automation in one; a person takes it over
// and gives it back; a handoff in another appears, is answered and clears;
// ctrl+c quits. NO_COLOR leaves no colour but every mark, and the token is
// never on the screen.
func TestFleetInTmux(t *testing.T) {
	t.Parallel()
	tmux := requireTmux(t)
	names := []string{"alpha", "bravo", "charlie"}
	rooms := fleettest.Start(t, fleettest.Options{Bin: binary(t), Chromium: sharedChromium(t), Names: names, Token: fleetSecret})
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(fleetSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var file strings.Builder
	file.WriteString("tokenFile: token\nrooms:\n")
	for _, r := range rooms {
		fmt.Fprintf(&file, "  - name: %s\n    url: %s\n", r.Name, r.URL)
	}
	roomsFile := filepath.Join(dir, "rooms.yaml")
	if err := os.WriteFile(roomsFile, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	stderrPath, exitPath := filepath.Join(dir, "stderr"), filepath.Join(dir, "exit")
	s := &tmuxSession{t: t, bin: tmux, sock: filepath.Join(dir, "tmux.sock"),
		env: append(cleanEnv(), "TERM=xterm-256color", "NO_COLOR=1")}
	// The pane's shell tells the test when codrive has exited (tmux
	// wait-for), and the pane stays after it so that the server is there to
	// be told.
	shell := fmt.Sprintf("%s fleet --rooms %s 2>%s; echo $? >%s; %s -S %s wait-for -S fleet-exited",
		shellQuote(binary(t)), shellQuote(roomsFile), shellQuote(stderrPath), shellQuote(exitPath), shellQuote(tmux), shellQuote(s.sock))
	if _, err := s.run("-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "30", "-s", "codrive", shell,
		";", "set-option", "-w", "remain-on-exit", "on"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = s.run("kill-server") })
	keys := func(k ...string) {
		t.Helper()
		if _, err := s.run(append([]string{"send-keys", "-t", "codrive"}, k...)...); err != nil {
			t.Fatal(err)
		}
	}

	s.waitFleet("three idle rooms", stderrPath, names, func(fs fleetScreen) bool {
		return strings.Contains(fs.text, "3 rooms: ○3 idle") && len(fs.order) == 3 &&
			fs.room("alpha", "○", "STATE", "free", "HEALTH", "ready") && fs.room("bravo", "○", "STATE", "free", "HEALTH", "ready") &&
			fs.room("charlie", "○", "STATE", "free", "HEALTH", "ready")
	})
	// bravo's monitor, over its operator API: r asks for control.
	keys("-l", "bravo")
	s.waitFleet("the filter keeping bravo", stderrPath, names, func(fs fleetScreen) bool {
		return slices.Equal(fs.order, []string{"bravo"}) && strings.Contains(fs.text, "filter: bravo")
	})
	keys("Enter")
	s.waitFor("bravo's monitor", stderrPath, func(screen string) bool {
		return strings.Contains(screen, "fleet › bravo") && strings.Contains(screen, "connected") && strings.Contains(screen, "r request")
	})
	keys("r")
	s.waitFor("automation taking control", stderrPath, func(screen string) bool {
		return strings.Contains(screen, "request: automation holds control")
	})
	// q goes back (two escapes at once would read as alt+esc).
	keys("q")
	s.waitFleet("bravo running, filtered", stderrPath, names, func(fs fleetScreen) bool {
		return slices.Equal(fs.order, []string{"bravo"}) && fs.room("bravo", "▶", "STATE", "automation") && strings.Contains(fs.text, "filter: bravo")
	})
	keys("Escape")
	s.waitFleet("every room again", stderrPath, names, func(fs fleetScreen) bool {
		return len(fs.order) == 3 && fs.room("bravo", "▶") && fs.room("alpha", "○") && strings.Contains(fs.text, "type to filter")
	})

	alice := rooms[1].Person(t, "alice")
	if err := alice.RequestControl(); err != nil {
		t.Fatal(err)
	}
	fs := s.waitFleet("alice driving bravo", stderrPath, names, func(fs fleetScreen) bool {
		return fs.room("bravo", "●", "STATE", "human", "HOST", "alice") && strings.Contains(fs.text, "●1 human")
	})
	// A person driving comes before the idle and the running rooms, and
	// the cursor, never moved, is on the first row.
	if fs.order[0] != "bravo" || !strings.HasPrefix(fs.selected, "› bravo: alice drives") {
		t.Fatalf("bravo is not first and selected:\n%s", fs.text)
	}
	if err := alice.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	s.waitFleet("automation back on bravo", stderrPath, names, func(fs fleetScreen) bool {
		return fs.room("bravo", "▶", "STATE", "automation", "HOST", "automation") && strings.Contains(fs.text, "▶1 automation") &&
			!strings.Contains(fs.text, "human")
	})

	ctx, cancel := context.WithTimeout(context.Background(), fleettest.Timeout)
	defer cancel()
	handoff := make(chan error, 1)
	go func() { handoff <- postRoomHandoff(ctx, rooms[2].URL, "solve the captcha") }()
	fs = s.waitFleet("charlie's handoff", stderrPath, names, func(fs fleetScreen) bool {
		return fs.room("charlie", "‼", "STATE", "free/handoff", "HANDOFF", "AGE solve the captcha") && strings.Contains(fs.text, "‼1 handoff waiting")
	})
	// The handoff nobody answered is the first row; the line under the
	// table has its whole reason.
	if fs.order[0] != "charlie" || !strings.HasPrefix(fs.selected, "› charlie: handoff") || !strings.HasSuffix(strings.TrimSpace(fs.selected), "solve the captcha") {
		t.Fatalf("the handoff is not the first row, or its reason not under the table:\n%s", fs.text)
	}
	bob := rooms[2].Person(t, "bob")
	if err := bob.RequestControl(); err != nil {
		t.Fatal(err)
	}
	s.waitFleet("bob answering the handoff", stderrPath, names, func(fs fleetScreen) bool {
		return fs.room("charlie", "●", "STATE", "human/handoff", "HOST", "bob", "HANDOFF", "✓ bob: solve the captcha") &&
			strings.Contains(fs.selected, "✓ bob: solve the captcha")
	})
	if err := bob.ReleaseControl(); err != nil {
		t.Fatal(err)
	}
	if err := <-handoff; err != nil {
		t.Fatal(err)
	}
	s.waitFleet("charlie's handoff cleared", stderrPath, names, func(fs fleetScreen) bool {
		return fs.room("charlie", "▶", "STATE", "automation", "HANDOFF", "-", "HO", "1") && strings.Contains(fs.text, "▶2 automation") &&
			!strings.Contains(fs.text, "solve the captcha") && !strings.Contains(fs.text, "handoff waiting")
	})

	// NO_COLOR: no colour in the pane, the marks all there.
	colours, err := s.run("capture-pane", "-p", "-e", "-t", "codrive")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(colours, "\x1b[38;") || strings.Contains(colours, "\x1b[3") {
		t.Fatalf("colours under NO_COLOR:\n%q", colours)
	}

	keys("C-c")
	wctx, wcancel := context.WithTimeout(context.Background(), testTimeout)
	defer wcancel()
	wait := exec.CommandContext(wctx, tmux, "-S", s.sock, "wait-for", "fleet-exited")
	wait.Env = s.env
	if out, err := wait.CombinedOutput(); err != nil {
		t.Fatalf("fleet did not exit after ctrl+c: %v %s\n%s", err, out, s.capture())
	}
	exit, _ := os.ReadFile(exitPath)
	errOut, _ := os.ReadFile(stderrPath)
	if got := strings.TrimSpace(string(exit)); got != "0" {
		t.Fatalf("exit %q; stderr:\n%s", got, errOut)
	}
	for _, screen := range s.screens {
		if strings.Contains(screen, fleetSecret) {
			t.Fatalf("the token is on the screen:\n%s", screen)
		}
	}
	if bytes.Contains(errOut, []byte(fleetSecret)) {
		t.Fatal("the token is on stderr")
	}
}
