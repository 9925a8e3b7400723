package compose

// These tests read the compose setup as data and check what codrive relies on:
// the pieces that, if someone edits them wrongly, would only show as a
// container that starts and a codrive that can never attach. No Docker engine
// is needed; where docker-compose is installed, it validates the file too.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	composePath  = "docker-compose.yml"
	workflowPath = "github-actions.yml"
	// The workflow runs from the repository root; this folder is compose/ in it.
	composeFromRoot = "compose/docker-compose.yml"
	repoRoot        = ".."

	supervisordTarget = "/etc/neko/supervisord/chromium.conf"          // neko's apps/chromium/Dockerfile
	policyTarget      = "/etc/chromium/policies/managed/policies.json" // where Debian's chromium reads managed policy
)

// composeSpec is the part of the Compose file this setup uses. Decoding is
// strict: an unknown key (a typo such as "healtcheck") fails instead of being
// silently dropped. Add a field here when the file needs a new key.
type composeSpec struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string                `yaml:"image"`
	Build       *buildSpec            `yaml:"build"`
	ShmSize     string                `yaml:"shm_size"`
	Ports       []string              `yaml:"ports"`
	Environment map[string]string     `yaml:"environment"`
	Volumes     []string              `yaml:"volumes"`
	Healthcheck *healthcheck          `yaml:"healthcheck"`
	NetworkMode string                `yaml:"network_mode"`
	DependsOn   map[string]dependency `yaml:"depends_on"`
	Command     []string              `yaml:"command"`
}

type buildSpec struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type healthcheck struct {
	Test        []string `yaml:"test"`
	Interval    string   `yaml:"interval"`
	Timeout     string   `yaml:"timeout"`
	Retries     int      `yaml:"retries"`
	StartPeriod string   `yaml:"start_period"`
}

type dependency struct {
	Condition string `yaml:"condition"`
}

// workflowSpec is the part of a GitHub Actions workflow the example uses.
type workflowSpec struct {
	Name        string            `yaml:"name"`
	On          yaml.Node         `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]job    `yaml:"jobs"`
}

type job struct {
	RunsOn         string            `yaml:"runs-on"`
	TimeoutMinutes int               `yaml:"timeout-minutes"`
	Env            map[string]string `yaml:"env"`
	Steps          []step            `yaml:"steps"`
}

type step struct {
	Name string            `yaml:"name"`
	ID   string            `yaml:"id"`
	If   string            `yaml:"if"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
	Run  string            `yaml:"run"`
}

func decodeStrict(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	return nil
}

func loadCompose(t *testing.T) composeSpec {
	t.Helper()
	var c composeSpec
	if err := decodeStrict(composePath, &c); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"neko", "codrive"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("%s: no service %q", composePath, name)
		}
	}
	return c
}

func loadWorkflow(t *testing.T) workflowSpec {
	t.Helper()
	var w workflowSpec
	if err := decodeStrict(workflowPath, &w); err != nil {
		t.Fatal(err)
	}
	if len(w.Jobs) != 1 {
		t.Fatalf("%s: want exactly one job, got %d", workflowPath, len(w.Jobs))
	}
	return w
}

func onlyJob(w workflowSpec) job {
	for _, j := range w.Jobs {
		return j
	}
	return job{}
}

// requiredVar matches Compose's required-variable syntax, ${NAME:?message}:
// Compose refuses to start (and even to print the config) without NAME.
var requiredVar = regexp.MustCompile(`^\$\{([A-Z_][A-Z0-9_]*):\?[^}]+\}$`)

// requiredName returns NAME from "${NAME:?message}", or an error saying what
// the value should look like.
func requiredName(value string) (string, error) {
	m := requiredVar.FindStringSubmatch(value)
	if m == nil {
		return "", fmt.Errorf("%q is not a required variable: want ${NAME:?message}, so that Compose refuses to start without it", value)
	}
	return m[1], nil
}

// portSpec is one entry of a service's short-syntax ports.
type portSpec struct {
	HostIP     string
	Host       string // a port or a range "a-b"
	Container  string // a port or a range "a-b"
	Protocol   string
	Unresolved bool // holds ${...}: only docker-compose can tell
}

func parsePort(s string) (portSpec, error) {
	p := portSpec{Protocol: "tcp", Unresolved: strings.Contains(s, "${")}
	if i := strings.LastIndex(s, "/"); i >= 0 {
		p.Protocol = s[i+1:]
		s = s[:i]
	}
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 1:
		p.Container = parts[0]
	case 2:
		p.Host, p.Container = parts[0], parts[1]
	case 3:
		p.HostIP, p.Host, p.Container = parts[0], parts[1], parts[2]
	default:
		return p, fmt.Errorf("port %q: want [IP:]HOST:CONTAINER[/PROTO]", s)
	}
	if p.Protocol != "tcp" && p.Protocol != "udp" {
		return p, fmt.Errorf("port %q: unknown protocol %q", s, p.Protocol)
	}
	return p, nil
}

func TestNekoImageIsPinnedV3Chromium(t *testing.T) {
	t.Parallel()
	neko := loadCompose(t).Services["neko"]
	// A tag, not :latest: chromium.conf mirrors one release's supervisord.conf,
	// and codrive speaks neko v3's protocol.
	re := regexp.MustCompile(`^ghcr\.io/m1k1o/neko/chromium:3\.\d+\.\d+$`)
	if !re.MatchString(neko.Image) {
		t.Fatalf("neko image %q: want ghcr.io/m1k1o/neko/chromium pinned to a v3 release (3.X.Y)", neko.Image)
	}
	if neko.Build != nil {
		t.Error("neko has a build section: it must run the published image, which chromium.conf mirrors")
	}
}

func TestNekoPortsLoopbackOnly(t *testing.T) {
	t.Parallel()
	neko := loadCompose(t).Services["neko"]
	var web, media bool
	for _, s := range neko.Ports {
		p, err := parsePort(s)
		if err != nil {
			t.Fatal(err)
		}
		if p.Unresolved {
			t.Errorf("port %q: interpolated; keep ports literal so this test can check them", s)
			continue
		}
		if ip := net.ParseIP(p.HostIP); ip == nil || !ip.IsLoopback() {
			t.Errorf("port %q: published on %q; publish on 127.0.0.1 only (neko's API carries the admin password's power)", s, p.HostIP)
		}
		switch {
		case p.Protocol == "tcp" && p.Container == "8080":
			web = p.Host == "8080"
		case p.Protocol == "udp":
			media = true
			if epr := neko.Environment["NEKO_WEBRTC_EPR"]; p.Host != epr || p.Container != epr {
				t.Errorf("UDP port %q: host and container range must both equal NEKO_WEBRTC_EPR %q (neko announces these ports in ICE)", s, epr)
			}
		case p.Container == "9222" || p.Container == "9223":
			t.Errorf("port %q publishes CDP: it stays inside neko's network namespace by design", s)
		}
	}
	if !web {
		t.Error(`neko must publish "127.0.0.1:8080:8080" (the web UI and API)`)
	}
	if !media {
		t.Error("neko publishes no UDP range: WebRTC media cannot reach viewers")
	}
}

func TestNekoEnvironment(t *testing.T) {
	t.Parallel()
	env := loadCompose(t).Services["neko"].Environment
	for _, k := range []string{"NEKO_WEBRTC_EPR", "NEKO_WEBRTC_NAT1TO1", "NEKO_DESKTOP_SCREEN"} {
		if env[k] == "" {
			t.Errorf("neko environment lacks %s", k)
		}
	}
	// Without NAT1TO1, neko looks its public IP up on the internet at start-up
	// and does not start offline (shared/neko-protocol.md).
	if ip := net.ParseIP(env["NEKO_WEBRTC_NAT1TO1"]); ip == nil {
		t.Errorf("NEKO_WEBRTC_NAT1TO1 %q: want an IP address", env["NEKO_WEBRTC_NAT1TO1"])
	}
	if !regexp.MustCompile(`^\d+-\d+$`).MatchString(env["NEKO_WEBRTC_EPR"]) {
		t.Errorf("NEKO_WEBRTC_EPR %q: want a range FROM-TO", env["NEKO_WEBRTC_EPR"])
	}
	for _, k := range []string{"NEKO_MEMBER_MULTIUSER_USER_PASSWORD", "NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD"} {
		if _, err := requiredName(env[k]); err != nil {
			t.Errorf("neko %s: %v", k, err)
		}
	}
	user, _ := requiredName(env["NEKO_MEMBER_MULTIUSER_USER_PASSWORD"])
	admin, _ := requiredName(env["NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD"])
	if user != "" && user == admin {
		t.Errorf("user and admin passwords come from the same variable %s: people would log in as admins", user)
	}
}

func TestNekoSharedMemory(t *testing.T) {
	t.Parallel()
	size := loadCompose(t).Services["neko"].ShmSize
	n, err := parseBytes(size)
	if err != nil {
		t.Fatalf("neko shm_size: %v", err)
	}
	if n < 1<<30 {
		t.Errorf("neko shm_size %q: Chromium needs at least 1 GB of /dev/shm (neko's docs ask for 2 GB)", size)
	}
}

// parseBytes reads Compose's byte sizes: 2gb, 512m, 1073741824.
func parseBytes(s string) (int64, error) {
	m := regexp.MustCompile(`^(\d+)\s*([kmg]?)b?$`).FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return 0, fmt.Errorf("size %q: want a number with an optional k, m or g unit", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30}[m[2]]
	return n << shift, nil
}

// mount is one short-syntax bind mount.
type mount struct{ Source, Target, Mode string }

func parseVolume(s string) (mount, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return mount{}, fmt.Errorf("volume %q: want SOURCE:TARGET[:MODE]", s)
	}
	m := mount{Source: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		m.Mode = parts[2]
	}
	return m, nil
}

// mounts returns neko's bind mounts by target path, checking that each source
// is a file in this folder.
func mounts(t *testing.T) map[string]mount {
	t.Helper()
	out := map[string]mount{}
	for _, v := range loadCompose(t).Services["neko"].Volumes {
		m, err := parseVolume(v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.Source, "./") {
			t.Errorf("volume %q: source must be a file beside the compose file (./NAME)", v)
			continue
		}
		fi, err := os.Stat(m.Source)
		if err != nil {
			t.Errorf("volume %q: %v", v, err)
			continue
		}
		if !fi.Mode().IsRegular() {
			t.Errorf("volume %q: source is not a regular file", v)
		}
		if m.Mode != "ro" {
			t.Errorf("volume %q: mount it read-only (:ro); nothing in the container should rewrite it", v)
		}
		out[m.Target] = m
	}
	return out
}

func TestMountedFilesExist(t *testing.T) {
	t.Parallel()
	ms := mounts(t)
	for _, target := range []string{supervisordTarget, policyTarget} {
		if _, ok := ms[target]; !ok {
			t.Errorf("neko does not mount a file over %s", target)
		}
	}
}

// supervisordProgram reads one [program:NAME] section of a supervisord file:
// its keys, with indented continuation lines joined to the key above.
func supervisordProgram(path, name string) (map[string]string, error) {
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

// cdpPort is the port of CODRIVE_CDP_URL in the codrive service: the one
// codrive dials, which Chromium must open and the healthcheck must probe.
func cdpPort(t *testing.T) string {
	t.Helper()
	raw := loadCompose(t).Services["codrive"].Environment["CODRIVE_CDP_URL"]
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		t.Fatalf("codrive CODRIVE_CDP_URL %q: want http://127.0.0.1:PORT", raw)
	}
	return u.Port()
}

func TestSupervisordOpensCDP(t *testing.T) {
	t.Parallel()
	src := mounts(t)[supervisordTarget].Source
	if src == "" {
		t.Fatalf("no file mounted over %s", supervisordTarget)
	}
	prog, err := supervisordProgram(src, "chromium")
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Fields(prog["command"])
	if len(args) == 0 || args[0] != "/usr/bin/chromium" {
		t.Fatalf("%s: chromium command %q: want /usr/bin/chromium first, as in neko's apps/chromium/supervisord.conf", src, prog["command"])
	}
	flags := map[string]string{}
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		flags[k] = v
	}
	if got, want := flags["--remote-debugging-port"], cdpPort(t); got != want {
		t.Errorf("%s: --remote-debugging-port=%q; codrive dials CDP on port %s", src, got, want)
	}
	if addr, ok := flags["--remote-debugging-address"]; ok {
		if ip := net.ParseIP(addr); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s: --remote-debugging-address=%s: CDP must stay on loopback (anyone reaching it drives the browser unchecked)", src, addr)
		}
	} else {
		t.Errorf("%s: say --remote-debugging-address=127.0.0.1 explicitly", src)
	}
	if _, ok := flags["--user-data-dir"]; !ok {
		t.Errorf("%s: --user-data-dir is gone: neko's profile path must stay", src)
	}
	if prog["user"] == "" || prog["user"] == "root" {
		t.Errorf("%s: chromium runs as %q: keep neko's user=%%(ENV_USER)s", src, prog["user"])
	}
	// The mounted file replaces neko's whole chromium.conf, which also starts
	// the window manager.
	if _, err := supervisordProgram(src, "openbox"); err != nil {
		t.Errorf("%v: the file replaces neko's, so it must keep openbox", err)
	}
}

func TestPolicyAllowsDevTools(t *testing.T) {
	t.Parallel()
	src := mounts(t)[policyTarget].Source
	if src == "" {
		t.Fatalf("no file mounted over %s", policyTarget)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var policy map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&policy); err != nil {
		t.Fatalf("%s: not plain JSON: %v", src, err)
	}
	// 1 = DevTools allowed; neko's image ships 2, which forbids them and with
	// them attaching to pages over CDP.
	if got := fmt.Sprint(policy["DeveloperToolsAvailability"]); got != "1" {
		t.Errorf("%s: DeveloperToolsAvailability = %s; want 1", src, got)
	}
	if v, ok := policy["RemoteDebuggingAllowed"]; ok && v != true {
		t.Errorf("%s: RemoteDebuggingAllowed = %v: Chromium would not open its debugging port", src, v)
	}
}

func TestNekoHealthcheck(t *testing.T) {
	t.Parallel()
	hc := loadCompose(t).Services["neko"].Healthcheck
	if hc == nil || len(hc.Test) < 2 {
		t.Fatal("neko has no healthcheck: codrive's depends_on service_healthy would never be satisfied")
	}
	if hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL" {
		t.Fatalf("neko healthcheck test %q: want [CMD, ...] or [CMD-SHELL, ...]", hc.Test)
	}
	cmd := strings.Join(hc.Test[1:], " ")
	// neko's runtime image installs wget (and curl); nothing else fetches URLs.
	if !strings.Contains(cmd, "wget") && !strings.Contains(cmd, "curl") {
		t.Errorf("neko healthcheck %q: use wget or curl, the tools neko's image has", cmd)
	}
	if !strings.Contains(cmd, ":8080/health") {
		t.Errorf("neko healthcheck %q: must probe neko's /health on 8080", cmd)
	}
	if want := ":" + cdpPort(t) + "/json/version"; !strings.Contains(cmd, want) {
		t.Errorf("neko healthcheck %q: must probe Chromium's %s, or codrive starts before CDP answers", cmd, want)
	}
	if hc.Retries < 1 {
		t.Errorf("neko healthcheck retries = %d", hc.Retries)
	}
}

func TestCodriveService(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	cd := c.Services["codrive"]
	if cd.NetworkMode != "service:neko" {
		t.Errorf("codrive network_mode %q: want service:neko, the only way to reach CDP on neko's loopback", cd.NetworkMode)
	}
	if len(cd.Ports) > 0 {
		t.Errorf("codrive publishes ports %v: with network_mode service:neko, ports belong to neko", cd.Ports)
	}
	if d, ok := cd.DependsOn["neko"]; !ok || d.Condition != "service_healthy" {
		t.Errorf("codrive depends_on %v: want neko with condition service_healthy", cd.DependsOn)
	}

	for key, wantPort := range map[string]string{"CODRIVE_NEKO_URL": "8080", "CODRIVE_CDP_URL": cdpPort(t)} {
		u, err := url.Parse(cd.Environment[key])
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() != wantPort {
			t.Errorf("codrive %s = %q: want http://127.0.0.1:%s (neko's loopback, shared)", key, cd.Environment[key], wantPort)
		}
	}
	pw, err := requiredName(cd.Environment["CODRIVE_NEKO_PASSWORD"])
	if err != nil {
		t.Errorf("codrive CODRIVE_NEKO_PASSWORD: %v", err)
	}
	admin, _ := requiredName(c.Services["neko"].Environment["NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD"])
	if pw != admin {
		t.Errorf("codrive logs in with ${%s}, neko's admin password is ${%s}: codrive needs the admin profile", pw, admin)
	}

	if len(cd.Command) == 0 || cd.Command[0] != "attach" {
		t.Fatalf("codrive command %q: want attach ...", cd.Command)
	}
	listen := flagValue(cd.Command, "--listen")
	host, _, err := net.SplitHostPort(listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		t.Errorf("codrive --listen %q: want a loopback address (127.0.0.1:PORT)", listen)
	}
	if p := flagValue(cd.Command, "--policy"); !slices.Contains([]string{"yield", "finish-step", "hold", "locked"}, p) {
		t.Errorf("codrive --policy %q: want yield, finish-step, hold or locked", p)
	}

	if cd.Build == nil {
		t.Fatal("codrive has no build section")
	}
	df := filepath.Join(cd.Build.Context, cd.Build.Dockerfile)
	if abs, _ := filepath.Abs(df); abs != mustAbs(t, "Dockerfile") {
		t.Errorf("codrive build %s + %s = %s: want this folder's Dockerfile", cd.Build.Context, cd.Build.Dockerfile, df)
	}
	if _, err := os.Stat(filepath.Join(cd.Build.Context, "go.mod")); err != nil {
		t.Errorf("codrive build context %q is not the module root: %v", cd.Build.Context, err)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// flagValue returns the value of --name in args, given as "--name v" or
// "--name=v".
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// dockerInstruction is one Dockerfile instruction, continuation lines joined.
type dockerInstruction struct {
	Line int
	Op   string
	Args string
}

func parseDockerfile(path string) ([]dockerInstruction, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var (
		out     []dockerInstruction
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
		out = append(out, dockerInstruction{Line: start, Op: strings.ToUpper(op), Args: strings.TrimSpace(args)})
		pending.Reset()
	}
	if pending.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: instruction continues past the end of the file", path, start)
	}
	return out, nil
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins, err := parseDockerfile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms []dockerInstruction
	for _, in := range ins {
		if in.Op == "FROM" {
			froms = append(froms, in)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile: %d FROM lines; want a builder stage and a runtime stage", len(froms))
	}

	// The builder's Go must be the one go.mod asks for (golang:1.26 for go 1.26.x):
	// the official images set GOTOOLCHAIN=local and would refuse an older one.
	goVersion, err := goModVersion(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	builder := strings.Fields(froms[0].Args)
	if len(builder) != 3 || !strings.EqualFold(builder[1], "AS") {
		t.Fatalf("Dockerfile:%d: FROM %s: want FROM golang:%s AS NAME", froms[0].Line, froms[0].Args, goVersion)
	}
	if builder[0] != "golang:"+goVersion {
		t.Errorf("Dockerfile:%d: builder image %s; go.mod says go %s: want golang:%s", froms[0].Line, builder[0], goVersion, goVersion)
	}
	stage := builder[2]
	runtime := strings.Fields(froms[len(froms)-1].Args)[0]
	if !strings.HasPrefix(runtime, "gcr.io/distroless/") && !strings.HasPrefix(runtime, "debian:") {
		t.Errorf("Dockerfile: runtime image %s: want a small distroless or debian-slim image", runtime)
	}

	var built, copied, entry bool
	for _, in := range ins {
		switch {
		case in.Op == "RUN" && strings.Contains(in.Args, "go build"):
			if !strings.Contains(in.Args, "CGO_ENABLED=0") {
				t.Errorf("Dockerfile:%d: go build without CGO_ENABLED=0: the runtime image has no libc", in.Line)
			}
			pkg := ""
			for _, f := range strings.Fields(in.Args) {
				if strings.HasPrefix(f, "./") {
					pkg = f
				}
			}
			if pkg != "./cmd/codrive" {
				t.Errorf("Dockerfile:%d: go build %q: want ./cmd/codrive", in.Line, pkg)
			}
			if !hasGoFiles(filepath.Join(repoRoot, pkg)) {
				t.Errorf("Dockerfile:%d: %s has no Go files under the build context %s", in.Line, pkg, repoRoot)
			}
			built = true
		case in.Op == "COPY" && strings.Contains(in.Args, "--from="+stage):
			copied = true
		case in.Op == "ENTRYPOINT":
			var argv []string
			if err := json.Unmarshal([]byte(in.Args), &argv); err != nil || len(argv) == 0 || filepath.Base(argv[0]) != "codrive" {
				t.Errorf("Dockerfile:%d: ENTRYPOINT %s: want the exec form running codrive", in.Line, in.Args)
			}
			entry = true
		}
	}
	if !built || !copied || !entry {
		t.Errorf("Dockerfile: go build %v, COPY --from=%s %v, ENTRYPOINT %v: want all three", built, stage, copied, entry)
	}

	// The context is the repository root; without this the build would ship
	// .git and the Playwright driver in .cache to the daemon.
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", ".cache"} {
		if !slices.Contains(strings.Fields(string(ignore)), want) {
			t.Errorf("Dockerfile.dockerignore does not exclude %s", want)
		}
	}
}

func goModVersion(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		return "", errors.New("go.mod has no go directive")
	}
	return string(m[1]), nil
}

func hasGoFiles(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(matches) > 0
}

// shellWords splits one shell command line into words, honouring single and
// double quotes (no escapes, no expansion: $VARS stay as written).
func shellWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unbalanced %c in %q", quote, s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// commands splits a step's run script into command lines, joining lines
// continued with a backslash.
func commands(run string) [][]string {
	var out [][]string
	for _, line := range strings.Split(strings.ReplaceAll(run, "\\\n", " "), "\n") {
		if w, err := shellWords(strings.TrimSpace(line)); err == nil && len(w) > 0 {
			out = append(out, w)
		}
	}
	return out
}

// composeCall is one `docker compose ...` command line.
type composeCall struct {
	Files   []string // -f
	Command string   // up, run, build, down, ...
	Options []string // the subcommand's options, flags and values as written
	Args    []string // what follows the options (for run: SERVICE COMMAND...)
}

// Value-taking options of docker compose and of `docker compose run`; any other
// option is taken as a switch.
var composeValueOpts = map[string]bool{
	"-f": true, "--file": true, "-p": true, "--project-name": true, "--env-file": true, "--profile": true,
	"-v": true, "--volume": true, "-e": true, "--env": true, "-u": true, "--user": true, "-w": true, "--workdir": true,
	"--name": true, "--entrypoint": true, "-l": true, "--label": true, "--publish": true, "--timeout": true, "-t": true,
}

func parseComposeCall(words []string) (composeCall, bool) {
	if len(words) < 3 || words[0] != "docker" || words[1] != "compose" {
		return composeCall{}, false
	}
	var c composeCall
	i := 2
	for ; i < len(words) && strings.HasPrefix(words[i], "-"); i++ {
		if composeValueOpts[words[i]] && i+1 < len(words) {
			if words[i] == "-f" || words[i] == "--file" {
				c.Files = append(c.Files, words[i+1])
			}
			i++
		}
	}
	if i >= len(words) {
		return composeCall{}, false
	}
	c.Command = words[i]
	for i++; i < len(words) && strings.HasPrefix(words[i], "-"); i++ {
		c.Options = append(c.Options, words[i])
		if composeValueOpts[words[i]] && i+1 < len(words) {
			c.Options = append(c.Options, words[i+1])
			i++
		}
	}
	c.Args = words[i:]
	return c, true
}

// optionValues returns every value given to any of names in opts.
func optionValues(opts []string, names ...string) []string {
	var out []string
	for i := 0; i+1 < len(opts); i++ {
		if slices.Contains(names, opts[i]) {
			out = append(out, opts[i+1])
			i++
		}
	}
	return out
}

// workflowCall is a docker compose command found in a workflow step.
type workflowCall struct {
	Step  int
	Call  composeCall
	Words []string
}

func composeCalls(j job) []workflowCall {
	var out []workflowCall
	for i, s := range j.Steps {
		for _, w := range commands(s.Run) {
			if c, ok := parseComposeCall(w); ok {
				out = append(out, workflowCall{Step: i, Call: c, Words: w})
			}
		}
	}
	return out
}

// codriveRun finds the step running `docker compose run ... SERVICE sub ...`
// where SERVICE runs codrive.
func codriveRun(calls []workflowCall, sub string) (workflowCall, bool) {
	for _, c := range calls {
		if c.Call.Command == "run" && len(c.Call.Args) >= 2 && c.Call.Args[1] == sub {
			return c, true
		}
	}
	return workflowCall{}, false
}

func stepIndex(j job, match func(step) bool) int {
	return slices.IndexFunc(j.Steps, match)
}

func TestWorkflow(t *testing.T) {
	t.Parallel()
	w := loadWorkflow(t)
	c := loadCompose(t)
	j := onlyJob(w)
	calls := composeCalls(j)
	if len(calls) == 0 {
		t.Fatal("the workflow never runs docker compose")
	}
	for _, call := range calls {
		if !slices.Equal(call.Call.Files, []string{composeFromRoot}) {
			t.Errorf("step %q: docker compose -f %v: want -f %s", j.Steps[call.Step].Name, call.Call.Files, composeFromRoot)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, composeFromRoot)); err != nil {
		t.Fatalf("the workflow's compose file: %v", err)
	}

	passwords := stepIndex(j, func(s step) bool {
		return strings.Contains(s.Run, "NEKO_USER_PASSWORD=") && strings.Contains(s.Run, "NEKO_ADMIN_PASSWORD=") && strings.Contains(s.Run, "GITHUB_ENV")
	})
	up := slices.IndexFunc(calls, func(c workflowCall) bool {
		return c.Call.Command == "up" && slices.Contains(c.Call.Options, "-d") && slices.Contains(c.Call.Args, "neko")
	})
	setupGo := stepIndex(j, func(s step) bool { return strings.HasPrefix(s.Uses, "actions/setup-go@") })
	goBuild := stepIndex(j, func(s step) bool {
		return strings.Contains(s.Run, "go build") && strings.Contains(s.Run, "./cmd/codrive")
	})
	wait, okWait := codriveRun(calls, "wait")
	smoke, okSmoke := codriveRun(calls, "smoke")
	upload := stepIndex(j, func(s step) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") })
	down := slices.IndexFunc(calls, func(c workflowCall) bool { return c.Call.Command == "down" })

	switch {
	case passwords < 0:
		t.Fatal("no step sets NEKO_USER_PASSWORD and NEKO_ADMIN_PASSWORD in GITHUB_ENV: compose refuses to start without them")
	case up < 0:
		t.Fatal("no step runs docker compose up -d neko")
	case setupGo < 0 || goBuild < 0:
		t.Fatal("no actions/setup-go step building ./cmd/codrive")
	case !okWait || !okSmoke:
		t.Fatal("the workflow must run codrive wait and codrive smoke with docker compose run")
	case upload < 0 || down < 0:
		t.Fatal("the workflow must upload the report (actions/upload-artifact) and run docker compose down")
	}
	order := []struct {
		name string
		at   int
	}{
		{"passwords", passwords}, {"compose up", calls[up].Step}, {"wait", wait.Step},
		{"smoke", smoke.Step}, {"upload", upload}, {"down", calls[down].Step},
	}
	for i := 1; i < len(order); i++ {
		if order[i-1].at >= order[i].at {
			t.Errorf("step order: %s (step %d) must come before %s (step %d)", order[i-1].name, order[i-1].at, order[i].name, order[i].at)
		}
	}
	if calls[down].Step != len(j.Steps)-1 {
		t.Errorf("docker compose down is not the last step")
	}
	for _, at := range []int{upload, calls[down].Step} {
		if !strings.Contains(j.Steps[at].If, "always()") {
			t.Errorf("step %q: want if: always(), so it runs when smoke fails", j.Steps[at].Name)
		}
	}

	// Both run in the service that shares neko's network namespace: from the
	// runner itself Chromium's loopback-only CDP is out of reach.
	for _, call := range []workflowCall{wait, smoke} {
		svc := call.Call.Args[0]
		if s, ok := c.Services[svc]; !ok || s.NetworkMode != "service:neko" {
			t.Errorf("codrive %s runs in service %q: want a service with network_mode service:neko", call.Call.Args[1], svc)
		}
		if !slices.Contains(call.Call.Options, "--rm") || !slices.Contains(call.Call.Options, "-T") {
			t.Errorf("codrive %s: docker compose run %v: want --rm (no leftover containers) and -T (no TTY on a runner)", call.Call.Args[1], call.Call.Options)
		}
	}
	if flagValue(wait.Call.Args, "--timeout") == "" {
		t.Error("codrive wait without --timeout: the default may be shorter than a cold image pull and start")
	}

	// The JUnit report is written inside the container; the artifact must
	// upload the same file from the runner's side of the bind mount.
	junit := flagValue(smoke.Call.Args, "--junit")
	if junit == "" {
		t.Fatal("codrive smoke without --junit")
	}
	host := ""
	for _, v := range optionValues(smoke.Call.Options, "-v", "--volume") {
		src, dst, _ := strings.Cut(v, ":")
		rel, ok := strings.CutPrefix(src, "$PWD/")
		if !ok {
			continue
		}
		if r, ok := strings.CutPrefix(junit, strings.TrimSuffix(dst, "/")+"/"); ok {
			host = filepath.Join(rel, r)
		}
	}
	if host == "" {
		t.Fatalf("smoke writes %s in the container, but no -v $PWD/DIR:DIR mount brings it out", junit)
	}
	if got := j.Steps[upload].With["path"]; filepath.Clean(got) != host {
		t.Errorf("upload-artifact path %q; the report lands at %q", got, host)
	}
	if filepath.Base(host) != "smoke.xml" {
		t.Errorf("report %q: want smoke.xml", host)
	}
}

// cliSpec is what `codrive --help` and `codrive CMD --help` say.
type cliSpec struct {
	Global   map[string]bool            // global flags, with dashes
	Env      map[string]bool            // every $ENV named in any help
	Commands map[string]map[string]bool // command → its flags, with dashes
}

var (
	helpFlag = regexp.MustCompile(`^\s+((?:--?[a-z0-9][a-z0-9-]*(?:, )?)+)`)
	helpEnv  = regexp.MustCompile(`\$([A-Z][A-Z0-9_]*)`)
	helpCmd  = regexp.MustCompile(`^\s{3}([a-z][a-z0-9-]*)(?:, [a-z0-9-]+)*\s{2,}`)
)

// cliHelp is what one urfave/cli help screen lists.
type cliHelp struct {
	Commands []string        // under COMMANDS:
	Flags    map[string]bool // under any OPTIONS: heading, with dashes
	Env      []string        // the [$ENV] the flags list
}

func parseHelp(out string) cliHelp {
	h := cliHelp{Flags: map[string]bool{}}
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
					h.Flags[strings.TrimSpace(f)] = true
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

// codriveCLI builds codrive and reads its help. -race: `make test` has just
// built every dependency that way, so this costs a link.
func codriveCLI(t *testing.T) cliSpec {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "codrive")
	build := exec.CommandContext(ctx, "go", "build", "-race", "-o", bin, "./cmd/codrive")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/codrive: %v\n%s", err, out)
	}
	help := func(args ...string) cliHelp {
		out, err := exec.CommandContext(ctx, bin, append(args, "--help")...).CombinedOutput()
		if err != nil {
			t.Fatalf("codrive %s --help: %v\n%s", strings.Join(args, " "), err, out)
		}
		return parseHelp(string(out))
	}
	top := help()
	if len(top.Commands) == 0 || len(top.Flags) == 0 {
		t.Fatal("could not read commands and global flags from codrive --help")
	}
	spec := cliSpec{Global: top.Flags, Env: map[string]bool{}, Commands: map[string]map[string]bool{}}
	for _, e := range top.Env {
		spec.Env[e] = true
	}
	for _, name := range top.Commands {
		h := help(name)
		spec.Commands[name] = h.Flags
		for _, e := range h.Env {
			spec.Env[e] = true
		}
	}
	return spec
}

// checkInvocation checks `codrive ARGS...` against the CLI: a known command,
// and only flags it (or the global set) defines.
func checkInvocation(t *testing.T, where string, cli cliSpec, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: codrive with no command", where)
		return
	}
	flags, ok := cli.Commands[args[0]]
	if !ok {
		t.Errorf("%s: codrive has no command %q", where, args[0])
		return
	}
	for _, a := range args[1:] {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, _ := strings.Cut(a, "=")
		switch {
		case flags[name] || cli.Global[name]:
		default:
			t.Errorf("%s: codrive %s has no flag %s", where, args[0], name)
		}
	}
}

func TestCLIAgreesWithSetup(t *testing.T) {
	t.Parallel()
	cli := codriveCLI(t)
	c := loadCompose(t)
	cd := c.Services["codrive"]

	// The three variables codrive must read in its container, by the CLI's names.
	for _, k := range []string{"CODRIVE_NEKO_URL", "CODRIVE_CDP_URL", "CODRIVE_NEKO_PASSWORD"} {
		if !cli.Env[k] {
			t.Errorf("codrive's CLI reads no $%s any more; the compose file sets it", k)
		}
		if cd.Environment[k] == "" {
			t.Errorf("codrive service does not set %s", k)
		}
	}
	for k := range cd.Environment {
		if strings.HasPrefix(k, "CODRIVE_") && !cli.Env[k] {
			t.Errorf("codrive service sets %s, which the CLI does not read", k)
		}
	}
	checkInvocation(t, composePath+" codrive command", cli, cd.Command)

	j := onlyJob(loadWorkflow(t))
	for _, call := range composeCalls(j) {
		if call.Call.Command != "run" || len(call.Call.Args) < 2 {
			continue
		}
		where := fmt.Sprintf("%s step %q", workflowPath, j.Steps[call.Step].Name)
		checkInvocation(t, where, cli, call.Call.Args[1:])
		for _, e := range optionValues(call.Call.Options, "-e", "--env") {
			name, _, _ := strings.Cut(e, "=")
			if strings.HasPrefix(name, "CODRIVE_") && !cli.Env[name] {
				t.Errorf("%s: passes %s, which the CLI does not read", where, name)
			}
		}
	}
}

// composeEnv is the environment for docker-compose: this process's, less
// anything that would change how the file is read.
func composeEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NEKO_") && !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "CODRIVE_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// dockerCompose returns docker-compose's path. It is a Debian package that
// scripts/setup.sh installs, so under CI it must be there.
func dockerCompose(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("docker-compose not found under CI=true (scripts/setup.sh installs it): %v", err)
		}
		t.Skipf("docker-compose not installed (apt-get install docker-compose): %v", err)
	}
	return p
}

func runConfig(t *testing.T, bin string, env []string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// An empty --env-file: a developer's compose/.env must not decide the test.
	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "--env-file", empty, "-f", composePath, "config")
	cmd.Env = env
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

func TestDockerComposeConfig(t *testing.T) {
	t.Parallel()
	bin := dockerCompose(t)

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		out, errOut, err := runConfig(t, bin, composeEnv("NEKO_USER_PASSWORD=dummy-user", "NEKO_ADMIN_PASSWORD=dummy-admin"))
		if err != nil {
			t.Fatalf("docker-compose config: %v\n%s", err, errOut)
		}
		// The resolved file: the variables reached the right places.
		var resolved struct {
			Services map[string]struct {
				Environment map[string]string `yaml:"environment"`
				NetworkMode string            `yaml:"network_mode"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal([]byte(out), &resolved); err != nil {
			t.Fatalf("parse docker-compose config output: %v\n%s", err, out)
		}
		checks := []struct{ svc, key, want string }{
			{"neko", "NEKO_MEMBER_MULTIUSER_USER_PASSWORD", "dummy-user"},
			{"neko", "NEKO_MEMBER_MULTIUSER_ADMIN_PASSWORD", "dummy-admin"},
			{"codrive", "CODRIVE_NEKO_PASSWORD", "dummy-admin"},
		}
		for _, c := range checks {
			if got := resolved.Services[c.svc].Environment[c.key]; got != c.want {
				t.Errorf("resolved %s %s = %q, want %q", c.svc, c.key, got, c.want)
			}
		}
		if got := resolved.Services["codrive"].NetworkMode; got != "service:neko" {
			t.Errorf("resolved codrive network_mode = %q", got)
		}
	})

	for _, missing := range []string{"NEKO_USER_PASSWORD", "NEKO_ADMIN_PASSWORD"} {
		t.Run("without "+missing, func(t *testing.T) {
			t.Parallel()
			env := composeEnv("NEKO_USER_PASSWORD=dummy-user", "NEKO_ADMIN_PASSWORD=dummy-admin")
			env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, missing+"=") })
			_, errOut, err := runConfig(t, bin, env)
			if err == nil {
				t.Fatalf("docker-compose config succeeded without %s: the password must be required", missing)
			}
			if !strings.Contains(errOut, missing) {
				t.Errorf("docker-compose config without %s failed without naming it:\n%s", missing, errOut)
			}
		})
	}
}

func TestReadmeNamesTheVariables(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"NEKO_USER_PASSWORD", "NEKO_ADMIN_PASSWORD", "127.0.0.1:9223"} {
		if !bytes.Contains(b, []byte(v)) {
			t.Errorf("README.md does not mention %s", v)
		}
	}
}

// Bad input to the small parsers gives an error, never a panic.
func TestParsersRejectBadInput(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"1:2:3:4", "8080/sctp"} {
		if _, err := parsePort(s); err == nil {
			t.Errorf("parsePort(%q): no error", s)
		}
	}
	for _, s := range []string{"", "two gigs", "2tb"} {
		if _, err := parseBytes(s); err == nil {
			t.Errorf("parseBytes(%q): no error", s)
		}
	}
	if _, err := parseVolume("/only-one"); err == nil {
		t.Error("parseVolume without a target: no error")
	}
	if _, err := shellWords(`echo "open`); err == nil {
		t.Error("shellWords with an open quote: no error")
	}
	if _, err := requiredName("${NEKO_ADMIN_PASSWORD:-admin}"); err == nil {
		t.Error("requiredName accepted a default (:-): a password must be required, not defaulted")
	}
	if _, ok := parseComposeCall([]string{"docker", "compose"}); ok {
		t.Error("parseComposeCall accepted a call with no command")
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("  --orphan\n[program:chromium\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := supervisordProgram(bad, "chromium"); err == nil {
		t.Error("supervisordProgram on a broken file: no error")
	}
	df := filepath.Join(dir, "Dockerfile")
	if err := os.WriteFile(df, []byte("FROM x \\\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseDockerfile(df); err == nil {
		t.Error("parseDockerfile with a dangling continuation: no error")
	}
}
