package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/codrive/codrive/cdp/cdptest"
	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/neko"
)

// A button that logs when it is clicked, filling the top left of the page.
const buttonPage = `data:text/html,<script>window.clicks=[]</script>` +
	`<button style="position:fixed;left:0;top:0;width:400px;height:300px" onclick="clicks.push(Date.now())">go</button>`

// codrive run while a person hosts: the script's click is held, reads pass,
// and the click lands only after the person releases.
func TestRunHoldsClickWhilePersonHosts(t *testing.T) {
	nekoserver.Each(t, nekoserver.Options{}, func(t *testing.T, srv nekoserver.Server) {
		c := chromium(t, buttonPage)
		// The script must find the button page, not the blank tab it
		// replaces: wait for it over a direct CDP connection.
		direct, err := dialCDP(c.WebSocketURL)
		if err != nil {
			t.Fatal(err)
		}
		err = waitLoaded(direct)
		direct.close()
		if err != nil {
			t.Fatalf("the button page never loaded: %v", err)
		}
		alice := newPerson(t, srv, "alice")
		if res, err := alice.client.RequestControl(ctxT(t)); err != nil || res != neko.ControlGranted {
			t.Fatalf("alice request: %v %v", res, err)
		}
		cmd := codriveCmd(t, srv, c.URL, "run", "--reclaim-after", "100ms", "--", os.Args[0])
		cmd.Env = append(cmd.Env, "E2E_CHILD=click")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		lines := make(chan string, 16)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
			exited <- cmd.Wait()
		}()
		line := func() string {
			t.Helper()
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the script ended early:\n%s", stderr.String())
				}
				return l
			case <-time.After(deadline):
				t.Fatalf("the script printed nothing:\n%s", stderr.String())
			}
			return ""
		}
		if l := line(); l != "held clicks=0" {
			t.Fatalf("script: %q, want the click held\n%s", l, stderr.String())
		}
		released := time.Now().UnixMilli()
		if err := alice.client.ReleaseControl(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		l := line()
		var clicks []int64
		if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "clicks ")), &clicks); err != nil || len(clicks) != 1 {
			t.Fatalf("script: %q (%v)\n%s", l, err, stderr.String())
		}
		if clicks[0] < released {
			t.Fatalf("the click landed at %d, before the person released at %d", clicks[0], released)
		}
		select {
		case err := <-exited:
			if code := exitCode(t, err); code != 0 {
				t.Fatalf("codrive run exit %d\n%s", code, stderr.String())
			}
		case <-time.After(deadline):
			t.Fatal("codrive run did not exit")
		}
		noHostLeft(t, srv)
		noCodriveSession(t, srv)
	})
}

// Chromium headful on real neko's X display, as the image runs it: a script
// paints the page through codrive, and both a capture of the display and
// neko's own screenshot (what it streams) show that colour. nekotest has no
// display, so this runs on real neko only.
func TestHeadfulChromiumOnNekoDisplay(t *testing.T) {
	t.Run(string(nekoserver.KindNeko), func(t *testing.T) {
		if !nekoserver.Selected(nekoserver.KindNeko) {
			t.Skipf("%s=%s", nekoserver.ServersEnv, os.Getenv(nekoserver.ServersEnv))
		}
		nekoserver.Require(t, nekoserver.KindNeko)
		cdptest.Require(t)
		if _, err := exec.LookPath("import"); err != nil {
			msg := "ImageMagick's import not found (make neko installs it)"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
		t.Parallel()
		srv := nekoserver.Start(t, nekoserver.KindNeko, nekoserver.Options{})
		c, err := cdptest.Start(ctxT(t), cdptest.Options{Display: srv.Display(), ExtraFlags: []string{"--window-size=1280,720"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)

		want := [3]uint8{0x12, 0xc4, 0x8b}
		page := fmt.Sprintf("data:text/html,<body style=margin:0;background:%%23%02x%02x%02x></body>", want[0], want[1], want[2])
		cmd := codriveCmd(t, srv, c.URL, "run", "--", os.Args[0])
		cmd.Env = append(cmd.Env, "E2E_CHILD=paint", "E2E_PAINT_URL="+page)
		out, err := cmd.CombinedOutput()
		if code := exitCode(t, err); code != 0 || !strings.Contains(string(out), "painted") {
			t.Fatalf("codrive run: exit %d\n%s", code, out)
		}

		var last float64
		shot := func() (image.Image, error) {
			out, err := exec.Command("import", "-display", srv.Display(), "-window", "root", "png:-").Output()
			if err != nil {
				return nil, fmt.Errorf("import: %w", err)
			}
			return png.Decode(bytes.NewReader(out))
		}
		img := waitForColour(t, shot, want, &last)
		t.Logf("X display %s: %.0f%% of the screen is the page's colour (%dx%d)", srv.Display(), last*100, img.Bounds().Dx(), img.Bounds().Dy())
		if os.Getenv("E2E_KEEP_SCREENSHOT") != "" {
			f, err := os.Create(os.Getenv("E2E_KEEP_SCREENSHOT"))
			if err == nil {
				_ = png.Encode(f, img)
				f.Close()
			}
		}

		admin, err := neko.NewClient(srv.URL(), neko.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Login(ctxT(t), "viewer", nekoserver.AdminPassword); err != nil {
			t.Fatal(err)
		}
		img = waitForColour(t, func() (image.Image, error) {
			b, err := admin.ScreenShot(context.Background())
			if err != nil {
				return nil, err
			}
			return jpeg.Decode(bytes.NewReader(b))
		}, want, &last)
		t.Logf("neko's screen/shot.jpg: %.0f%% of it is the page's colour (%dx%d)", last*100, img.Bounds().Dx(), img.Bounds().Dy())
	})
}

// waitForColour takes screenshots until at least half of one is the colour
// (within JPEG's tolerance), and fails at the deadline.
func waitForColour(t *testing.T, shot func() (image.Image, error), want [3]uint8, frac *float64) image.Image {
	t.Helper()
	end := time.Now().Add(deadline)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		img, err := shot()
		if err == nil {
			if *frac = colourFraction(img, want, 24); *frac >= 0.5 {
				return img
			}
		}
		if time.Now().After(end) {
			t.Fatalf("no screenshot showed the page's colour: last error %v, last fraction %.2f", err, *frac)
		}
		<-tick.C
	}
}

// colourFraction is the share of pixels within tol of want on each channel.
func colourFraction(img image.Image, want [3]uint8, tol int) float64 {
	b := img.Bounds()
	match := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, want[0], tol) && near(g>>8, want[1], tol) && near(bl>>8, want[2], tol) {
				match++
			}
		}
	}
	return float64(match) / float64(b.Dx()*b.Dy())
}

func near(v uint32, want uint8, tol int) bool {
	d := int(v) - int(want)
	return d >= -tol && d <= tol
}
