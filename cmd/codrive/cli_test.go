package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codrive/codrive/internal/exitcode"
	"github.com/codrive/codrive/internal/oneshot"
)

// The conventions of issue 12, one test per numbered item it found (the
// item is named on each). The process-level ones run the real binary with
// an environment of their own.

// runBin runs the codrive binary with the test's environment minus every
// CODRIVE_ variable, plus env.
func runBin(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CODRIVE_") })
}

// silentListener accepts TCP connections and counts them, answering
// nothing: a neko or Chromium that must not be called.
func silentListener(t *testing.T) (string, func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			t.Cleanup(func() { c.Close() })
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String(), n.Load
}

// Item 1: `codrive version` and `codrive bogus` said "No help topic" and
// exited 3, the authentication code; `codrive help` too.
func TestVersionHelpAndUnknownCommands(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout
		err  string // in stderr
	}{
		{[]string{"version"}, 0, "codrive ", ""},
		{[]string{"--version"}, 0, "codrive ", ""},
		{[]string{"version", "--json"}, 0, `"go": "go1.`, ""},
		{[]string{"help"}, 0, "COMMANDS:", ""},
		{[]string{"help", "status"}, 0, "codrive status", ""},
		{[]string{"help", "control", "give"}, 0, "codrive control give", ""},
		{nil, 0, "COMMANDS:", ""},
		{[]string{"bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"statsu"}, 2, "", `(did you mean "status"?)`},
		{[]string{"help", "bogus"}, 2, "", `unknown command "bogus"`},
		{[]string{"control", "rset"}, 2, "", `unknown subcommand of control "rset" (did you mean "reset"?)`},
		{[]string{"--neko", "http://127.0.0.1:1", "hanodff"}, 2, "", `(did you mean "handoff"?)`},
		{[]string{"completion", "bash"}, 0, "complete -o default -F _codrive_complete codrive", ""},
		{[]string{"completion", "zsh"}, 0, "#compdef codrive", ""},
		{[]string{"completion", "fish"}, 0, "complete -c codrive", ""},
		{[]string{"completion", "tcsh"}, 2, "", `unknown shell "tcsh"`},
		{[]string{"completion"}, 2, "", "usage: codrive completion bash|zsh|fish"},
	} {
		code, out, errOut := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
			t.Errorf("codrive %v: exit %d, want %d\nstdout: %s\nstderr: %s", tc.args, code, tc.code, out, errOut)
		}
		if strings.Contains(errOut, "No help topic") {
			t.Errorf("codrive %v: urfave's own message: %s", tc.args, errOut)
		}
	}
	var v versionInfo
	_, out, _ := runCLI(t, "version", "--json")
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" || v.Platform == "" {
		t.Fatalf("version --json: %v %s", err, out)
	}
}

// Item 1: the version is the binary's build info, as `go version -m`
// reads it.
func TestVersionIsTheBuildInfo(t *testing.T) {
	bin := binary(t)
	code, out, errOut := runBin(t, nil, "version", "--json")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	var mod, rev string
	for _, l := range strings.Split(string(meta), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[0] == "mod":
			mod = f[2]
		case len(f) >= 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			rev = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	if v.Version != mod || v.Revision != rev {
		t.Fatalf("version --json says %q rev %q; the binary's build info %q rev %q", v.Version, v.Revision, mod, rev)
	}
}

// Item 1: the bash completion asks codrive what comes next.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed for this test")
	}
	dir := t.TempDir()
	if err := os.Symlink(binary(t), filepath.Join(dir, "codrive")); err != nil {
		t.Fatal(err)
	}
	script := `source <(codrive completion bash)
complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _codrive_complete; echo "${COMPREPLY[*]}"; }
complete_words codrive sta
complete_words codrive control re
complete_words codrive status --js`
	cmd := exec.Command(bash, "--norc", "-c", script)
	cmd.Env = append(cleanEnv(), "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{"status", "request release reset", "--json"}
	if !slices.Equal(lines, want) {
		t.Fatalf("completions %q, want %q", lines, want)
	}
}

// Item 2: global flags after the command were "flag provided but not
// defined"; a command's flags after its arguments were taken for more
// arguments.
func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	code, out, errOut := runCLI(t, "wait", "--timeout", "10s", "--cdp", c.URL, "--neko", srv.URL, "--password", "admin")
	if code != 0 || !strings.Contains(out, "ready") {
		t.Fatalf("wait with global flags after it: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "status", "--json", "--user", "robot", "--neko="+srv.URL, "--password=admin", "--chromium", c.URL)
	var r oneshot.Report
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.Neko.User != "robot" || r.CDP.URL != c.URL {
		t.Fatalf("status with global flags after it: exit %d %+v\n%s", code, r.Neko, errOut)
	}
	alice := viewer(t, srv, "alice", "neko", true)
	code, out, errOut = runCLI(t, "control", "give", "alice", "--json", "--neko", srv.URL, "--password", "admin")
	var res controlResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || !res.OK || !strings.Contains(res.Message, alice.SessionID()) {
		t.Fatalf("control give alice --json: exit %d %+v\n%s", code, res, errOut)
	}
}

func TestNormalizeArgs(t *testing.T) {
	app := newApp(nil, nil, &appState{getenv: os.LookupEnv})
	for _, tc := range []struct{ in, want string }{
		{"codrive wait --timeout 5s --cdp X", "codrive --cdp X wait --timeout 5s"},
		{"codrive --neko N status --json --user=u", "codrive --neko N --user=u status --json"},
		{"codrive control give alice --json --neko N", "codrive --neko N control give --json alice"},
		{"codrive run --policy hold -- cmd --neko x", "codrive run --policy hold -- cmd --neko x"},
		{"codrive run --neko N cmd --cdp y", "codrive --neko N run cmd --cdp y"},
		{"codrive handoff --reason --cdp", "codrive handoff --reason --cdp"},
		{"codrive status --password-file f --target t", "codrive --password-file f status --target t"},
	} {
		got, err := normalizeArgs(app, strings.Fields(tc.in))
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%q: %q %v, want %q", tc.in, strings.Join(got, " "), err, tc.want)
		}
	}
}

// Item 3: with $CODRIVE_NEKO_PASSWORD exported, a password file was "mutually
// exclusive". A flag wins over a file, a file over a variable.
func TestPasswordPrecedence(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	if err := os.WriteFile(good, []byte("admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("wrong-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"file flag over variable", []string{"CODRIVE_NEKO_PASSWORD=wrong-secret"}, []string{"--password-file", good}, 0},
		{"file variable over variable", []string{"CODRIVE_NEKO_PASSWORD=wrong-secret", "CODRIVE_NEKO_PASSWORD_FILE=" + good}, nil, 0},
		{"flag over file variable", []string{"CODRIVE_NEKO_PASSWORD_FILE=" + bad}, []string{"--password", "admin"}, 0},
		{"file flag over file variable", []string{"CODRIVE_NEKO_PASSWORD_FILE=" + bad}, []string{"--password-file", good}, 0},
		{"variable alone", []string{"CODRIVE_NEKO_PASSWORD=admin"}, nil, 0},
		{"both flags", nil, []string{"--password", "admin", "--password-file", good}, exitcode.Usage},
		{"missing file", []string{"CODRIVE_NEKO_PASSWORD_FILE=" + filepath.Join(dir, "none")}, nil, exitcode.Usage},
	} {
		args := append([]string{"--neko", srv.URL, "control", "request"}, tc.args...)
		code, out, errOut := runBin(t, tc.env, args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s%s", tc.name, code, tc.code, out, errOut)
		}
		if strings.Contains(out+errOut, "wrong-secret") {
			t.Errorf("%s: a password was printed", tc.name)
		}
	}
	// Commands that reach neither neko nor Chromium do not read secrets.
	for _, args := range [][]string{{"version"}, {"help"}, {"completion", "bash"}} {
		if code, _, errOut := runBin(t, []string{"CODRIVE_NEKO_PASSWORD_FILE=" + filepath.Join(dir, "none"), "CODRIVE_CDP_URL=http://127.0.0.1:9"}, args...); code != 0 || errOut != "" {
			t.Errorf("%v with a broken environment: exit %d %q", args, code, errOut)
		}
	}
}

// Item 5: a missing password read "unauthorized: wrong password".
func TestMissingPasswordSaysWhatToSet(t *testing.T) {
	t.Parallel()
	srv := newNeko(t, nil)
	for _, args := range [][]string{{"control", "request"}, {"wait", "--timeout", "10s"}, {"status"}} {
		code, out, errOut := runBin(t, nil, append([]string{"--neko", srv.URL, "--cdp", "http://127.0.0.1:1"}, args...)...)
		all := out + errOut
		if code != exitcode.Auth || !strings.Contains(all, "no password was given") ||
			!strings.Contains(all, "--password-file") || !strings.Contains(all, "CODRIVE_NEKO_PASSWORD") || strings.Contains(all, "wrong password") {
			t.Errorf("%v without a password: exit %d\n%s", args, code, all)
		}
	}
}

// Item 10: --neko on Chromium's port and --cdp on neko's were "404" with no
// hint; a ws:// neko URL too.
func TestSwappedAddressesAreNamed(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	code, out, errOut := runCLI(t, "--neko", c.URL, "--cdp", srv.URL, "--password", "admin", "control", "request")
	if code != exitcode.Unreachable || !strings.Contains(errOut, "answers like Chromium") || !strings.Contains(errOut, "swapped") {
		t.Errorf("--neko on Chromium: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "--neko", srv.URL, "--cdp", srv.URL, "--password", "admin", "status")
	if code != exitcode.Unreachable || !strings.Contains(out, "answers like neko") {
		t.Errorf("--cdp on neko: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "--neko", "ws://127.0.0.1:8080/api/ws", "status")
	if code != exitcode.Usage || !strings.Contains(errOut, "give neko's http URL, e.g. http://127.0.0.1:8080") {
		t.Errorf("--neko ws://: exit %d %s", code, errOut)
	}
}

// Item 11: the status report printed names as neko gave them.
func TestStatusTextIsSanitised(t *testing.T) {
	t.Parallel()
	c := sharedChromium(t)
	srv := newNeko(t, nil)
	viewer(t, srv, "mal\x1b]0;pwned\x07lory\x1b[2J", "neko", true)
	code, out, errOut := runCLI(t, "--neko", srv.URL, "--cdp", c.URL, "--password", "admin", "status")
	if code != 0 || !strings.Contains(out, "mal ]0;pwned lory [2J") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Fatalf("escape sequences reach the terminal: %q", out)
	}
}

// Item 8: smoke --junit /nonexistent/x.xml ran every check and only then
// failed.
func TestSmokeChecksItsOutputFirst(t *testing.T) {
	t.Parallel()
	nekoURL, nekoCalls := silentListener(t)
	cdpURL, cdpCalls := silentListener(t)
	start := time.Now()
	code, out, errOut := runCLI(t, "--neko", nekoURL, "--cdp", cdpURL, "--password", "admin", "smoke", "--junit", "/nonexistent/dir/x.xml")
	if code != exitcode.Usage || !strings.Contains(errOut, "--junit") || out != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if n, m := nekoCalls(), cdpCalls(); n != 0 || m != 0 {
		t.Fatalf("smoke called neko %d and Chromium %d times before checking --junit (%s)", n, m, time.Since(start))
	}
}

// Item 10: without a terminal, wait said one line and then nothing for up
// to its whole timeout. It says a line every progressEvery.
func TestWaitProgressWithoutTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b)
	boom := os.ErrDeadlineExceeded
	for i := range 40 {
		p.report(oneshot.WaitProgress{Step: oneshot.WaitStepCDP, Attempt: i + 1, Elapsed: time.Duration(i) * 500 * time.Millisecond, Err: boom})
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	// 0s, then 5s, 10s, 15s of 19.5s.
	if len(lines) != 4 || !strings.Contains(lines[1], "(5s, attempt 11)") || !strings.Contains(lines[3], "(15s, attempt 31)") {
		t.Fatalf("progress lines:\n%s", b.String())
	}
}
