package imaging

import "image"

// A packed pixel holds 8-bit R, G and B in 21-bit lanes (R lowest), so
// cv2's horizontal pass, two taps times 11-bit weights, is two multiplies
// per pixel instead of six: each lane stays below 255*2049 < 2^21 and the
// weights are never negative, so no lane carries into the next.
const laneBits = 21

func pack(r, g, b uint8) uint64 {
	return uint64(r) | uint64(g)<<laneBits | uint64(b)<<(2*laneBits)
}

// rowReader converts the stored pixels at a fixed list of stored columns
// of one stored row to packed RGB. Each implementation reads its decoder's
// planes directly; the columns are set up once per call, so the per-pixel
// work is a few loads and the colour conversion.
type rowReader interface {
	row(sy int, out []uint64)
}

// newRowReader returns a reader of img's stored rows at stored columns xs
// (image coordinates). s holds the buffers it may reuse.
func newRowReader(img image.Image, xs []int, s *scratch) rowReader {
	switch m := img.(type) {
	case *image.YCbCr:
		return newYCbCrRows(m, xs, s)
	case *image.NYCbCrA:
		return newYCbCrRows(&m.YCbCr, xs, s)
	case *image.Gray:
		return &grayRows{m: m, xs: xs}
	case *image.RGBA:
		return &rgbaRows{m: m, xs: xs}
	case *image.NRGBA:
		return &nrgbaRows{m: m, xs: xs}
	case *image.CMYK:
		return &cmykRows{m: m, xs: xs}
	}
	s.ys = grow(s.ys, len(xs))
	s.rgb = grow(s.rgb, 3*len(xs))
	return &pointRows{s: newSampler(img), xs: xs, ys: s.ys, rgb: s.rgb}
}

// pointRows serves the less common types (paletted, 16-bit, WebP) through
// the sampler, whose type switch runs once per row.
type pointRows struct {
	s   *sampler
	xs  []int
	ys  []int
	rgb []uint8
}

func (r *pointRows) row(sy int, out []uint64) {
	for i := range r.ys {
		r.ys[i] = sy
	}
	r.s.points(r.xs, r.ys, r.rgb)
	for i := range out[:len(r.xs)] {
		p := r.rgb[3*i : 3*i+3 : 3*i+3]
		out[i] = pack(p[0], p[1], p[2])
	}
}

type grayRows struct {
	m  *image.Gray
	xs []int
}

func (r *grayRows) row(sy int, out []uint64) {
	pix := r.m.Pix[r.m.PixOffset(r.m.Rect.Min.X, sy):]
	x0 := r.m.Rect.Min.X
	for i, x := range r.xs {
		out[i] = uint64(pix[x-x0]) * (1 | 1<<laneBits | 1<<(2*laneBits))
	}
}

type rgbaRows struct {
	m  *image.RGBA
	xs []int
}

func (r *rgbaRows) row(sy int, out []uint64) {
	pix := r.m.Pix[r.m.PixOffset(r.m.Rect.Min.X, sy):]
	x0 := r.m.Rect.Min.X
	for i, x := range r.xs {
		p := pix[4*(x-x0):][:4:4]
		if a := p[3]; a == 0xff || a == 0 {
			out[i] = pack(p[0], p[1], p[2])
			continue
		}
		c := unpremul(p[0], p[1], p[2], p[3])
		out[i] = pack(c[0], c[1], c[2])
	}
}

type nrgbaRows struct {
	m  *image.NRGBA
	xs []int
}

func (r *nrgbaRows) row(sy int, out []uint64) {
	pix := r.m.Pix[r.m.PixOffset(r.m.Rect.Min.X, sy):]
	x0 := r.m.Rect.Min.X
	for i, x := range r.xs {
		p := pix[4*(x-x0):][:3:3]
		out[i] = pack(p[0], p[1], p[2])
	}
}

type cmykRows struct {
	m  *image.CMYK
	xs []int
}

func (r *cmykRows) row(sy int, out []uint64) {
	pix := r.m.Pix[r.m.PixOffset(r.m.Rect.Min.X, sy):]
	x0 := r.m.Rect.Min.X
	for i, x := range r.xs {
		p := pix[4*(x-x0):][:4:4]
		out[i] = pack(cmykToRGB(p[0], p[1], p[2], p[3]))
	}
}

// ycbcrRows is ycbcrPoints (libjpeg's fancy upsampling and fixed-point
// colour conversion) split into what depends on the column, computed once,
// and what depends on the row.
type ycbcrRows struct {
	m      *image.YCbCr
	mode   int // one of the upsampling modes below
	yo     []int32
	c0, c1 []int32 // chroma column offsets: nearest sample, other neighbour
	bias   []int32
	cy0    int // first chroma row (libjpeg's filters) index
	cy1    int
}

const (
	upReplicate = iota // no filter: Go's COffset, as libjpeg for 4:1:1
	upH2V2             // h2v2_fancy_upsample (4:2:0)
	upH2V1             // h2v1_fancy_upsample (4:2:2)
	upH1V2             // h1v2_fancy_upsample (4:4:0)
)

func newYCbCrRows(m *image.YCbCr, xs []int, s *scratch) *ycbcrRows {
	r := m.Rect
	n := len(xs)
	s.yo, s.c0, s.c1, s.bias = grow(s.yo, n), grow(s.c0, n), grow(s.c1, n), grow(s.bias, n)
	y := &ycbcrRows{m: m, yo: s.yo, c0: s.c0, c1: s.c1, bias: s.bias}
	cx0, cx1 := r.Min.X, r.Max.X-1
	wide := (cx1>>1)-(cx0>>1)+1 > 2
	hs, vs := 0, 0
	switch {
	case m.SubsampleRatio == image.YCbCrSubsampleRatio420 && wide:
		y.mode, hs, vs = upH2V2, 1, 1
	case m.SubsampleRatio == image.YCbCrSubsampleRatio422 && wide:
		y.mode, hs = upH2V1, 1
	case m.SubsampleRatio == image.YCbCrSubsampleRatio440:
		y.mode, vs = upH1V2, 1
	default:
		y.mode = upReplicate
	}
	y.cy0, y.cy1 = r.Min.Y>>vs, (r.Max.Y-1)>>vs
	cx0, cx1 = cx0>>hs, cx1>>hs
	for i, x := range xs {
		y.yo[i] = int32(x - r.Min.X)
		if y.mode == upReplicate {
			// COffset is separable: the column part at the first row.
			y.c0[i] = int32(m.COffset(x, r.Min.Y))
			continue
		}
		cx := x >> hs
		nx := cx
		if hs == 1 {
			nx = min(max(cx-1+2*(x&1), cx0), cx1)
		}
		y.c0[i], y.c1[i] = int32(cx-cx0), int32(nx-cx0)
		switch y.mode {
		case upH2V2:
			y.bias[i] = int32(8 - x&1)
		case upH2V1:
			y.bias[i] = int32(1 + x&1)
		}
	}
	return y
}

func (r *ycbcrRows) row(sy int, out []uint64) {
	m := r.m
	yrow := m.Y[(sy-m.Rect.Min.Y)*m.YStride:]
	out = out[:len(r.yo)]
	yo, c0, c1, bias := r.yo[:len(out)], r.c0[:len(out)], r.c1[:len(out)], r.bias[:len(out)]
	switch r.mode {
	case upReplicate:
		off := m.COffset(m.Rect.Min.X, sy) - m.COffset(m.Rect.Min.X, m.Rect.Min.Y)
		cb, cr := m.Cb[off:], m.Cr[off:]
		for i := range out {
			out[i] = pack(jpegYCbCrToRGB(yrow[yo[i]], cb[c0[i]], cr[c0[i]]))
		}
	case upH2V2:
		cy := sy >> 1
		ny := min(max(cy-1+2*(sy&1), r.cy0), r.cy1)
		a, b := (cy-r.cy0)*m.CStride, (ny-r.cy0)*m.CStride
		cbA, cbB, crA, crB := m.Cb[a:], m.Cb[b:], m.Cr[a:], m.Cr[b:]
		for i := range out {
			j, k := c0[i], c1[i]
			sb := 3*(3*int32(cbA[j])+int32(cbB[j])) + 3*int32(cbA[k]) + int32(cbB[k])
			sr := 3*(3*int32(crA[j])+int32(crB[j])) + 3*int32(crA[k]) + int32(crB[k])
			out[i] = pack(jpegYCbCrToRGB(yrow[yo[i]], uint8((sb+bias[i])>>4), uint8((sr+bias[i])>>4)))
		}
	case upH2V1:
		a := (sy - r.cy0) * m.CStride
		cb, cr := m.Cb[a:], m.Cr[a:]
		for i := range out {
			j, k := c0[i], c1[i]
			out[i] = pack(jpegYCbCrToRGB(yrow[yo[i]], uint8((3*int32(cb[j])+int32(cb[k])+bias[i])>>2), uint8((3*int32(cr[j])+int32(cr[k])+bias[i])>>2)))
		}
	case upH1V2:
		cy := sy >> 1
		ny := min(max(cy-1+2*(sy&1), r.cy0), r.cy1)
		bias := int32(1 + sy&1)
		a, b := (cy-r.cy0)*m.CStride, (ny-r.cy0)*m.CStride
		cbA, cbB, crA, crB := m.Cb[a:], m.Cb[b:], m.Cr[a:], m.Cr[b:]
		for i := range out {
			j := c0[i]
			out[i] = pack(jpegYCbCrToRGB(yrow[yo[i]], uint8((3*int32(cbA[j])+int32(cbB[j])+bias)>>2), uint8((3*int32(crA[j])+int32(crB[j])+bias)>>2)))
		}
	}
}

// grow returns s resized to n, reallocating only when it is too small.
func grow[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}
