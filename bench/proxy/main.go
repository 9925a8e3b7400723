// Command proxy measures codrive's CDP proxy side by side with a direct
// connection to the same Chromium, in one run. It builds the real codrive
// and nekotest binaries, starts a headless Chromium (cdp.Launch, the team's
// flags), nekotest and `codrive attach --listen --acquire`, and times each
// case on four sides that take turns (each goes first, second... and last
// in turn, so that all see the same machine load):
//
//   - direct: straight to Chromium;
//   - tcp relay: a process that only copies bytes (read, write) between
//     client and Chromium, the floor of any proxy in a process of its own
//     on this machine;
//   - cdpproxy alone: package cdpproxy in a process of its own with a gate
//     that is always open, and nothing else of codrive;
//   - codrive: the real `codrive attach --listen`, gate open (it holds
//     control), idle release at its default.
//
// The cases: Runtime.evaluate of a pure expression and of a side-effecting
// one on a page socket; a 1 MiB result; Runtime.evaluate on a flattened
// session (Target.attachToTarget on the browser socket); screencast frames
// per second, each frame acknowledged. It prints p50/p90/p99 of the direct
// side, each other side's ratios to it, and the CPU time each proxy process
// spent per call. Last, it sends one 300 MB frame and asks for one 50 MB
// result through codrive, and follows codrive's resident memory (VmRSS)
// for 10 s.
//
//	go run ./bench/proxy                          # make bench runs this
//	go run ./bench/proxy -codrive ./old/codrive   # a prebuilt codrive (before/after)
//	go run ./bench/proxy -profile /tmp/prof       # CPU, mutex and block profiles of codrive
//
// Timings depend on the machine and its load: compare ratios from one run,
// never absolute numbers from different ones.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/codrive/codrive/cdp"
)

type config struct {
	codrive   string // prebuilt codrive binary; "" builds this tree's
	rounds    int
	batch     int
	fpsRounds int
	memory    bool
	profile   string // directory for codrive's profiles; "" for none
	only      string
	log       bool
	before    string // a second codrive binary, timed as one more side
	env       string // extra environment for codrive, KEY=VALUE,...
	idle      string // --idle-release for codrive; "" for its default
}

func main() {
	if target := os.Getenv(relayEnv); target != "" {
		serveRelay(target)
		return
	}
	if upstream := os.Getenv(aloneEnv); upstream != "" {
		serveAlone(upstream)
		return
	}
	var cfg config
	flag.StringVar(&cfg.codrive, "codrive", "", "use this codrive binary instead of building ./cmd/codrive")
	flag.StringVar(&cfg.before, "before", "", "also time this codrive binary (e.g. built from an earlier commit), as one more side with a nekotest of its own")
	flag.IntVar(&cfg.rounds, "rounds", 30, "interleaved rounds per latency case")
	flag.IntVar(&cfg.batch, "batch", 10, "calls per side per round (the 1 MiB case does a fifth)")
	flag.IntVar(&cfg.fpsRounds, "fps-rounds", 3, "screencast rounds of 1 s per side, sides taking turns")
	flag.BoolVar(&cfg.memory, "memory", true, "send a 300 MB frame and fetch a 50 MB result, and follow codrive's RSS")
	flag.StringVar(&cfg.profile, "profile", "", "build codrive with profiling and write cpu, mutex and block profiles of the load phase here")
	flag.StringVar(&cfg.only, "only", "", "comma-separated cases to run: pure,effect,1mib,flat,fps (default all)")
	flag.BoolVar(&cfg.log, "v", false, "print codrive's and nekotest's logs")
	flag.StringVar(&cfg.env, "env", "", "extra environment for codrive, KEY=VALUE[,KEY=VALUE] (e.g. GOGC=off to see what the collector costs)")
	flag.StringVar(&cfg.idle, "idle-release", "", "codrive's --idle-release (default: its own, 30s with --listen)")
	flag.Parse()
	if cfg.rounds < 1 || cfg.batch < 1 || cfg.fpsRounds < 1 {
		fmt.Fprintln(os.Stderr, "proxy bench: -rounds and -batch must be positive, -fps-rounds positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	tmp, err := os.MkdirTemp("", "codrive-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	bins, err := build(ctx, tmp, cfg)
	if err != nil {
		return err
	}
	site, err := startSite()
	if err != nil {
		return err
	}
	defer site.Close()

	chromium, err := cdp.Launch(ctx, cdp.LaunchOptions{})
	if err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	defer chromium.Close()

	b := &bench{cfg: cfg, chromium: chromium, site: site.URL,
		bases: []string{chromium.URL}, pids: []int{0}, names: []string{"direct"}}
	relay, err := startRelay(ctx, relayEnv, strings.TrimPrefix(chromium.URL, "http://"))
	if err != nil {
		return fmt.Errorf("tcp relay: %w", err)
	}
	defer relay.close()
	alone, err := startRelay(ctx, aloneEnv, chromium.URL)
	if err != nil {
		return fmt.Errorf("cdpproxy alone: %w", err)
	}
	defer alone.close()
	b.add("tcp relay", "http://"+relay.addr, relay.cmd.Process.Pid)
	b.add("cdpproxy alone", "http://"+alone.addr, alone.cmd.Process.Pid)

	// Each codrive has a neko of its own: both hold control at once.
	var codrives []*codriveProc
	for _, bin := range []string{cfg.before, bins.codrive} {
		if bin == "" {
			continue
		}
		neko, err := startNekotest(ctx, bins.nekotest, cfg.log)
		if err != nil {
			return err
		}
		defer neko.stop()
		ccfg := cfg
		if bin == cfg.before {
			ccfg.profile = ""
		}
		cd, err := startCodrive(ctx, bin, neko.url, chromium.URL, ccfg)
		if err != nil {
			return err
		}
		defer cd.stop()
		name := "codrive"
		if bin == cfg.before {
			name = "codrive before"
		}
		b.add(name, cd.proxy, cd.cmd.Process.Pid)
		codrives = append(codrives, cd)
		fmt.Printf("%s: %s (pid %d), proxy %s, nekotest %s\n", name, bin, cd.cmd.Process.Pid, cd.proxy, neko.url)
	}
	cd := codrives[len(codrives)-1]
	fmt.Printf("Chromium %s; codrive %s\n", chromium.URL, bins.codriveLabel)
	fmt.Printf("machine: %s\n\n", machine())

	if err := b.setup(ctx); err != nil {
		return err
	}
	defer b.close()
	if err := b.latency(ctx); err != nil {
		return err
	}
	if b.want("fps") {
		if err := b.screencast(ctx); err != nil {
			return err
		}
	}
	if cfg.profile != "" {
		if err := cd.writeProfiles(ctx); err != nil {
			return err
		}
		fmt.Printf("\nprofiles of the load phase: %s (go tool pprof -top %s %s)\n", cfg.profile, bins.codrive, filepath.Join(cfg.profile, "cpu.pprof"))
	}
	if cfg.memory {
		for i, c := range codrives {
			if err := memory(ctx, b.names[len(b.names)-len(codrives)+i], c, b.pageWS(c.proxy)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *bench) want(name string) bool {
	if b.cfg.only == "" {
		return true
	}
	for _, s := range strings.Split(b.cfg.only, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

func machine() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	if len(f) > 3 {
		f = f[:3]
	}
	return fmt.Sprintf("%d CPUs, load average %s, %s", numCPU(), strings.Join(f, " "), time.Now().Format(time.DateTime))
}
