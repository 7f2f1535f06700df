package imaging

import (
	"fmt"
	"image"
	"math"
	"slices"

	"github.com/lcnet/lcnet/arch"
)

// maxOutputPixels bounds the tensor a manifest can ask for (a resize_short
// without crop on a 1x10000 strip would otherwise ask for 256x2560000).
const maxOutputPixels = 16 << 20

// Fixed-point weights as in cv2's 8-bit INTER_LINEAR path
// (INTER_RESIZE_COEF_BITS = 11).
const (
	coefBits  = 11
	coefScale = 1 << coefBits
)

// Preprocess turns img into the model input tensor p describes, following
// PaddleClas' cv2 pipeline: ResizeImage (resize_short with Python's
// round-half-even, or a fixed size), CropImage (center crop with floor
// offsets), NormalizeImage ((v*scale - mean) / std in float32) and
// ToCHWImage. The result is CHW float32 of 3 x h x w in p.ChannelOrder
// (Mean and Std are given in that order, as PaddleClas applies them to the
// channels it has). dst is reused when it has the capacity.
//
// Resizing reproduces cv2.resize INTER_LINEAR on 8-bit images: half-pixel
// centres, edge clamping, no antialiasing when shrinking, 11-bit weights and
// the rounding of its SIMD vertical pass. It computes only the pixels the
// crop keeps and reads only the source pixels those need.
//
// Errors are about p (an unknown interpolation or channel order, a crop
// larger than the resized image, a zero std), except one wrapping
// ErrTooLarge when an upload's aspect ratio would make the uncropped
// output tensor huge.
func Preprocess(img image.Image, p arch.Preprocess, dst []float32) (tensor []float32, h, w int, err error) {
	b := img.Bounds()
	srcW, srcH := b.Dx(), b.Dy()
	if srcW <= 0 || srcH <= 0 {
		return nil, 0, 0, fmt.Errorf("preprocess: empty %dx%d image", srcW, srcH)
	}
	nearest, err := interpolation(p.Interpolation)
	if err != nil {
		return nil, 0, 0, err
	}
	norm, err := newNormalizer(p)
	if err != nil {
		return nil, 0, 0, err
	}

	// ResizeImage: resize_short takes precedence over size, as in PaddleClas.
	rw, rh := srcW, srcH
	switch {
	case p.ResizeShort > 0:
		percent := float64(p.ResizeShort) / float64(min(srcW, srcH))
		rw = max(1, int(math.RoundToEven(float64(srcW)*percent)))
		rh = max(1, int(math.RoundToEven(float64(srcH)*percent)))
	case p.ResizeWidth > 0 && p.ResizeHeight > 0:
		rw, rh = p.ResizeWidth, p.ResizeHeight
	case p.ResizeWidth > 0 || p.ResizeHeight > 0:
		return nil, 0, 0, fmt.Errorf("preprocess: resize %dx%d needs both width and height", p.ResizeWidth, p.ResizeHeight)
	}

	// CropImage: floor((img - crop) / 2) offsets.
	x0, y0, w, h := 0, 0, rw, rh
	switch {
	case p.CropWidth > 0 && p.CropHeight > 0:
		if p.CropWidth > rw || p.CropHeight > rh {
			return nil, 0, 0, fmt.Errorf("preprocess: crop %dx%d is larger than the %dx%d resized image", p.CropWidth, p.CropHeight, rw, rh)
		}
		w, h = p.CropWidth, p.CropHeight
		x0, y0 = (rw-w)/2, (rh-h)/2
	case p.CropWidth > 0 || p.CropHeight > 0:
		return nil, 0, 0, fmt.Errorf("preprocess: crop %dx%d needs both width and height", p.CropWidth, p.CropHeight)
	}
	if int64(w)*int64(h) > maxOutputPixels {
		// Reachable from an upload (an extreme aspect ratio under
		// resize_short without a crop), so it is typed for the API.
		return nil, 0, 0, errorf(ErrTooLarge, "a %dx%d image resizes to %dx%d, more than the %s a tensor may have", srcW, srcH, w, h, mpx(maxOutputPixels))
	}

	xa := newAxis(srcW, rw, x0, w, nearest, false)
	ya := newAxis(srcH, rh, y0, h, nearest, true)
	// Gather each needed source row and run cv2's horizontal pass on it;
	// the vertical pass below then combines two of these rows per output
	// row. int32 sums fit 255 * 2048.
	cols := len(xa.src)
	rg := newRowGatherer(img, xa.src)
	row := make([]uint8, 3*cols)
	hrows := make([]int32, len(ya.src)*w*3)
	for j, sy := range ya.src {
		rg.row(sy, row)
		o := hrows[j*w*3 : (j+1)*w*3]
		for x := range w {
			i0, i1 := 3*int(xa.i0[x]), 3*int(xa.i1[x])
			a0, a1 := xa.w0[x], xa.w1[x]
			s0, s1, d := row[i0:i0+3:i0+3], row[i1:i1+3:i1+3], o[3*x:3*x+3:3*x+3]
			d[0] = int32(s0[0])*a0 + int32(s1[0])*a1
			d[1] = int32(s0[1])*a0 + int32(s1[1])*a1
			d[2] = int32(s0[2])*a0 + int32(s1[2])*a1
		}
	}

	n := 3 * h * w
	if cap(dst) >= n {
		tensor = dst[:n]
	} else {
		tensor = make([]float32, n)
	}
	plane := h * w
	// Output channel c reads RGB channel from[c] of each pixel.
	f0, f1, f2 := norm.from[0], norm.from[1], norm.from[2]
	l0, l1, l2 := &norm.lut[0], &norm.lut[1], &norm.lut[2]
	for y := range h {
		r0 := hrows[int(ya.i0[y])*w*3:][: w*3 : w*3]
		r1 := hrows[int(ya.i1[y])*w*3:][: w*3 : w*3]
		b0, b1 := ya.w0[y], ya.w1[y]
		c0 := tensor[y*w : (y+1)*w]
		c1 := tensor[plane+y*w : plane+(y+1)*w]
		c2 := tensor[2*plane+y*w : 2*plane+(y+1)*w]
		for x := range c0 {
			p0, p1 := r0[3*x:3*x+3:3*x+3], r1[3*x:3*x+3:3*x+3]
			c0[x] = l0[vlerp(p0[f0], p1[f0], b0, b1)]
			c1[x] = l1[vlerp(p0[f1], p1[f1], b0, b1)]
			c2[x] = l2[vlerp(p0[f2], p1[f2], b0, b1)]
		}
	}
	return tensor, h, w, nil
}

// vlerp is cv2's VResizeLinearVec_32s8u: both rows shifted right by 4 to
// fit int16, multiplied keeping the high 16 bits, then rounded by 2 bits,
// which is 22 bits of scale in all.
func vlerp(s0, s1, b0, b1 int32) uint8 {
	v := ((s0>>4)*b0>>16 + (s1>>4)*b1>>16 + 2) >> 2
	return uint8(min(max(v, 0), 255))
}

func interpolation(name string) (nearest bool, err error) {
	switch name {
	case "", "bilinear", "linear":
		return false, nil
	case "nearest":
		return true, nil
	}
	return false, fmt.Errorf("preprocess: interpolation %q is not supported (want bilinear or nearest)", name)
}

// axis holds, for each output index along one axis, the two source taps as
// indices into the gathered (deduplicated) source positions src, and their
// 11-bit weights.
type axis struct {
	src    []int // sorted distinct source positions to read
	i0, i1 []int32
	w0, w1 []int32
}

// newAxis computes cv2's taps for output positions start..start+n-1 of a
// resize from srcLen to dstLen, along the rows (vertical) or the columns,
// which cv2's resizeGeneric treats differently at the image edges.
func newAxis(srcLen, dstLen, start, n int, nearest, vertical bool) axis {
	a := axis{i0: make([]int32, n), i1: make([]int32, n), w0: make([]int32, n), w1: make([]int32, n)}
	// cv2 computes the scale as the inverse of dst/src, not src/dst; the
	// last bit matters for where fx lands.
	scale := 1 / (float64(dstLen) / float64(srcLen))
	s0 := make([]int, n)
	s1 := make([]int, n)
	for i := range n {
		d := start + i
		if nearest {
			s := min(int(math.Floor(float64(d)*scale)), srcLen-1)
			s0[i], s1[i] = s, s
			a.w0[i], a.w1[i] = coefScale, 0
			continue
		}
		f := float32((float64(d)+0.5)*scale - 0.5)
		s := int(math.Floor(float64(f)))
		f -= float32(s)
		if vertical {
			// cv2 keeps the weights of rows past the edge and clamps only
			// the row indices; the two truncating products then round
			// differently from one.
			s0[i], s1[i] = min(max(s, 0), srcLen-1), min(max(s+1, 0), srcLen-1)
		} else {
			if s < 0 {
				s, f = 0, 0
			}
			if s >= srcLen-1 {
				s, f = srcLen-1, 0
			}
			s0[i], s1[i] = s, min(s+1, srcLen-1)
		}
		a.w0[i] = int32(math.RoundToEven(float64((1 - f) * coefScale)))
		a.w1[i] = int32(math.RoundToEven(float64(f * coefScale)))
	}
	a.src = append(slices.Clone(s0), s1...)
	slices.Sort(a.src)
	a.src = slices.Compact(a.src)
	for i := range n {
		j0, _ := slices.BinarySearch(a.src, s0[i])
		j1, _ := slices.BinarySearch(a.src, s1[i])
		a.i0[i], a.i1[i] = int32(j0), int32(j1)
	}
	return a
}

// rowGatherer reads the RGB pixels at fixed columns xs of any displayed
// row of img, resolving an *Oriented view to the stored pixels.
type rowGatherer struct {
	src    image.Image
	o      int
	sb     image.Rectangle
	s      *sampler
	xs     []int
	px, py []int
}

func newRowGatherer(img image.Image, xs []int) *rowGatherer {
	g := &rowGatherer{src: img, o: 1, xs: xs, px: make([]int, len(xs)), py: make([]int, len(xs))}
	if v, ok := img.(*Oriented); ok {
		g.src, g.o = v.Src, v.Orientation
	}
	g.sb = g.src.Bounds()
	g.s = newSampler(g.src)
	if g.o == 1 {
		for i, x := range xs {
			g.px[i] = x + g.sb.Min.X
		}
	}
	return g
}

// row writes the pixels at (xs[i], y), in coordinates relative to the
// displayed bounds, to out[3i:3i+3].
func (g *rowGatherer) row(y int, out []uint8) {
	if g.o == 1 {
		// Upright (almost every image): the stored columns, set up once,
		// stay; only the row changes.
		for i := range g.py {
			g.py[i] = y + g.sb.Min.Y
		}
		g.s.points(g.px, g.py, out)
		return
	}
	w, h := g.sb.Dx(), g.sb.Dy()
	for i, x := range g.xs {
		sx, sy := orientMap(g.o, w, h, x, y)
		g.px[i], g.py[i] = sx+g.sb.Min.X, sy+g.sb.Min.Y
	}
	g.s.points(g.px, g.py, out)
}

// gather returns the RGB pixels at every (xs[i], ys[j]) of img's displayed
// coordinates (relative to its bounds), row-major in j.
func gather(img image.Image, xs, ys []int) []uint8 {
	g := newRowGatherer(img, xs)
	grid := make([]uint8, 3*len(xs)*len(ys))
	for j, y := range ys {
		g.row(y, grid[3*j*len(xs):3*(j+1)*len(xs)])
	}
	return grid
}

// normalizer maps an 8-bit value of output channel c to
// (v*scale - mean[c]) / std[c] computed in float32 exactly as NumPy does,
// through a lookup table; from[c] is the RGB channel that output channel c
// takes.
type normalizer struct {
	lut  [3][256]float32
	from [3]int
}

func newNormalizer(p arch.Preprocess) (*normalizer, error) {
	n := &normalizer{}
	switch p.ChannelOrder {
	case "", "RGB", "rgb":
		n.from = [3]int{0, 1, 2}
	case "BGR", "bgr":
		n.from = [3]int{2, 1, 0}
	default:
		return nil, fmt.Errorf("preprocess: channel order %q is not RGB or BGR", p.ChannelOrder)
	}
	scale := float32(p.Scale)
	if p.Scale == 0 {
		// NormalizeImage's default when the config gives no scale.
		scale = float32(1.0 / 255.0)
	}
	for c := range 3 {
		if p.Std[c] == 0 {
			return nil, fmt.Errorf("preprocess: std[%d] is 0", c)
		}
		mean, std := float32(p.Mean[c]), float32(p.Std[c])
		for v := range 256 {
			// The conversions stop the compiler fusing into an FMA, which
			// NumPy does not do.
			n.lut[c][v] = float32(float32(float32(v)*scale)-mean) / std
		}
	}
	return n, nil
}
