package imaging

import (
	"image"
	"image/color"
)

// Oriented is a read-only view of Src as EXIF orientation Orientation (1-8)
// says it is meant to be displayed. It is a view rather than a rotated copy
// because Preprocess only ever reads a few hundred thousand of a photo's
// millions of pixels, so copying 12 Mpx to rotate them would cost more than
// the whole preprocessing.
type Oriented struct {
	Src image.Image
	// Orientation is the EXIF value: 1 upright, 2 mirrored, 3 rotated 180,
	// 4 flipped, 5 transposed, 6 needs 90 clockwise, 7 transversed,
	// 8 needs 90 counter-clockwise.
	Orientation int
}

// Orient returns img as displayed under EXIF orientation o: img itself for
// 1 (and for values outside 2-8), an *Oriented view otherwise.
func Orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	return &Oriented{Src: img, Orientation: o}
}

// swapsAxes reports whether orientation o turns the stored width into the
// displayed height.
func swapsAxes(o int) bool { return o >= 5 && o <= 8 }

// ColorModel is the source's color model.
func (o *Oriented) ColorModel() color.Model { return o.Src.ColorModel() }

// Bounds is the displayed rectangle, anchored at (0, 0).
func (o *Oriented) Bounds() image.Rectangle {
	b := o.Src.Bounds()
	if swapsAxes(o.Orientation) {
		return image.Rect(0, 0, b.Dy(), b.Dx())
	}
	return image.Rect(0, 0, b.Dx(), b.Dy())
}

// At returns the displayed pixel (x, y).
func (o *Oriented) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(o.Bounds())) {
		return o.Src.ColorModel().Convert(color.RGBA{})
	}
	sx, sy := o.source(x, y)
	return o.Src.At(sx, sy)
}

// source maps displayed (x, y) to the stored pixel, in Src's coordinates.
func (o *Oriented) source(x, y int) (int, int) {
	b := o.Src.Bounds()
	sx, sy := orientMap(o.Orientation, b.Dx(), b.Dy(), x, y)
	return sx + b.Min.X, sy + b.Min.Y
}

// orientMap maps displayed (x, y) to stored (sx, sy) for a stored image of
// w x h, each orientation being the inverse of the transform EXIF says
// turns the stored image into the displayed one.
func orientMap(o, w, h, x, y int) (int, int) {
	switch o {
	case 2: // mirrored horizontally
		return w - 1 - x, y
	case 3: // rotated 180
		return w - 1 - x, h - 1 - y
	case 4: // mirrored vertically
		return x, h - 1 - y
	case 5: // transposed (main diagonal)
		return y, x
	case 6: // display = stored rotated 90 clockwise
		return y, h - 1 - x
	case 7: // transversed (anti-diagonal)
		return w - 1 - y, h - 1 - x
	case 8: // display = stored rotated 90 counter-clockwise
		return w - 1 - y, x
	}
	return x, y
}
