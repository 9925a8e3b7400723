package compose

// codrive's managed Chromium policy lives beside neko's, never instead of it.
// These tests compare it with neko v3.1.5's own file, key by key, and run
// Debian's Chromium with both files in its managed policy folder (in a
// private mount namespace, so nothing else on the machine sees them) to
// show what each does to CDP.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/deploytest"
)

const (
	// policyDir is where Debian's Chromium (neko's image installs it) reads
	// managed policy: every *.json file in it.
	policyDir = "/etc/chromium/policies/managed/"
	// nekoPolicy is neko's own file there (apps/chromium/Dockerfile).
	nekoPolicy = policyDir + "policies.json"
)

// overrides are the keys codrive's file may set although neko's sets them,
// each for a reason found by running Chromium (TestPolicyOpensCDP).
var overrides = map[string]string{
	"DeveloperToolsAvailability": "neko's 2 lets the debugging port open but refuses to attach to any tab (\"Not allowed\"); 1 allows it",
}

func readPolicy(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: not a JSON object: %v", path, err)
	}
	return p
}

// codrivePolicy is the file compose mounts into the managed folder, and
// the name it gets there.
func codrivePolicy(t *testing.T) (source, target string) {
	t.Helper()
	for tgt, m := range mounts(t) {
		if tgt == nekoPolicy {
			t.Errorf("neko mounts %s over its own %s: add a file beside it instead, never a copy", m.Source, nekoPolicy)
		}
		if strings.HasPrefix(tgt, policyDir) {
			if source != "" {
				t.Errorf("two policy files mounted (%s, %s): one is enough", target, tgt)
			}
			source, target = m.Source, tgt
		}
	}
	if source == "" {
		t.Fatalf("neko mounts no policy file into %s", policyDir)
	}
	return source, target
}

// The file sets only what CDP needs, conflicts with neko's v3.1.5 file only
// where it must, and sorts after it, so that it wins those keys (Chromium's
// ConfigDirPolicyLoader: the last file in name order wins a key two set).
func TestPolicyBesideNekos(t *testing.T) {
	t.Parallel()
	src, target := codrivePolicy(t)
	ours := readPolicy(t, src)
	theirs := readPolicy(t, filepath.Join(deploytest.NekoSource(t), "apps", "chromium", "policies.json"))

	for _, k := range slices.Sorted(maps.Keys(ours)) {
		v, both := theirs[k]
		switch reason, allowed := overrides[k]; {
		case both && !allowed:
			t.Errorf("%s sets %s, which neko v3.1.5's policies.json sets too (%v): a conflict; leave neko's keys to neko", src, k, v)
		case both && fmt.Sprint(v) == fmt.Sprint(ours[k]):
			t.Errorf("%s sets %s to neko's own value %v: drop it", src, k, v)
		case allowed && !both:
			t.Errorf("%s overrides %s (%s), but neko's file does not set it any more: drop the override", src, k, reason)
		}
	}
	if got := fmt.Sprint(ours["DeveloperToolsAvailability"]); got != "1" {
		t.Errorf("%s: DeveloperToolsAvailability = %s, want 1 (0 and 2 refuse DevTools somewhere)", src, got)
	}
	if ours["RemoteDebuggingAllowed"] != true {
		t.Errorf("%s: RemoteDebuggingAllowed = %v, want true (false closes the debugging port)", src, ours["RemoteDebuggingAllowed"])
	}
	if len(ours) > 4 {
		t.Errorf("%s has %d keys: it should say only what CDP needs", src, len(ours))
	}
	if name := filepath.Base(target); name <= filepath.Base(nekoPolicy) || filepath.Ext(name) != ".json" {
		t.Errorf("mounted as %s: the name must end in .json and sort after %s to win the overridden keys", name, filepath.Base(nekoPolicy))
	}
}

// privateChromium runs Chromium with exactly these files in its managed
// policy folder: in a private mount namespace, /etc/chromium is a copy with
// them in policies/managed, so nothing else on the machine is affected.
func privateChromium(t *testing.T, files map[string]string) (*cdp.Browser, error) {
	t.Helper()
	cdptest.Require(t)
	if os.Geteuid() != 0 {
		needPrivilege(t, "root (to mount in a private namespace)")
	}
	if err := exec.Command("unshare", "-m", "--propagation", "private", "true").Run(); err != nil {
		needPrivilege(t, fmt.Sprintf("unshare -m (%v)", err))
	}
	if _, err := os.Stat("/etc/chromium"); err != nil {
		needPrivilege(t, "/etc/chromium, which Debian's chromium installs")
	}
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	if err := os.MkdirAll(filepath.Join(etc, "policies", "managed"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The rest of /etc/chromium (master_preferences) as it is.
	entries, _ := os.ReadDir("/etc/chromium")
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join("/etc/chromium", e.Name()))
			if err == nil {
				_ = os.WriteFile(filepath.Join(etc, e.Name()), b, 0o644)
			}
		}
	}
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(etc, "policies", "managed", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wrapper := filepath.Join(root, "chromium")
	script := fmt.Sprintf("#!/bin/sh\nexec unshare -m --propagation private sh -c 'mount --bind \"$0\" /etc/chromium && exec \"$@\"' %q %q \"$@\"\n", etc, cdp.ChromiumBinary())
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := cdp.Launch(ctx, cdp.LaunchOptions{Binary: wrapper})
	if err == nil {
		t.Cleanup(b.Close)
	}
	return b, err
}

func needPrivilege(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs %s; CI runs as root on Debian", what)
	}
	t.Skipf("needs %s", what)
}

// attachAndEvaluate attaches to the first tab as codrive does and runs one
// evaluation in it.
func attachAndEvaluate(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := cdp.Attach(ctx, url, cdp.AttachOptions{})
	if err != nil {
		return err
	}
	defer p.Detach()
	ectx, ecancel := context.WithTimeout(p.Context(), 20*time.Second)
	defer ecancel()
	v, err := chromedp.Run(ectx, chromedp.Evaluate[int](`1 + 2`))
	if err != nil {
		return err
	}
	if v != 3 {
		return fmt.Errorf("1 + 2 = %d", v)
	}
	return nil
}

// What the file is for, shown on Debian's Chromium: with neko's v3.1.5
// policy alone the debugging port opens, but attaching to a tab is refused;
// with codrive's file beside it, codrive attaches and evaluates. If a
// Chromium ever stops refusing, the first half fails: drop the override.
func TestPolicyOpensCDP(t *testing.T) {
	t.Parallel()
	src, target := codrivePolicy(t)
	nekos := filepath.Join(deploytest.NekoSource(t), "apps", "chromium", "policies.json")

	t.Run("neko's alone", func(t *testing.T) {
		t.Parallel()
		b, err := privateChromium(t, map[string]string{filepath.Base(nekoPolicy): nekos})
		if err != nil {
			t.Fatalf("Chromium with neko's policy: %v", err)
		}
		if _, err := cdp.GetVersion(context.Background(), b.URL); err != nil {
			t.Fatalf("neko's policy closed the debugging port itself: %v", err)
		}
		err = attachAndEvaluate(b.URL)
		if err == nil {
			t.Fatal("attached to a tab under neko's DeveloperToolsAvailability 2: the override in " + src + " may no longer be needed")
		}
		if !strings.Contains(err.Error(), "Not allowed") {
			t.Fatalf("attaching under neko's policy failed otherwise than expected: %v", err)
		}
	})
	t.Run("with codrive's", func(t *testing.T) {
		t.Parallel()
		b, err := privateChromium(t, map[string]string{filepath.Base(nekoPolicy): nekos, filepath.Base(target): src})
		if err != nil {
			t.Fatalf("Chromium with both policies: %v", err)
		}
		if err := attachAndEvaluate(b.URL); err != nil {
			t.Fatalf("codrive's policy beside neko's: %v", err)
		}
	})
}
