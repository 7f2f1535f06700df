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

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// TextLine renders text in black Go Regular on a white w x h canvas, sized
// like a scanned line of print: cap-height-to-descender filling most of the
// height, or smaller when that would not fit the width, centred. It panics
// only if the embedded font fails to parse, which would be a build defect.
func TextLine(w, h int, text string) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		panic(fmt.Sprintf("testimage: parse Go Regular: %v", err))
	}
	face := func(size float64) font.Face {
		fc, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
		if err != nil {
			panic(fmt.Sprintf("testimage: Go Regular at %.1fpx: %v", size, err))
		}
		return fc
	}
	// Ascent+descent of Go Regular is about 1.17 em; 0.8 of the height
	// leaves the thin margins a text detector's crop has.
	size := 0.8 * float64(h) / 1.17
	fc := face(size)
	if adv := font.MeasureString(fc, text).Round(); adv > w*95/100 {
		fc.Close()
		size *= float64(w*95/100) / float64(adv)
		fc = face(size)
	}
	defer fc.Close()
	m := fc.Metrics()
	adv := font.MeasureString(fc, text)
	d := font.Drawer{
		Dst:  img,
		Src:  image.Black,
		Face: fc,
		Dot: fixed.Point26_6{
			X: (fixed.I(w) - adv) / 2,
			Y: (fixed.I(h) + m.Ascent - m.Descent) / 2,
		},
	}
	d.DrawString(text)
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
