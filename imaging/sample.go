package imaging

import (
	"image"
	"image/color"
)

// sampler reads individual stored pixels as 8-bit RGB straight from the
// decoders' pixel slices, so the cost of preprocessing depends on the
// output size, not the photo's. Alpha is dropped, never composited: cv2's
// IMREAD_COLOR (what PaddleClas' DecodeImage uses) strips the alpha channel
// and keeps each pixel's stored colour, so the models were trained and
// evaluated on exactly that.
type sampler struct {
	img image.Image
	pal [][3]uint8 // *image.Paletted entries as RGB
}

func newSampler(img image.Image) *sampler {
	s := &sampler{img: img}
	if p, ok := img.(*image.Paletted); ok {
		s.pal = make([][3]uint8, len(p.Palette))
		for i, c := range p.Palette {
			s.pal[i] = toRGB(c)
		}
	}
	return s
}

// toRGB drops alpha from any colour, un-premultiplying where the colour
// type is premultiplied so a half-transparent red stays red.
func toRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		return unpremul(c.R, c.G, c.B, c.A)
	case color.NRGBA64:
		return [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
	case color.CMYK:
		r, g, b := cmykToRGB(c.C, c.M, c.Y, c.K)
		return [3]uint8{r, g, b}
	case color.NYCbCrA:
		// Not through RGBA(), which premultiplies and so loses the colour
		// of transparent pixels.
		r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		return [3]uint8{r, g, b}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}

func unpremul(r, g, b, a uint8) [3]uint8 {
	if a == 0xff || a == 0 {
		return [3]uint8{r, g, b}
	}
	f := func(c uint8) uint8 {
		v := (uint32(c)*0xff + uint32(a)/2) / uint32(a)
		return uint8(min(v, 0xff))
	}
	return [3]uint8{f(r), f(g), f(b)}
}

// points writes the RGB of stored pixels (xs[i], ys[i]), given in the
// image's own coordinates, to out[3i:3i+3]. The type switch happens once
// per call, not per pixel.
func (s *sampler) points(xs, ys []int, out []uint8) {
	if len(xs) == 0 {
		return
	}
	_ = out[3*len(xs)-1]
	switch m := s.img.(type) {
	case *image.YCbCr:
		ycbcrPoints(m, xs, ys, out)
	case *image.NYCbCrA:
		ycbcrPoints(&m.YCbCr, xs, ys, out)
	case *webpYCbCr:
		webpPoints(m.m, xs, ys, out)
	case *image.RGBA:
		for i, x := range xs {
			p := m.Pix[m.PixOffset(x, ys[i]):]
			p = p[:4:4]
			o := out[3*i : 3*i+3 : 3*i+3]
			if a := p[3]; a == 0xff || a == 0 {
				o[0], o[1], o[2] = p[0], p[1], p[2]
				continue
			}
			c := unpremul(p[0], p[1], p[2], p[3])
			o[0], o[1], o[2] = c[0], c[1], c[2]
		}
	case *image.NRGBA:
		for i, x := range xs {
			p := m.Pix[m.PixOffset(x, ys[i]):]
			out[3*i], out[3*i+1], out[3*i+2] = p[0], p[1], p[2]
		}
	case *image.Gray:
		for i, x := range xs {
			v := m.Pix[m.PixOffset(x, ys[i])]
			out[3*i], out[3*i+1], out[3*i+2] = v, v, v
		}
	case *image.Gray16:
		// cv2 (libpng's strip_16) keeps the high byte of 16-bit samples.
		for i, x := range xs {
			v := m.Pix[m.PixOffset(x, ys[i])]
			out[3*i], out[3*i+1], out[3*i+2] = v, v, v
		}
	case *image.NRGBA64:
		for i, x := range xs {
			p := m.Pix[m.PixOffset(x, ys[i]):]
			out[3*i], out[3*i+1], out[3*i+2] = p[0], p[2], p[4]
		}
	case *image.CMYK:
		for i, x := range xs {
			p := m.Pix[m.PixOffset(x, ys[i]):]
			out[3*i], out[3*i+1], out[3*i+2] = cmykToRGB(p[0], p[1], p[2], p[3])
		}
	case *image.Paletted:
		for i, x := range xs {
			var c [3]uint8 // an index past the palette reads as black
			if v := int(m.Pix[m.PixOffset(x, ys[i])]); v < len(s.pal) {
				c = s.pal[v]
			}
			copy(out[3*i:3*i+3], c[:])
		}
	default:
		// RGBA64 (16-bit PNG/TIFF with alpha) and anything exotic: rare
		// enough that an interface call per pixel is acceptable.
		for i, x := range xs {
			c := toRGB(s.img.At(x, ys[i]))
			copy(out[3*i:3*i+3], c[:])
		}
	}
}

// ycbcrPoints converts YCbCr the way libjpeg(-turbo) does inside
// cv2.imdecode, so JPEG uploads give the pixels PaddleClas saw: chroma is
// "fancy" upsampled (a 3:1 triangle filter between the nearest chroma
// samples, with libjpeg's alternating rounding biases) rather than
// replicated as Go's YCbCr.At does, and colour conversion uses libjpeg's
// 16-bit fixed-point tables. Against OpenCV 4.6 this takes the mean
// difference on a 4:2:0 test photo from ~6 levels to ~0.2 (the rest is
// Go's IDCT). Ratios libjpeg does not filter (4:1:1, 4:1:0) replicate.
func ycbcrPoints(m *image.YCbCr, xs, ys []int, out []uint8) {
	r := m.Rect
	cx0, cy0 := r.Min.X, r.Min.Y
	cx1, cy1 := r.Max.X-1, r.Max.Y-1
	var hs, vs int // log2 of the horizontal and vertical subsampling
	// libjpeg filters horizontally only when the chroma row is wider than
	// two samples.
	wide := (cx1>>1)-(cx0>>1)+1 > 2
	switch {
	case m.SubsampleRatio == image.YCbCrSubsampleRatio420 && wide:
		hs, vs = 1, 1
	case m.SubsampleRatio == image.YCbCrSubsampleRatio422 && wide:
		hs = 1
	case m.SubsampleRatio == image.YCbCrSubsampleRatio440:
		vs = 1
	default:
		for i, x := range xs {
			y := ys[i]
			yi, ci := m.YOffset(x, y), m.COffset(x, y)
			out[3*i], out[3*i+1], out[3*i+2] = jpegYCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
		}
		return
	}
	cx0, cx1 = cx0>>hs, cx1>>hs
	cy0, cy1 = cy0>>vs, cy1>>vs
	at := func(p []uint8, cx, cy int) int32 {
		return int32(p[(cy-cy0)*m.CStride+(cx-cx0)])
	}
	for i, x := range xs {
		y := ys[i]
		cx, cy := x>>hs, y>>vs
		// The nearer neighbour in each filtered direction: left/above for
		// the first output pixel of a pair, right/below for the second,
		// replicated at the edges as libjpeg's context rows are.
		nx, ny := cx, cy
		if hs == 1 {
			nx = min(max(cx-1+2*(x&1), cx0), cx1)
		}
		if vs == 1 {
			ny = min(max(cy-1+2*(y&1), cy0), cy1)
		}
		var cb, cr int32
		switch {
		case hs == 1 && vs == 1: // h2v2_fancy_upsample
			bias := int32(8 - x&1)
			colsum := func(p []uint8, c int) int32 { return 3*at(p, c, cy) + at(p, c, ny) }
			cb = (3*colsum(m.Cb, cx) + colsum(m.Cb, nx) + bias) >> 4
			cr = (3*colsum(m.Cr, cx) + colsum(m.Cr, nx) + bias) >> 4
		case hs == 1: // h2v1_fancy_upsample
			bias := int32(1 + x&1)
			cb = (3*at(m.Cb, cx, cy) + at(m.Cb, nx, cy) + bias) >> 2
			cr = (3*at(m.Cr, cx, cy) + at(m.Cr, nx, cy) + bias) >> 2
		default: // h1v2_fancy_upsample
			bias := int32(1 + y&1)
			cb = (3*at(m.Cb, cx, cy) + at(m.Cb, cx, ny) + bias) >> 2
			cr = (3*at(m.Cr, cx, cy) + at(m.Cr, cx, ny) + bias) >> 2
		}
		out[3*i], out[3*i+1], out[3*i+2] = jpegYCbCrToRGB(m.Y[m.YOffset(x, y)], uint8(cb), uint8(cr))
	}
}

// jpegYCbCrToRGB is libjpeg's ycc_rgb_convert: 16-bit fixed-point
// coefficients FIX(1.402), FIX(0.34414), FIX(0.71414), FIX(1.772), rounded
// by adding one half before an arithmetic shift.
func jpegYCbCrToRGB(y, cb, cr uint8) (uint8, uint8, uint8) {
	t := &yccTab
	yy := int32(y)
	return clamp8(yy + t.r[cr]), clamp8(yy + (t.gb[cb]+t.gr[cr])>>16), clamp8(yy + t.b[cb])
}

// yccTab holds, per chroma value v, the terms of jpegYCbCrToRGB, as
// libjpeg keeps them: the red and blue offsets, rounded, and the two
// green products, whose sum is rounded (half is in gb) and shifted. With
// the products computed per pixel the row readers' conversion was too
// large to inline, and its call per pixel was most of a JPEG's
// preprocessing.
var yccTab = func() (t struct{ r, b, gb, gr [256]int32 }) {
	const half = 1 << 15
	for v := range 256 {
		c := int32(v) - 128
		t.r[v] = (91881*c + half) >> 16
		t.b[v] = (116130*c + half) >> 16
		t.gb[v] = -22554*c + half
		t.gr[v] = -46802 * c
	}
	return t
}()

func clamp8(v int32) uint8 { return uint8(min(max(v, 0), 255)) }

// cmykToRGB is OpenCV's icvCvt_CMYK2BGR_8u_C4C3R, which cv2.imdecode
// applies to CMYK and YCCK JPEGs. OpenCV sees libjpeg's raw (Adobe-
// inverted) samples, 255 minus the ink amounts Go's decoder returns, and
// computes k' - ((255-c')*k' >> 8) for each of C, M, Y.
func cmykToRGB(c, m, y, k uint8) (uint8, uint8, uint8) {
	kk := 255 - int32(k)
	f := func(v uint8) uint8 { return uint8(kk - (int32(v)*kk)>>8) }
	return f(c), f(m), f(y)
}
