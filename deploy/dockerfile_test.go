package deploy

import (
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/deploytest"
)

// dockerfile is the repository's Dockerfile, parsed. No Docker engine runs
// where these tests are written: they check what can be checked without
// one, and run the build line itself.
func dockerfile(t *testing.T) []deploytest.Instruction {
	t.Helper()
	ins, err := deploytest.ParseDockerfile(filepath.Join(deploytest.RepoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return ins
}

// last returns the last instruction op in the final stage.
func last(ins []deploytest.Instruction, op string) (deploytest.Instruction, bool) {
	for i := len(ins) - 1; i >= 0 && ins[i].Op != "FROM"; i-- {
		if ins[i].Op == op {
			return ins[i], true
		}
	}
	return deploytest.Instruction{}, false
}

// imageUID is the final stage's USER, which must be a number: Kubernetes'
// runAsNonRoot can check only a numeric user.
func imageUID(t *testing.T) int64 {
	t.Helper()
	u, ok := last(dockerfile(t), "USER")
	if !ok {
		t.Fatal("Dockerfile: the final stage sets no USER")
	}
	uid, _, _ := strings.Cut(u.Args, ":")
	n, err := strconv.ParseInt(uid, 10, 64)
	if err != nil || n == 0 {
		t.Fatalf("Dockerfile:%d: USER %s: want a numeric non-root user", u.Line, u.Args)
	}
	return n
}

func TestDockerfileShape(t *testing.T) {
	t.Parallel()
	ins := dockerfile(t)
	root := deploytest.RepoRoot(t)
	var froms []deploytest.Instruction
	for _, in := range ins {
		if in.Op == "FROM" {
			froms = append(froms, in)
		}
	}
	if len(froms) != 2 {
		t.Fatalf("Dockerfile: %d FROM lines; want a builder stage and a runtime stage", len(froms))
	}
	// The builder's Go must be the one go.mod asks for: the official images
	// set GOTOOLCHAIN=local and would refuse an older one.
	goVersion := goModVersion(t, filepath.Join(root, "go.mod"))
	builder := strings.Fields(froms[0].Args)
	if len(builder) != 3 || !strings.EqualFold(builder[1], "AS") || builder[0] != "golang:"+goVersion {
		t.Errorf("Dockerfile:%d: FROM %s: want FROM golang:%s AS NAME", froms[0].Line, froms[0].Args, goVersion)
	}
	if rt := froms[1].Args; rt != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("Dockerfile:%d: runtime image %s: want distroless static (no shell, no libc), nonroot", froms[1].Line, rt)
	}
	imageUID(t)

	cli := deploytest.BuildCLI(t)
	entry, ok := last(ins, "ENTRYPOINT")
	var argv []string
	if !ok || json.Unmarshal([]byte(entry.Args), &argv) != nil || len(argv) != 1 || filepath.Base(argv[0]) != "codrive" {
		t.Errorf("ENTRYPOINT %s: want the exec form running codrive", entry.Args)
	}
	hc, ok := last(ins, "HEALTHCHECK")
	if !ok {
		t.Fatal("Dockerfile: no HEALTHCHECK")
	}
	cmd := regexp.MustCompile(`\bCMD\s+(\[.*\])$`).FindStringSubmatch(hc.Args)
	var probe []string
	if cmd == nil || json.Unmarshal([]byte(cmd[1]), &probe) != nil || len(probe) < 2 || probe[0] != argv[0] {
		t.Fatalf("HEALTHCHECK %s: want the exec form running %s itself (the image has no shell and no curl)", hc.Args, argv[0])
	}
	for _, err := range cli.Check(probe[1:]) {
		t.Errorf("HEALTHCHECK %q: %v", probe, err)
	}
	if probe[1] != "healthcheck" || slices.Contains(probe, "--ready") {
		t.Errorf("HEALTHCHECK %q: want codrive healthcheck, which probes /healthz", probe)
	}
	// It probes where attach serves: $CODRIVE_HTTP, set in the image.
	envs, ok := last(ins, "ENV")
	name, val, _ := strings.Cut(envs.Args, "=")
	if !ok || name != "CODRIVE_HTTP" || !cli.Env[name] {
		t.Fatalf("ENV %s: want CODRIVE_HTTP, which attach and healthcheck read", envs.Args)
	}
	if host, _, err := net.SplitHostPort(val); err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("ENV CODRIVE_HTTP=%s: loopback in the image; deployments open it wider with a token", val)
	}

	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", ".cache"} {
		if !slices.Contains(strings.Fields(string(ignore)), want) {
			t.Errorf(".dockerignore does not exclude %s (the context is the repository root)", want)
		}
	}
}

// The Dockerfile's own build line, run here as the builder stage runs it:
// it must produce a static binary that works without libc.
func TestDockerfileBuildLine(t *testing.T) {
	t.Parallel()
	root := deploytest.RepoRoot(t)
	var line string
	for _, in := range dockerfile(t) {
		if in.Op == "RUN" && strings.Contains(in.Args, "go build") {
			line = in.Args
		}
	}
	if line == "" {
		t.Fatal("Dockerfile: no RUN ... go build")
	}
	if !strings.Contains(line, "CGO_ENABLED=0") || !strings.HasSuffix(line, " ./cmd/codrive") {
		t.Fatalf("RUN %s: want CGO_ENABLED=0 go build ... ./cmd/codrive", line)
	}
	out := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(line)
	if out == nil {
		t.Fatalf("RUN %s: no -o", line)
	}
	bin := filepath.Join(t.TempDir(), "codrive")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", strings.Replace(line, out[0], "-o "+bin, 1))
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the Dockerfile's build line: %v\n%s", err, b)
	}
	if err := static(bin); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	// It runs, and its healthcheck speaks HTTP with nothing to answer it.
	if b, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput(); err != nil || !strings.Contains(string(b), "healthcheck") {
		t.Fatalf("codrive --help: %v\n%s", err, b)
	}
	err := exec.CommandContext(ctx, bin, "healthcheck", "--http", "127.0.0.1:1").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("codrive healthcheck with nothing listening: %v, want exit 4", err)
	}
}

// static tells whether an ELF binary needs no dynamic loader and no shared
// library.
func static(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return errors.New("dynamically linked (it has an interpreter or a dynamic section): the distroless/static image has no libc")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return errors.New("needs shared libraries: " + strings.Join(libs, ", "))
	}
	return nil
}

func goModVersion(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}
