package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/codrive/codrive/cdp"
	"github.com/codrive/codrive/internal/nekoserver"
	"github.com/codrive/codrive/internal/pagelog"
	"github.com/codrive/codrive/internal/pixels"
	"github.com/codrive/codrive/internal/whoclicks"
	"github.com/codrive/codrive/neko"
	"github.com/codrive/codrive/neko/viewer"
)

// step bounds each wait of a round.
const step = 30 * time.Second

// stack is real neko, a headful Chromium on its display with the whoclicks
// page, a script clicking it (through codrive when there is one) and a
// person's viewer.
type stack struct {
	name    string
	srv     nekoserver.Server
	web     *httptest.Server
	chrome  *cdp.Browser
	page    *pagelog.Log[whoclicks.Entry]
	attach  *exec.Cmd
	exited  chan struct{}
	stderr  *lines
	script  *whoclicks.ScriptClicker
	person  *viewer.Viewer
	aim     image.Point
	codrive bool
}

func startStack(ctx context.Context, name, codriveBin string) (st *stack, err error) {
	st = &stack{name: name, codrive: codriveBin != ""}
	defer func() {
		if err != nil {
			st.close()
			err = fmt.Errorf("%s: %w", name, err)
		}
	}()
	sctx, cancel := context.WithTimeout(ctx, 2*step)
	defer cancel()
	if st.srv, err = nekoserver.New(sctx, nekoserver.KindNeko, nekoserver.Options{}); err != nil {
		return st, err
	}
	st.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, whoclicks.Page)
	}))
	if st.chrome, err = cdp.Launch(sctx, cdp.LaunchOptions{Display: st.srv.Display(), URL: st.web.URL, ExtraFlags: whoclicks.WindowFlags}); err != nil {
		return st, err
	}
	if st.page, err = pagelog.Attach[whoclicks.Entry](sctx, st.chrome.URL); err != nil {
		return st, err
	}
	endpoint := st.chrome.URL
	if st.codrive {
		if endpoint, err = st.startAttach(sctx, codriveBin); err != nil {
			return st, err
		}
	}
	if st.script, err = whoclicks.StartScript(sctx, endpoint); err != nil {
		return st, err
	}
	if err = st.script.WaitReplied(sctx, 2); err != nil {
		return st, err
	}
	c, err := neko.NewClient(st.srv.URL(), neko.Options{})
	if err != nil {
		return st, err
	}
	if _, err = c.Login(sctx, "person", nekoserver.UserPassword); err != nil {
		return st, err
	}
	if st.person, err = viewer.Join(sctx, c, viewer.Options{}); err != nil {
		return st, err
	}
	admin, err := neko.NewClient(st.srv.URL(), neko.Options{})
	if err != nil {
		return st, err
	}
	if _, err = admin.Login(sctx, "screen-admin", nekoserver.AdminPassword); err != nil {
		return st, err
	}
	box, err := pixels.Find(sctx, func(ctx context.Context) (image.Image, error) {
		b, err := admin.ScreenShot(ctx)
		if err != nil {
			return nil, err
		}
		return jpeg.Decode(bytes.NewReader(b))
	}, whoclicks.PersonColour, 48, 2000)
	if err != nil {
		return st, err
	}
	st.aim = pixels.Center(box)
	return st, nil
}

// startAttach runs `codrive attach --listen` and returns its proxy URL.
func (st *stack) startAttach(ctx context.Context, bin string) (string, error) {
	cmd := exec.Command(bin, "--neko", st.srv.URL(), "--cdp", st.chrome.URL, "--log-level", "warn",
		"attach", "--json", "--listen", "127.0.0.1:0", "--reclaim-after", "100ms")
	cmd.Env = append(os.Environ(), "CODRIVE_NEKO_PASSWORD="+nekoserver.AdminPassword)
	cmd.Stdout = io.Discard
	st.stderr = &lines{found: make(chan string, 1)}
	cmd.Stderr = st.stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	st.attach, st.exited = cmd, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(st.exited)
	}()
	select {
	case u := <-st.stderr.found:
		return u, nil
	case <-st.exited:
		return "", fmt.Errorf("codrive attach exited: %s", st.stderr.String())
	case <-ctx.Done():
		return "", fmt.Errorf("codrive attach printed no proxy URL: %w\n%s", ctx.Err(), st.stderr.String())
	}
}

// lines keeps a process's stderr and finds codrive's proxy line in it.
type lines struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	found chan string
	sent  bool
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	if !l.sent {
		sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "codrive: CDP proxy on "); ok {
				u, _, _ = strings.Cut(u, " ")
				l.found <- u
				l.sent = true
				break
			}
		}
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// round is one handoff to the person and back.
func (st *stack) round(ctx context.Context) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	var s sample
	// Automation is driving: the script's commands are answered.
	_, replied := st.script.Progress()
	if err := st.script.WaitReplied(ctx, replied+2); err != nil {
		return s, err
	}
	last := lastN(st.page.Entries())

	t0 := time.Now()
	if err := st.person.RequestControl(ctx); err != nil {
		return s, err
	}
	s.granted = time.Since(t0)
	down, n, err := st.click(ctx, last)
	if err != nil {
		return s, err
	}
	s.handoff, s.interleaved = pageTime(down).Sub(t0), n

	last = lastN(st.page.Entries())
	t1 := time.Now()
	down, n, err = st.click(ctx, last)
	if err != nil {
		return s, err
	}
	s.input, s.interleaved = pageTime(down).Sub(t1), s.interleaved+n
	if s.ping, err = st.person.Ping(ctx); err != nil {
		return s, err
	}

	_, replied = st.script.Progress()
	t2 := time.Now()
	if err := st.person.ReleaseControl(ctx); err != nil {
		return s, err
	}
	if st.codrive {
		if err := st.script.WaitReplied(ctx, replied+1); err != nil {
			return s, err
		}
		s.giveBack = time.Since(t2)
	}
	return s, nil
}

// click clicks the person's button and returns when the page had its
// mousedown (its time) and its mouseup, with the number of script events
// between the two.
func (st *stack) click(ctx context.Context, after int) (float64, int, error) {
	if err := st.person.Click(ctx, st.aim.X, st.aim.Y); err != nil {
		return 0, 0, err
	}
	var down, up whoclicks.Entry
	_, err := st.page.Wait(ctx, "the person's click", func(es []whoclicks.Entry) bool {
		down, up = whoclicks.Entry{N: -1}, whoclicks.Entry{N: -1}
		for _, e := range es {
			if e.N <= after || e.Src != whoclicks.Person {
				continue
			}
			if e.Type == "mousedown" && down.N < 0 {
				down = e
			}
			if e.Type == "mouseup" && down.N >= 0 && up.N < 0 {
				up = e
			}
		}
		return up.N >= 0
	})
	if err != nil {
		return 0, 0, err
	}
	n := 0
	for _, e := range st.page.Entries() {
		if e.N > down.N && e.N < up.N && e.Src == whoclicks.Script {
			n++
		}
	}
	return down.T, n, nil
}

func lastN(es []whoclicks.Entry) int {
	n := -1
	for _, e := range es {
		n = max(n, e.N)
	}
	return n
}

// pageTime is a page timestamp (ms since the epoch) as a time.Time.
func pageTime(ms float64) time.Time { return time.UnixMicro(int64(ms * 1000)) }

func (st *stack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), step)
	defer cancel()
	if st.person != nil {
		_ = st.person.ReleaseControl(ctx)
	}
	if st.script != nil {
		if err := st.script.Stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "bench/person: %s: %v\n", st.name, err)
		}
	}
	if st.person != nil {
		_ = st.person.Close()
	}
	if st.attach != nil {
		_ = st.attach.Process.Signal(syscall.SIGTERM)
		select {
		case <-st.exited:
		case <-ctx.Done():
			_ = st.attach.Process.Kill()
			<-st.exited
		}
	}
	if st.page != nil {
		st.page.Close()
	}
	if st.chrome != nil {
		st.chrome.Close()
	}
	if st.web != nil {
		st.web.Close()
	}
	if st.srv != nil {
		st.srv.Close()
	}
}
