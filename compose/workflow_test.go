package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

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
		// docker compose v2 syntax, as the docs use: never docker-compose.
		for _, cmd := range commands(j.Steps[call.Step].Run) {
			if cmd[0] == "docker-compose" {
				t.Errorf("step %q runs docker-compose (v1): use docker compose", j.Steps[call.Step].Name)
			}
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
	build := slices.IndexFunc(calls, func(c workflowCall) bool { return c.Call.Command == "build" && slices.Contains(c.Call.Args, "codrive") })
	wait, okWait := codriveRun(calls, "wait")
	smoke, okSmoke := codriveRun(calls, "smoke")
	report := stepIndex(j, func(s step) bool { return strings.HasPrefix(s.Uses, "mikepenz/action-junit-report@") })
	upload := stepIndex(j, func(s step) bool { return strings.HasPrefix(s.Uses, "actions/upload-artifact@") })
	down := slices.IndexFunc(calls, func(c workflowCall) bool { return c.Call.Command == "down" })

	switch {
	case passwords < 0:
		t.Fatal("no step sets NEKO_USER_PASSWORD and NEKO_ADMIN_PASSWORD in GITHUB_ENV: compose refuses to start without them")
	case up < 0:
		t.Fatal("no step runs docker compose up -d neko")
	case build < 0:
		t.Fatal("no step builds the codrive image (docker compose build codrive)")
	case !okWait || !okSmoke:
		t.Fatal("the workflow must run codrive wait and codrive smoke with docker compose run")
	case report < 0:
		t.Fatal("the JUnit file is not reported on the run (mikepenz/action-junit-report)")
	case upload < 0 || down < 0:
		t.Fatal("the workflow must upload the report (actions/upload-artifact) and run docker compose down")
	}
	order := []struct {
		name string
		at   int
	}{
		{"passwords", passwords}, {"compose up", calls[up].Step}, {"wait", wait.Step},
		{"smoke", smoke.Step}, {"report", report}, {"down", calls[down].Step},
	}
	for i := 1; i < len(order); i++ {
		if order[i-1].at >= order[i].at {
			t.Errorf("step order: %s (step %d) must come before %s (step %d)", order[i-1].name, order[i-1].at, order[i].name, order[i].at)
		}
	}
	if calls[build].Step >= wait.Step {
		t.Error("the codrive image must be built before codrive wait runs in it")
	}
	if calls[down].Step != len(j.Steps)-1 {
		t.Errorf("docker compose down is not the last step")
	}
	for _, at := range []int{report, upload, calls[down].Step} {
		if !strings.Contains(j.Steps[at].If, "always()") {
			t.Errorf("step %q: want if: always(), so it runs when smoke fails", j.Steps[at].Name)
		}
	}

	// Nothing built that nothing uses: no Go toolchain on the runner, no
	// --build on neko (a published image), only the codrive image is built.
	for i, s := range j.Steps {
		if strings.HasPrefix(s.Uses, "actions/setup-go@") || strings.Contains(s.Run, "go build") {
			t.Errorf("step %d %q builds codrive on the runner: every codrive command runs in the image", i, s.Name)
		}
	}
	for _, call := range calls {
		if call.Call.Command == "up" && slices.Contains(call.Call.Options, "--build") {
			for _, svc := range call.Call.Args {
				if c.Services[svc].Build == nil {
					t.Errorf("step %q: up --build %s: %s is an image, there is nothing to build", j.Steps[call.Step].Name, svc, svc)
				}
			}
		}
		if call.Call.Command == "up" && slices.Contains(call.Call.Options, "--wait") {
			t.Errorf("step %q: up --wait fails on neko's health with a bare \"unhealthy\"; codrive wait says what is missing", j.Steps[call.Step].Name)
		}
	}
	// codrive wait must get to run and print its diagnostics: compose must not
	// gate the run on neko's health first.
	if d := c.Services[wait.Call.Args[0]].DependsOn["neko"]; d.Condition == "service_healthy" {
		t.Error("the service codrive wait runs in waits for neko to be healthy: compose would fail first, without wait's diagnostics")
	}

	// No duplicate runs: push only on some branches when pull_request is on.
	if w.On.PullRequest != nil && (w.On.Push == nil || len(w.On.Push.Branches) == 0) {
		t.Error("on: push (every branch) and pull_request: a pushed branch with a pull request runs twice; limit push to branches: [main]")
	}
	if w.Concurrency == nil || !strings.Contains(w.Concurrency.Group, "github.ref") || !w.Concurrency.CancelInProgress {
		t.Errorf("concurrency %+v: want a group per github.ref that cancels superseded runs", w.Concurrency)
	}
	if j.Permissions["checks"] != "write" {
		t.Errorf("job permissions %v: the test report needs checks: write", j.Permissions)
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

	// The JUnit report is written inside the container; the report and the
	// artifact must read the same file from the runner's side of the mount.
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
	if got := j.Steps[report].With["report_paths"]; filepath.Clean(got) != host {
		t.Errorf("action-junit-report report_paths %q; the report lands at %q", got, host)
	}
	if filepath.Base(host) != "smoke.xml" {
		t.Errorf("report %q: want smoke.xml", host)
	}
}
