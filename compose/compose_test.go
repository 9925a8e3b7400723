package compose

// These tests read the compose setup as data and check what codrive relies on:
// the pieces that, if someone edits them wrongly, would only show as a
// container that starts and a codrive that can never attach. No Docker engine
// is needed (none runs where they are written); where docker-compose is
// installed, it validates the files too, and neko v3.1.5's own files (its
// source, ../shared/third_party/neko) are what the mounted ones are compared
// with. The policy is checked on a real Chromium (policy_test.go).

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/codrive/codrive/internal/deploytest"
)

const (
	composePath  = "docker-compose.yml"
	hostPath     = "docker-compose.host.yml" // the override that publishes codrive on the host
	workflowPath = "github-actions.yml"
	// The workflow runs from the repository root; this folder is compose/ in it.
	composeFromRoot = "compose/docker-compose.yml"
	repoRoot        = ".."

	supervisordTarget = "/etc/neko/supervisord/chromium.conf" // neko's apps/chromium/Dockerfile
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
	Restart     string                `yaml:"restart"`
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
	On          workflowOn        `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency *concurrency      `yaml:"concurrency"`
	Jobs        map[string]job    `yaml:"jobs"`
}

// workflowOn is the triggers the example uses: a push to some branches,
// pull requests, by hand.
type workflowOn struct {
	Push             *branchFilter `yaml:"push"`
	PullRequest      *branchFilter `yaml:"pull_request"`
	WorkflowDispatch *struct{}     `yaml:"workflow_dispatch"`
}

type branchFilter struct {
	Branches []string `yaml:"branches"`
}

type concurrency struct {
	Group            string `yaml:"group"`
	CancelInProgress bool   `yaml:"cancel-in-progress"`
}

type job struct {
	RunsOn         string            `yaml:"runs-on"`
	TimeoutMinutes int               `yaml:"timeout-minutes"`
	Permissions    map[string]string `yaml:"permissions"`
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
	return loadComposeFile(t, composePath)
}

func loadComposeFile(t *testing.T, path string) composeSpec {
	t.Helper()
	var c composeSpec
	if err := decodeStrict(path, &c); err != nil {
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
	if _, ok := ms[supervisordTarget]; !ok {
		t.Errorf("neko does not mount a file over %s", supervisordTarget)
	}
}

// chromiumURLEnv is the variable of codrive's --cdp: Chromium's own
// endpoint (CODRIVE_CDP_URL is what `codrive run` hands scripts).
const chromiumURLEnv = "CODRIVE_CHROMIUM_URL"

// cdpPort is the port of CODRIVE_CHROMIUM_URL in the codrive service: the
// one codrive dials, which Chromium must open and the healthcheck must probe.
func cdpPort(t *testing.T) string {
	t.Helper()
	raw := loadCompose(t).Services["codrive"].Environment[chromiumURLEnv]
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		t.Fatalf("codrive %s %q: want http://127.0.0.1:PORT", chromiumURLEnv, raw)
	}
	return u.Port()
}

func TestSupervisordOpensCDP(t *testing.T) {
	t.Parallel()
	src := mounts(t)[supervisordTarget].Source
	if src == "" {
		t.Fatalf("no file mounted over %s", supervisordTarget)
	}
	prog, err := deploytest.SupervisordProgram(src, "chromium")
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
	if _, err := deploytest.SupervisordProgram(src, "openbox"); err != nil {
		t.Errorf("%v: the file replaces neko's, so it must keep openbox", err)
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
	// Started, not healthy: codrive waits by itself and says for what; a
	// health gate would fail `docker compose run codrive wait` with a bare
	// "unhealthy" before wait could print its diagnostics.
	if d, ok := cd.DependsOn["neko"]; !ok || d.Condition != "service_started" {
		t.Errorf("codrive depends_on %v: want neko with condition service_started", cd.DependsOn)
	}
	if cd.Restart == "" || cd.Restart == "no" {
		t.Errorf("codrive restart %q: a sidecar comes back after a crash (unless-stopped)", cd.Restart)
	}

	for key, wantPort := range map[string]string{"CODRIVE_NEKO_URL": "8080", chromiumURLEnv: cdpPort(t)} {
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
	if listen := flagValue(cd.Command, "--listen"); !isLoopbackAddr(listen) {
		t.Errorf("codrive --listen %q: want a loopback address (127.0.0.1:PORT)", listen)
	}
	if p := flagValue(cd.Command, "--policy"); !slices.Contains([]string{"yield", "finish-step", "hold", "locked"}, p) {
		t.Errorf("codrive --policy %q: want yield, finish-step, hold or locked", p)
	}

	if h := cd.Environment["CODRIVE_HTTP"]; !isLoopbackAddr(h) {
		t.Errorf("codrive CODRIVE_HTTP %q: want a loopback address (the probes need no more here)", h)
	}

	if cd.Build == nil {
		t.Fatal("codrive has no build section")
	}
	df := filepath.Join(cd.Build.Context, cd.Build.Dockerfile)
	if abs, _ := filepath.Abs(df); abs != mustAbs(t, filepath.Join(repoRoot, "Dockerfile")) {
		t.Errorf("codrive build %s + %s = %s: want the repository's Dockerfile (make image builds it)", cd.Build.Context, cd.Build.Dockerfile, df)
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

func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// chromium.conf replaces neko's whole file: it must be v3.1.5's, program for
// program and key for key, with only the two remote-debugging flags added.
func TestSupervisordMatchesNeko(t *testing.T) {
	t.Parallel()
	src := mounts(t)[supervisordTarget].Source
	nekos := filepath.Join(deploytest.NekoSource(t), "apps", "chromium", "supervisord.conf")
	for _, program := range []string{"chromium", "openbox"} {
		ours, err := deploytest.SupervisordProgram(src, program)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := deploytest.SupervisordProgram(nekos, program)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range slices.Sorted(maps.Keys(theirs)) {
			if k == "command" && program == "chromium" {
				continue
			}
			if ours[k] != theirs[k] {
				t.Errorf("%s [program:%s] %s = %q; neko v3.1.5 has %q", src, program, k, ours[k], theirs[k])
			}
		}
		for k := range ours {
			if _, ok := theirs[k]; !ok {
				t.Errorf("%s [program:%s] adds %s, which neko v3.1.5 does not set", src, program, k)
			}
		}
		if program != "chromium" {
			continue
		}
		want := append(strings.Fields(theirs["command"]), "--remote-debugging-port="+cdpPort(t), "--remote-debugging-address=127.0.0.1")
		if got := strings.Fields(ours["command"]); !slices.Equal(got, want) {
			t.Errorf("%s chromium command:\n got %q\nwant %q (neko v3.1.5's, then the two remote-debugging flags)", src, got, want)
		}
	}
}
