package timeline

import (
	"bytes"
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/codrive/codrive/cdp"
)

// pictureFile is the README's picture of a report.
const pictureFile = "../../testdata/timeline-report.png"

// domView is what a person would read off the rendered report.
type domView struct {
	BarW float64 `json:"barW"`
	Segs []struct {
		Driver string  `json:"driver"`
		Label  string  `json:"label"`
		At     float64 `json:"at"`
		Dur    float64 `json:"dur"`
		X      float64 `json:"x"`
		W      float64 `json:"w"`
	} `json:"segs"`
	Imgs []struct {
		ID       string `json:"id"`
		Complete bool   `json:"complete"`
		W        int    `json:"w"`
		Alt      string `json:"alt"`
	} `json:"imgs"`
	Totals []struct {
		Kind   string   `json:"kind"`
		Driver string   `json:"driver"`
		Person string   `json:"person"`
		MS     *float64 `json:"ms"`
		N      *int     `json:"n"`
		Text   string   `json:"text"`
	} `json:"totals"`
	Rows        int      `json:"rows"`
	HeldRows    int      `json:"heldRows"`
	Text        string   `json:"text"`
	Title       string   `json:"title"`
	DetailSrcs  []string `json:"detailSrcs"`
	Fetched     []string `json:"fetched"`
	Unlabelled  int      `json:"unlabelled"`
	DetailShown int      `json:"detailShown"`
}

const domScript = `(() => {
  const bar = document.getElementById('bar');
  const b = bar ? bar.getBoundingClientRect() : {left: 0, width: 0};
  const segs = [...document.querySelectorAll('#bar .seg')].map(e => { const r = e.getBoundingClientRect();
    return {driver: e.dataset.driver, label: e.dataset.label, at: +e.dataset.atMs, dur: +e.dataset.durMs, x: r.left - b.left, w: r.width}; });
  const imgs = [...document.images].map(i => ({id: i.id, complete: i.complete, w: i.naturalWidth, alt: i.alt}));
  const totals = [...document.querySelectorAll('[data-total]')].map(e => ({kind: e.dataset.total, driver: e.dataset.driver || '', person: e.dataset.person || '',
    ms: e.dataset.ms === undefined ? null : +e.dataset.ms, n: e.dataset.n === undefined ? null : +e.dataset.n, text: e.innerText}));
  const unlabelled = [...document.querySelectorAll('button')].filter(e => !(e.getAttribute('aria-label') || e.innerText.trim())).length;
  return {barW: b.width, segs, imgs, totals,
    rows: document.querySelectorAll('#events tbody tr').length, heldRows: document.querySelectorAll('#held tbody tr').length,
    text: document.body.innerText, title: document.getElementById('detail-title').textContent,
    detailSrcs: [...document.querySelectorAll('#detail-shots img')].map(i => i.src.slice(-64)),
    fetched: performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:')),
    unlabelled, detailShown: document.querySelectorAll('#detail-shots img').length};
})()`

// openReport loads an HTML report from disk in a tab of the shared
// Chromium, sized like a laptop screen.
func openReport(t *testing.T, path string) *cdp.Page {
	t.Helper()
	c := chromium(t)
	id := c.NewTabT(t, "about:blank")
	p, err := cdp.Attach(ctxT(t, deadline), c.URL, cdp.AttachOptions{Target: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Detach() })
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(p.Context(),
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate("file://"+abs),
	); err != nil {
		t.Fatal(err)
	}
	// Wait until every image is decoded: the report is one file, so this
	// is quick, but decoding is asynchronous.
	if _, err := chromedp.Run(p.Context(), chromedp.Poll[bool](`[...document.images].every(i => i.complete)`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("images never finished loading: %v", err)
	}
	return p
}

func readDOM(t *testing.T, p *cdp.Page) domView {
	t.Helper()
	raw, err := chromedp.Run(p.Context(), chromedp.Evaluate[json.RawMessage](domScript))
	if err != nil {
		t.Fatal(err)
	}
	var v domView
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return v
}

// checkReadable is what every report must pass, whatever it holds: no
// NaN or undefined, every image decoded and described, every control
// named, nothing fetched from outside the file.
func checkReadable(t *testing.T, v domView) {
	t.Helper()
	for _, bad := range []string{"NaN", "undefined", "Infinity", "null", "%!"} {
		if strings.Contains(v.Text, bad) {
			i := strings.Index(v.Text, bad)
			t.Errorf("the report shows %q: …%s…", bad, v.Text[max(0, i-80):min(len(v.Text), i+80)])
		}
	}
	for _, img := range v.Imgs {
		if !img.Complete || img.W == 0 {
			t.Errorf("image %q not decoded (complete %v, naturalWidth %d)", img.ID, img.Complete, img.W)
		}
		if strings.TrimSpace(img.Alt) == "" {
			t.Errorf("image %q has no alt text", img.ID)
		}
	}
	if v.Unlabelled != 0 {
		t.Errorf("%d buttons have no accessible name", v.Unlabelled)
	}
	if len(v.Fetched) != 0 {
		t.Errorf("the report fetched %v: it must be self-contained", v.Fetched)
	}
}

// screenshotReport takes a PNG of the top of the report: header, totals,
// timeline and the selected moment, as the README shows it.
func screenshotReport(t *testing.T, p *cdp.Page) []byte {
	t.Helper()
	bottom, err := chromedp.Run(p.Context(), chromedp.Evaluate[float64](`document.querySelector('.detail').getBoundingClientRect().bottom + window.scrollY + 14`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Call(p.Context(), page.CaptureScreenshot, page.CaptureScreenshotParams{
		Format:                page.CaptureScreenshotFormatPng,
		Clip:                  &page.Viewport{X: 0, Y: 0, Width: 1280, Height: math.Ceil(bottom), Scale: 1},
		CaptureBeyondViewport: boolPtr(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(res.Data))
	if err != nil {
		t.Fatalf("the report's screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() < 500 {
		t.Fatalf("the report's screenshot is %v", b)
	}
	return res.Data
}

func boolPtr(b bool) *bool { return &b }

func writePicture(t *testing.T, png []byte) {
	t.Helper()
	if err := os.WriteFile(pictureFile, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", pictureFile, len(png))
}
