package pixels

import (
	"image"
	"image/color"
	"image/draw"
	"testing"
)

func TestBox(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.RGBA{255, 255, 255, 255}}, image.Point{}, draw.Src)
	want := color.RGBA{200, 10, 200, 255}
	draw.Draw(img, image.Rect(10, 5, 30, 25), &image.Uniform{color.RGBA{190, 20, 210, 255}}, image.Point{}, draw.Src)
	box, n := Box(img, want, 16)
	if box != image.Rect(10, 5, 30, 25) || n != 20*20 {
		t.Fatalf("box %v n %d", box, n)
	}
	if c := Center(box); c != image.Pt(19, 14) {
		t.Fatalf("center %v", c)
	}
	if _, n := Box(img, want, 5); n != 0 {
		t.Fatalf("tolerance 5 matched %d pixels 10 away", n)
	}
}
