// Command person measures a handoff as a person experiences it, side by
// side with neko alone, on the real neko server: from the moment a person's
// viewer asks for control (control/request) to the moment the page accepts
// their first click (its mousedown, by the page's own clock). The person is
// neko/viewer, a real WebRTC viewer whose input goes data channel → neko →
// XTEST → X → a headful Chromium on neko's display.
//
// Two stacks, each real neko with its own Xvfb and Chromium showing the
// whoclicks page, and the same script clicking it as fast as it is
// answered:
//
//   - neko alone: the script talks to Chromium directly, nobody arbitrates;
//     the room has no host, so neko grants the person's request at once;
//   - codrive: the script goes through `codrive attach --listen`, which
//     holds control for it; the person's request makes codrive yield
//     (policy yield), and the script's commands are held until the person
//     releases.
//
// The stacks take turns, each going first in every other round, so that
// both see the same machine load. Per round and stack it measures the
// handoff; then, the person hosting, the latency of one more click (input
// latency alone) and a data channel ping; it counts script events that
// landed inside the person's click (mousedown..mouseup); and, with codrive,
// how long after the person's release the script's next command is
// answered (codrive's --reclaim-after, 100ms here, included). It prints
// p50/p90 per stack and the ratios, and the frames per second each person
// received.
//
//	go run ./bench/person                 # make bench runs this
//	go run ./bench/person -rounds 40 -v
//
// Without real neko (make neko) or Chromium it prints one line and exits 0.
// Timings depend on the machine and its load: compare ratios from one run,
// never absolute numbers from different ones.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/neko/viewer"
)

type config struct {
	rounds  int
	codrive string
	verbose bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.rounds, "rounds", 15, "rounds; each stack does one handoff per round")
	flag.StringVar(&cfg.codrive, "codrive", "", "use this codrive binary instead of building ./cmd/codrive")
	flag.BoolVar(&cfg.verbose, "v", false, "print each round")
	flag.Parse()
	if err := nekoserver.NekoAvailable(); err != nil {
		fmt.Printf("bench/person: skipped: %v\n", err)
		return
	}
	if !cdp.ChromiumAvailable() {
		fmt.Printf("bench/person: skipped: no chromium at %s (make setup)\n", cdp.ChromiumBinary())
		return
	}
	if cfg.rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench/person: -rounds must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "bench/person: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	dir, err := os.MkdirTemp("", "codrive-bench-person-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := cfg.codrive
	if bin == "" {
		bin = filepath.Join(dir, "codrive")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/codrive").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build ./cmd/codrive: %v\n%s", err, out)
		}
	}

	alone, err := startStack(ctx, "neko alone", "")
	if err != nil {
		return err
	}
	defer alone.close()
	withCodrive, err := startStack(ctx, "codrive", bin)
	if err != nil {
		return err
	}
	defer withCodrive.close()
	stacks := []*stack{alone, withCodrive}
	fmt.Printf("bench/person: %d rounds; screen %dx%d; each stack: real neko, headful Chromium, a script clicking as fast as answered, a WebRTC person\n",
		cfg.rounds, alone.person.ScreenSize().Width, alone.person.ScreenSize().Height)

	samples := map[*stack][]sample{}
	video := map[*stack]viewer.VideoStats{}
	for _, st := range stacks {
		video[st] = st.person.Video()
	}
	start, load0 := time.Now(), loadavg()
	for r := 0; r < cfg.rounds; r++ {
		order := stacks
		if r%2 == 1 {
			order = []*stack{withCodrive, alone}
		}
		for _, st := range order {
			s, err := st.round(ctx)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, st.name, err)
			}
			samples[st] = append(samples[st], s)
			if cfg.verbose {
				fmt.Printf("  round %2d %-10s %s\n", r+1, st.name, s)
			}
		}
	}
	for _, st := range stacks {
		video[st] = st.person.Video().Since(video[st])
	}
	report(stacks, samples)
	took := time.Since(start)
	for _, st := range stacks {
		v := video[st]
		fmt.Printf("%s: during the rounds the person's viewer received %d frames (%d keyframes, %s) in %v: %.1f frames/s\n",
			st.name, v.Frames, v.Keyframes, v.Codec, took.Round(time.Second), float64(v.Frames)/took.Seconds())
	}
	fmt.Printf("load average %s at the start, %s at the end (on %d CPUs): frames/s and latencies follow it\n", load0, loadavg(), runtime.NumCPU())
	return nil
}

// loadavg is the 1-minute load average, "?" where /proc has none.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// sample is one round on one stack.
type sample struct {
	handoff     time.Duration // request sent → the page's mousedown
	granted     time.Duration // request sent → the viewer hears it hosts
	input       time.Duration // click sent while hosting → the page's mousedown
	ping        time.Duration // data channel round trip
	interleaved int           // script events inside the person's click
	giveBack    time.Duration // release → the script's next answer (codrive only)
}

func (s sample) String() string {
	return fmt.Sprintf("handoff %v (host after %v), input %v, ping %v, interleaved %d, give-back %v",
		ms(s.handoff), ms(s.granted), ms(s.input), ms(s.ping), s.interleaved, ms(s.giveBack))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func report(stacks []*stack, samples map[*stack][]sample) {
	type metric struct {
		name string
		get  func(sample) time.Duration
	}
	metrics := []metric{
		{"handoff: request → page's mousedown", func(s sample) time.Duration { return s.handoff }},
		{"  of which request → viewer is host", func(s sample) time.Duration { return s.granted }},
		{"input: click → page's mousedown", func(s sample) time.Duration { return s.input }},
		{"data channel ping (round trip)", func(s sample) time.Duration { return s.ping }},
	}
	alone, withCodrive := stacks[0], stacks[1]
	fmt.Printf("\n%-38s %22s %22s %14s\n", "", "neko alone p50 / p90", "codrive p50 / p90", "ratio p50")
	for _, m := range metrics {
		a, c := pct(samples[alone], m.get), pct(samples[withCodrive], m.get)
		ratio := "-"
		if a[0] > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(c[0])/float64(a[0]))
		}
		fmt.Printf("%-38s %10s / %9s %10s / %9s %14s\n", m.name, ms(a[0]), ms(a[1]), ms(c[0]), ms(c[1]), ratio)
	}
	gb := pct(samples[withCodrive], func(s sample) time.Duration { return s.giveBack })
	fmt.Printf("%-38s %22s %10s / %9s\n", "release → script answered again", "-", ms(gb[0]), ms(gb[1]))
	fmt.Printf("%-38s %22d %22d\n", "script events inside person's clicks", interleaved(samples[alone]), interleaved(samples[withCodrive]))
}

func interleaved(ss []sample) int {
	n := 0
	for _, s := range ss {
		n += s.interleaved
	}
	return n
}

// pct is p50 and p90 (nearest rank).
func pct(ss []sample, get func(sample) time.Duration) [2]time.Duration {
	if len(ss) == 0 {
		return [2]time.Duration{}
	}
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = get(s)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return [2]time.Duration{at(0.5), at(0.9)}
}
