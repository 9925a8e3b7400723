// Package pixels finds things on a screenshot the way a person finds them
// on the screen: by colour. Tests use it to aim a real viewer's clicks at
// what neko streams, without asking the browser where its window is.
package pixels

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"time"
)

// Box is the bounding box of the pixels within tol of c on each channel
// (tol absorbs JPEG's colour shifts), and how many there are; n is 0 and
// the box empty when none is.
func Box(img image.Image, c color.RGBA, tol int) (box image.Rectangle, n int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if !Near(img.At(x, y), c, tol) {
				continue
			}
			p := image.Rect(x, y, x+1, y+1)
			if n == 0 {
				box = p
			} else {
				box = box.Union(p)
			}
			n++
		}
	}
	return box, n
}

// Near reports whether c is within tol of want on each of R, G and B.
func Near(c color.Color, want color.RGBA, tol int) bool {
	r, g, b, _ := c.RGBA()
	return within(r>>8, want.R, tol) && within(g>>8, want.G, tol) && within(b>>8, want.B, tol)
}

func within(v uint32, want uint8, tol int) bool {
	d := int(v) - int(want)
	return d >= -tol && d <= tol
}

// Center is the middle pixel of a box.
func Center(r image.Rectangle) image.Point {
	return image.Pt((r.Min.X+r.Max.X-1)/2, (r.Min.Y+r.Max.Y-1)/2)
}

// Find takes screenshots until one shows at least min pixels of c (within
// tol) and returns their box. A screen sends no event when it has painted,
// so this polls, every 100ms, until ctx ends.
func Find(ctx context.Context, shot func(context.Context) (image.Image, error), c color.RGBA, tol, min int) (image.Rectangle, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	most := 0
	for {
		img, err := shot(ctx)
		if err == nil {
			box, n := Box(img, c, tol)
			if n >= min {
				return box, nil
			}
			most = max(most, n)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return image.Rectangle{}, fmt.Errorf("pixels: no screenshot showed %d pixels of %v (at most %d; last error %v): %w", min, c, most, last, ctx.Err())
		case <-tick.C:
		}
	}
}
