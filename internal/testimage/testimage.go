// Package testimage makes deterministic synthetic images, and files of every
// upload format, for tests: a line of printed text for the text-line
// orientation model, patterns whose corners show where pixels landed, and
// encoders (JPEG with an EXIF orientation, PNG, GIF, BMP, TIFF in either
// byte order).
package testimage

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// TextLine renders text in black Go Regular on a white w x h canvas the way
// a text detector crops a line of print: the glyphs fill most of the height
// and 95% of the width, with thin margins. The line is set at the size the
// height calls for and then stretched or condensed horizontally to the
// width, rather than set smaller or padded with white, because a detector's
// box always hugs the text and the model's fixed 160x80 resize changes the
// aspect anyway; small text floating in a wide white box is not what the
// orientation model was trained on (the rotated score of a short line
// padded that way drops to 0.93). It panics only if the embedded font fails
// to parse, a build defect.
func TextLine(w, h int, text string) *image.RGBA {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		panic(fmt.Sprintf("testimage: parse Go Regular: %v", err))
	}
	// Ascent+descent of Go Regular is about 1.17 em; 0.85 of the height
	// leaves the margins a detector's (unclipped, expanded) box has.
	size := 0.85 * float64(h) / 1.17
	fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		panic(fmt.Sprintf("testimage: Go Regular at %.1fpx: %v", size, err))
	}
	defer fc.Close()
	adv := font.MeasureString(fc, text)
	cw := max(1, (adv.Ceil()*100+94)/95) // the natural width with 5% margins
	canvas := image.NewRGBA(image.Rect(0, 0, cw, h))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	m := fc.Metrics()
	d := font.Drawer{
		Dst:  canvas,
		Src:  image.Black,
		Face: fc,
		Dot: fixed.Point26_6{
			X: (fixed.I(cw) - adv) / 2,
			Y: (fixed.I(h) + m.Ascent - m.Descent) / 2,
		},
	}
	d.DrawString(text)
	if cw == w {
		return canvas
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.CatmullRom.Scale(img, img.Bounds(), canvas, canvas.Bounds(), draw.Src, nil)
	return img
}

// Rotate180 returns a copy of img turned upside down.
func Rotate180(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := range b.Dy() {
		for x := range b.Dx() {
			out.Set(b.Dx()-1-x, b.Dy()-1-y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return out
}

// The colours of Quadrants, chosen far apart so they survive JPEG, and all
// present in the Plan 9 palette GIF uses.
var (
	TopLeft     = color.RGBA{255, 0, 0, 255}
	TopRight    = color.RGBA{0, 255, 0, 255}
	BottomLeft  = color.RGBA{0, 0, 255, 255}
	BottomRight = color.RGBA{255, 255, 255, 255}
)

// Quadrants is a w x h image split into four solid quadrants (TopLeft,
// TopRight, BottomLeft, BottomRight), so a test can tell from four samples
// how an image was rotated or mirrored.
func Quadrants(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			var c color.RGBA
			switch {
			case x < w/2 && y < h/2:
				c = TopLeft
			case y < h/2:
				c = TopRight
			case x < w/2:
				c = BottomLeft
			default:
				c = BottomRight
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// Photo is a deterministic w x h image with smooth gradients, sharp edges
// and fine texture in all three channels, standing in for a photograph in
// resize tests and benchmarks.
func Photo(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			fx, fy := float64(x)/float64(w), float64(y)/float64(h)
			r := 127.5 + 127.5*math.Sin(6*fx+2*fy)
			g := 255 * fy
			if (x/37+y/29)%2 == 0 {
				g = 255 - g
			}
			b := float64((x*7 + y*13) % 256)
			img.SetRGBA(x, y, color.RGBA{uint8(r), uint8(g), uint8(b), 255})
		}
	}
	return img
}
