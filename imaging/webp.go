package imaging

import (
	"image"
	"image/color"
)

// webpYCbCr is a lossy WebP frame as x/image/webp decodes it, whose
// colours must be read the way libwebp (inside cv2.imdecode) produces
// them: VP8 stores limited-range BT.601 YUV, which Go's image.YCbCr would
// convert as full-range JFIF, washing every WebP out by several levels,
// and libwebp upsamples chroma with its own "fancy" filter.
type webpYCbCr struct {
	m *image.YCbCr
	a *image.NYCbCrA // non-nil when the frame has an alpha plane
}

// newWebP wraps a decoded lossy WebP; lossless frames (*image.NRGBA) are
// returned unchanged.
func newWebP(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.YCbCr:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			return &webpYCbCr{m: m}
		}
	case *image.NYCbCrA:
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			return &webpYCbCr{m: &m.YCbCr, a: m}
		}
	}
	return img
}

func (w *webpYCbCr) ColorModel() color.Model { return color.NRGBAModel }
func (w *webpYCbCr) Bounds() image.Rectangle { return w.m.Rect }

func (w *webpYCbCr) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(w.m.Rect)) {
		return color.NRGBA{}
	}
	var px [3]uint8
	webpPoints(w.m, []int{x}, []int{y}, px[:])
	a := uint8(0xff)
	if w.a != nil {
		a = w.a.A[w.a.AOffset(x, y)]
	}
	return color.NRGBA{px[0], px[1], px[2], a}
}

// webpPoints is libwebp's fancy upsampler (dsp/upsampling.c) and
// VP8YUVToRGB (dsp/yuv.h) evaluated at single pixels. For each output
// pixel the nearest chroma sample nn, its neighbours across (nf) and down
// (fn) and the diagonal ff give (((3nf + 3fn + nn + ff + 8) >> 3) + nn) >> 1;
// at the left edge, and the right edge of an even width, only the vertical
// (3nn + fn + 2) >> 2 applies. Rows pair as in libjpeg: the first row and
// the last of an even height blend a chroma row with itself.
func webpPoints(m *image.YCbCr, xs, ys []int, out []uint8) {
	r := m.Rect
	cw := (r.Dx() + 1) / 2
	ch := (r.Dy() + 1) / 2
	at := func(p []uint8, cx, cy int) uint32 { return uint32(p[cy*m.CStride+cx]) }
	for i, x := range xs {
		lx, ly := x-r.Min.X, ys[i]-r.Min.Y
		cy := ly >> 1
		fy := min(max(cy-1+2*(ly&1), 0), ch-1)
		// libwebp emits columns in pairs (2k-1, 2k): 2k-1 is nearest chroma
		// column k-1 and blends in k, 2k is nearest k and blends in k-1.
		nx, fx := lx>>1, lx>>1-1
		if lx&1 == 1 {
			fx = nx + 1
		}
		edge := lx == 0 || fx >= cw
		var uv [2]uint32
		for k, p := range [2][]uint8{m.Cb, m.Cr} {
			nn, fn := at(p, nx, cy), at(p, nx, fy)
			if edge {
				uv[k] = (3*nn + fn + 2) >> 2
				continue
			}
			nf, ff := at(p, fx, cy), at(p, fx, fy)
			uv[k] = (((3*nf + 3*fn + nn + ff + 8) >> 3) + nn) >> 1
		}
		yy := int32(m.Y[ly*m.YStride+lx])
		u, v := int32(uv[0]), int32(uv[1])
		out[3*i] = webpClip(mulHi(yy, 19077) + mulHi(v, 26149) - 14234)
		out[3*i+1] = webpClip(mulHi(yy, 19077) - mulHi(u, 6419) - mulHi(v, 13320) + 8708)
		out[3*i+2] = webpClip(mulHi(yy, 19077) + mulHi(u, 33050) - 17685)
	}
}

func mulHi(v, coeff int32) int32 { return (v * coeff) >> 8 }

// webpClip is VP8Clip8: 6 fractional bits, saturated.
func webpClip(v int32) uint8 {
	if v&^(256<<6-1) == 0 {
		return uint8(v >> 6)
	}
	if v < 0 {
		return 0
	}
	return 255
}
