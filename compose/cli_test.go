package compose

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/codrive/codrive/internal/deploytest"
)

// The compose files and the workflow call codrive by its real CLI: every
// command, flag and CODRIVE_* variable they use is one `codrive --help`
// lists.
func TestCLIAgreesWithSetup(t *testing.T) {
	t.Parallel()
	cli := deploytest.BuildCLI(t)
	check := func(where string, args []string) {
		t.Helper()
		for _, err := range cli.Check(args) {
			t.Errorf("%s: %v", where, err)
		}
	}
	envOK := func(where string, env map[string]string) {
		t.Helper()
		for k := range env {
			if strings.HasPrefix(k, "CODRIVE_") && !cli.Env[k] {
				t.Errorf("%s sets %s, which the CLI does not read", where, k)
			}
		}
	}
	cd := loadCompose(t).Services["codrive"]
	// What codrive must read in its container, by the CLI's names.
	for _, k := range []string{"CODRIVE_NEKO_URL", chromiumURLEnv, "CODRIVE_NEKO_PASSWORD", "CODRIVE_HTTP"} {
		if cd.Environment[k] == "" {
			t.Errorf("%s: the codrive service does not set %s", composePath, k)
		}
	}
	envOK(composePath+" codrive service", cd.Environment)
	check(composePath+" codrive command", cd.Command)
	host := loadComposeFile(t, hostPath).Services["codrive"]
	envOK(hostPath+" codrive service", host.Environment)
	check(hostPath+" codrive command", host.Command)

	j := onlyJob(loadWorkflow(t))
	for _, call := range composeCalls(j) {
		if call.Call.Command != "run" || len(call.Call.Args) < 2 {
			continue
		}
		where := fmt.Sprintf("%s step %q", workflowPath, j.Steps[call.Step].Name)
		check(where, call.Call.Args[1:])
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

func runConfig(t *testing.T, bin string, env []string, files ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// An empty --env-file: a developer's compose/.env must not decide the test.
	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--env-file", empty}
	for _, f := range append([]string{composePath}, files...) {
		args = append(args, "-f", f)
	}
	cmd := exec.CommandContext(ctx, bin, append(args, "config")...)
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

	t.Run("with the host override", func(t *testing.T) {
		t.Parallel()
		env := composeEnv("NEKO_USER_PASSWORD=dummy-user", "NEKO_ADMIN_PASSWORD=dummy-admin", "CODRIVE_TOKEN=dummy-token")
		out, errOut, err := runConfig(t, bin, env, hostPath)
		if err != nil {
			t.Fatalf("docker-compose config with %s: %v\n%s", hostPath, err, errOut)
		}
		var merged struct {
			Services map[string]struct {
				Environment map[string]string `yaml:"environment"`
				Ports       []string          `yaml:"ports"`
				Command     []string          `yaml:"command"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal([]byte(out), &merged); err != nil {
			t.Fatalf("parse docker-compose config output: %v\n%s", err, out)
		}
		cd := merged.Services["codrive"]
		if cd.Environment["CODRIVE_TOKEN"] != "dummy-token" || cd.Environment["CODRIVE_NEKO_PASSWORD"] != "dummy-admin" {
			t.Errorf("merged codrive environment %v", cd.Environment)
		}
		if v := flagValue(cd.Command, "--listen"); v != "0.0.0.0:9223" {
			t.Errorf("merged codrive --listen %q", v)
		}
		ports := strings.Join(merged.Services["neko"].Ports, " ")
		for _, want := range []string{"127.0.0.1:8080:8080", "127.0.0.1:9223:9223", "127.0.0.1:8081:8081"} {
			if !strings.Contains(ports, want) {
				t.Errorf("merged neko ports lack %s: %s", want, ports)
			}
		}
		env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "CODRIVE_TOKEN=") })
		if _, errOut, err := runConfig(t, bin, env, hostPath); err == nil || !strings.Contains(errOut, "CODRIVE_TOKEN") {
			t.Errorf("the host override without CODRIVE_TOKEN: %v %s", err, errOut)
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
}
