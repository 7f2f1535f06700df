package imaging

import (
	"fmt"
	"image"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/par"
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
//
// A server should keep a [Preprocessor] per model instead: it validates p
// once and reuses its buffers, so a call allocates nothing.
func Preprocess(img image.Image, p arch.Preprocess, dst []float32) (tensor []float32, h, w int, err error) {
	pp, err := NewPreprocessor(p)
	if err != nil {
		return nil, 0, 0, err
	}
	return pp.Preprocess(img, dst)
}

// PreprocessScaled is [Preprocess] for an image a JPEG decoder produced at
// 1/s of its size (s = 1, 2, 4 or 8, inferred: img must be
// ceil(origW/s) x ceil(origH/s)), origW x origH being the full image as
// img displays it (after any EXIF rotation, like img.Bounds()). The tensor
// has the geometry Preprocess gives the full image: the resize_short size
// and crop offsets come from origW x origH, and only the positions cv2
// would sample are mapped into img, original coordinate u to
// (u+0.5)/s - 0.5, then sampled with the same fixed-point bilinear
// weights and edge clamping. With s = 1 the result is Preprocess's, bit for
// bit; otherwise it differs by what the reduced decode averaged away.
func PreprocessScaled(img image.Image, origW, origH int, p arch.Preprocess, dst []float32) (tensor []float32, h, w int, err error) {
	pp, err := NewPreprocessor(p)
	if err != nil {
		return nil, 0, 0, err
	}
	return pp.PreprocessScaled(img, origW, origH, dst)
}

// Preprocessor is Preprocess for one arch.Preprocess: it validates the
// parameters and builds the normalisation tables once, and keeps the
// per-call buffers in a pool, so calls allocate nothing once warm. It is
// safe for concurrent use and must not be copied.
type Preprocessor struct {
	p       arch.Preprocess
	nearest bool
	wide    bool // vrow may use vrowWide
	norm    *normalizer
	pool    sync.Pool // of *scratch
}

// NewPreprocessor checks p (sizes within arch.MaxPreprocessSide,
// interpolation, channel order, std, resize and crop sizes given in
// pairs) and returns its Preprocessor.
func NewPreprocessor(p arch.Preprocess) (*Preprocessor, error) {
	// Convert refuses these sizes at import; a manifest edited by hand or
	// written before the bound reaches here still, and would cost every
	// image, however small, the memory of the size it names.
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	nearest, err := interpolation(p.Interpolation)
	if err != nil {
		return nil, err
	}
	norm, err := newNormalizer(p)
	if err != nil {
		return nil, err
	}
	if _, err := ParseDecodeMode(p.Decode); err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	if p.ResizeShort <= 0 && (p.ResizeWidth > 0) != (p.ResizeHeight > 0) {
		return nil, fmt.Errorf("preprocess: resize %dx%d needs both width and height", p.ResizeWidth, p.ResizeHeight)
	}
	if (p.CropWidth > 0) != (p.CropHeight > 0) {
		return nil, fmt.Errorf("preprocess: crop %dx%d needs both width and height", p.CropWidth, p.CropHeight)
	}
	return &Preprocessor{p: p, nearest: nearest, wide: hasWide(), norm: norm}, nil
}

// Preprocess is the package's Preprocess with pp's parameters.
func (pp *Preprocessor) Preprocess(img image.Image, dst []float32) (tensor []float32, h, w int, err error) {
	return pp.preprocess(img, false, dst)
}

// preprocess is Preprocess, on two goroutines when parallel is set (see
// run).
func (pp *Preprocessor) preprocess(img image.Image, parallel bool, dst []float32) (tensor []float32, h, w int, err error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, 0, 0, fmt.Errorf("preprocess: empty %dx%d image", b.Dx(), b.Dy())
	}
	return pp.run(img, b.Dx(), b.Dy(), 1, parallel, dst)
}

// PreprocessScaled is the package's PreprocessScaled with pp's parameters.
func (pp *Preprocessor) PreprocessScaled(img image.Image, origW, origH int, dst []float32) (tensor []float32, h, w int, err error) {
	return pp.preprocessScaled(img, origW, origH, false, dst)
}

// preprocessScaled is PreprocessScaled, on two goroutines when parallel is set
// (see run).
func (pp *Preprocessor) preprocessScaled(img image.Image, origW, origH int, parallel bool, dst []float32) (tensor []float32, h, w int, err error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, 0, 0, fmt.Errorf("preprocess: empty %dx%d image", b.Dx(), b.Dy())
	}
	for _, s := range []int{1, 2, 4, 8} {
		if (origW+s-1)/s == b.Dx() && (origH+s-1)/s == b.Dy() {
			return pp.run(img, origW, origH, s, parallel, dst)
		}
	}
	return nil, 0, 0, fmt.Errorf("preprocess: a %dx%d image is not a 1/1, 1/2, 1/4 or 1/8 scale decode of %dx%d", b.Dx(), b.Dy(), origW, origH)
}

// geometry is ResizeImage then CropImage on an origW x origH image: the
// resized size and the crop's offset and size.
func (pp *Preprocessor) geometry(origW, origH int) (rw, rh, x0, y0, w, h int, err error) {
	p := pp.p
	// ResizeImage: resize_short takes precedence over size, as in PaddleClas.
	rw, rh = origW, origH
	switch {
	case p.ResizeShort > 0:
		percent := float64(p.ResizeShort) / float64(min(origW, origH))
		rw = max(1, int(math.RoundToEven(float64(origW)*percent)))
		rh = max(1, int(math.RoundToEven(float64(origH)*percent)))
	case p.ResizeWidth > 0 && p.ResizeHeight > 0:
		rw, rh = p.ResizeWidth, p.ResizeHeight
	}
	// CropImage: floor((img - crop) / 2) offsets.
	w, h = rw, rh
	if p.CropWidth > 0 && p.CropHeight > 0 {
		if p.CropWidth > rw || p.CropHeight > rh {
			return 0, 0, 0, 0, 0, 0, fmt.Errorf("preprocess: crop %dx%d is larger than the %dx%d resized image", p.CropWidth, p.CropHeight, rw, rh)
		}
		w, h = p.CropWidth, p.CropHeight
		x0, y0 = (rw-w)/2, (rh-h)/2
	}
	if int64(w)*int64(h) > maxOutputPixels {
		// Reachable from an upload (an extreme aspect ratio under
		// resize_short without a crop), so it is typed for the API.
		return 0, 0, 0, 0, 0, 0, errorf(ErrTooLarge, "a %dx%d image resizes to %dx%d, more than the %s a tensor may have", origW, origH, w, h, mpx(maxOutputPixels))
	}
	return rw, rh, x0, y0, w, h, nil
}

// scratch is one call's working memory, pooled by its Preprocessor.
type scratch struct {
	xa, ya axis
	// axes is what xa and ya were last set for: a server sees the same
	// image sizes again and again, and setting them (a sort and a binary
	// search per tap) was 3% of a small PNG's CPU in the server.
	axes    axesKey
	axesOut [2]int // the output w, h for axes
	cols    []int  // stored columns the row reader converts
	ys      []int
	rgb     []uint8
	yo      []int32
	c0, c1  []int32
	bias    []int32
	g       []uint64 // one converted stored row
	cache   rowCache
	g2      []uint64 // the second goroutine's g and cache (see run)
	cache2  rowCache
	tr      []uint64 // swapped orientations: every horizontally resized row
	// The PNG fast path's inflater and two rows (see pngRows).
	zr         io.ReadCloser
	png0, png1 []byte
	tmp0       []int
	tmp1       []int
}

// rowCache keeps the last two rows of a sequence whose two indices never
// decrease (the bilinear taps of successive output rows or columns), so
// each is computed once.
type rowCache struct {
	idx [2]int
	buf [2][]uint64
}

func (c *rowCache) reset(n int) {
	c.idx = [2]int{-1, -1}
	c.buf[0], c.buf[1] = grow(c.buf[0], n), grow(c.buf[1], n)
}

// get returns row k, computing it with fill into the slot not holding
// row keep.
func (c *rowCache) get(k, keep int, fill func(k int, out []uint64)) []uint64 {
	for i := range 2 {
		if c.idx[i] == k {
			return c.buf[i]
		}
	}
	i := 0
	if c.idx[0] == keep {
		i = 1
	}
	c.idx[i] = k
	fill(k, c.buf[i])
	return c.buf[i]
}

// setAxes computes the taps of both axes into s.xa and s.ya for a
// displayed dw x dh image that is a 1/div decode, in orientation o, of an
// image displayed at origW x origH, and returns the output size.
func (pp *Preprocessor) setAxes(s *scratch, dw, dh, origW, origH, div, o int) (w, h int, err error) {
	key := axesKey{dw, dh, origW, origH, div, o}
	if s.axes == key {
		return s.axesOut[0], s.axesOut[1], nil
	}
	s.axes = axesKey{}
	rw, rh, x0, y0, w, h, err := pp.geometry(origW, origH)
	if err != nil {
		return 0, 0, err
	}
	// A reduced decode's pixels are blocks of div stored pixels counted
	// from the stored origin; where a displayed axis runs backwards over
	// the stored one, its first block is the partial one, and the taps
	// shift by what that block lacks.
	padX, padY := 0, 0
	switch o {
	case 2, 3, 6, 7: // displayed x runs backwards over stored x or y
		padX = dw*div - origW
	}
	switch o {
	case 3, 4, 7, 8:
		padY = dh*div - origH
	}
	s.xa.set(s, dw, origW, rw, x0, w, div, padX, pp.nearest, false)
	s.ya.set(s, dh, origH, rh, y0, h, div, padY, pp.nearest, true)
	s.axes, s.axesOut = key, [2]int{w, h}
	return w, h, nil
}

// axesKey is setAxes' arguments; the zero value matches no call, whose
// sizes are positive.
type axesKey struct{ dw, dh, origW, origH, div, o int }

// storedTaps returns the stored rows and columns that preprocessing reads
// of a stored sw x sh image, displayed in orientation o, that is a 1/div
// decode of an image displayed at origW x origH: all that a decoder has
// to get right (jpeg.Options.Rows and Cols).
func (pp *Preprocessor) storedTaps(sw, sh, origW, origH, div, o int) (rows, cols []int, err error) {
	dw, dh := sw, sh
	if swapsAxes(o) {
		dw, dh = sh, sw
	}
	s, _ := pp.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer pp.pool.Put(s)
	if _, _, err := pp.setAxes(s, dw, dh, origW, origH, div, o); err != nil {
		return nil, nil, err
	}
	// Displayed columns are stored columns, or stored rows when the
	// orientation swaps the axes.
	swap := swapsAxes(o)
	rows = make([]int, 0, len(s.xa.src)+len(s.ya.src))
	cols = make([]int, 0, len(s.xa.src)+len(s.ya.src))
	for _, x := range s.xa.src {
		sx, sy := orientMap(o, sw, sh, x, 0)
		if swap {
			rows = append(rows, sy)
		} else {
			cols = append(cols, sx)
		}
	}
	for _, y := range s.ya.src {
		sx, sy := orientMap(o, sw, sh, 0, y)
		if swap {
			cols = append(cols, sx)
		} else {
			rows = append(rows, sy)
		}
	}
	return rows, cols, nil
}

func (pp *Preprocessor) run(img image.Image, origW, origH, div int, parallel bool, dst []float32) (tensor []float32, h, w int, err error) {
	s, _ := pp.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer pp.pool.Put(s)

	b := img.Bounds()
	xa, ya := &s.xa, &s.ya
	src, o := img, 1
	if v, ok := img.(*Oriented); ok {
		src, o = v.Src, v.Orientation
	}
	sb := src.Bounds()
	sw, sh := sb.Dx(), sb.Dy()
	if w, h, err = pp.setAxes(s, b.Dx(), b.Dy(), origW, origH, div, o); err != nil {
		return nil, 0, 0, err
	}

	tensor = tensorFor(dst, 3*h*w)

	if !swapsAxes(o) {
		// A displayed row is a stored row, a displayed column a stored
		// column: convert each needed stored row at the needed columns,
		// resize it horizontally and keep the last two for the vertical
		// pass.
		s.cols = grow(s.cols, len(xa.src))
		for i, x := range xa.src {
			sx, _ := orientMap(o, sw, sh, x, 0)
			s.cols[i] = sx + sb.Min.X
		}
		rd := newRowReader(src, s.cols, s)
		fill := func(g []uint64) func(j int, out []uint64) {
			return func(j int, out []uint64) {
				_, sy := orientMap(o, sw, sh, 0, ya.src[j])
				rd.row(sy+sb.Min.Y, g)
				xa.lerp(g, out)
			}
		}
		s.g = grow(s.g, len(s.cols))
		s.cache.reset(w)
		// A decoded JPEG's row reader only reads its tables, so with a
		// core to spare the lower half of the output rows is resized on
		// a second goroutine, with its own row buffers.
		if _, ok := rd.(*ycbcrRows); parallel && ok && h >= minParallelRows {
			s.g2 = grow(s.g2, len(s.cols))
			s.cache2.reset(w)
			par.Two(func() { pp.resizeRows(&s.cache2, tensor, w, h, h/2, h, &s.ya, fill(s.g2)) },
				func() { pp.resizeRows(&s.cache, tensor, w, h, 0, h/2, &s.ya, fill(s.g)) }, nil)
		} else {
			pp.resizeRows(&s.cache, tensor, w, h, 0, h, &s.ya, fill(s.g))
		}
		return tensor, h, w, nil
	}

	// Swapped axes: a displayed column is a stored row. Convert the stored
	// row of each needed displayed column at the stored columns of the
	// needed displayed rows, and resize across those rows into tr, one
	// output column at a time.
	s.cols = grow(s.cols, len(ya.src))
	for j, y := range ya.src {
		sx, _ := orientMap(o, sw, sh, 0, y)
		s.cols[j] = sx + sb.Min.X
	}
	rd := newRowReader(src, s.cols, s)
	fill := func(k int, out []uint64) {
		_, sy := orientMap(o, sw, sh, xa.src[k], 0)
		rd.row(sy+sb.Min.Y, out)
	}
	nr := len(ya.src)
	s.tr = grow(s.tr, nr*w)
	s.cache.reset(nr)
	for x := range w {
		k0, k1 := int(xa.i0[x]), int(xa.i1[x])
		g0 := s.cache.get(k0, -1, fill)
		g1 := s.cache.get(k1, k0, fill)
		a0, a1 := uint64(xa.w0[x]), uint64(xa.w1[x])
		tr := s.tr[x:]
		for j := range nr {
			tr[j*w] = g0[j]*a0 + g1[j]*a1
		}
	}
	for y := range h {
		r0 := s.tr[int(ya.i0[y])*w:][:w]
		r1 := s.tr[int(ya.i1[y])*w:][:w]
		pp.vrow(tensor, y, w, h, r0, r1, ya.w0[y], ya.w1[y])
	}
	return tensor, h, w, nil
}

// tensorFor returns dst[:n], or a new slice if dst is too small.
func tensorFor(dst []float32, n int) []float32 {
	if cap(dst) >= n {
		return dst[:n]
	}
	return make([]float32, n)
}

// resizeRows writes the h x w tensor from the horizontally resized rows
// fill computes (fill(j, out) resizes the row at s.ya.src[j]), keeping
// the last two for the vertical pass: fill is asked for each needed row
// once, in increasing order.
func (pp *Preprocessor) resizeRows(c *rowCache, tensor []float32, w, h, y0, y1 int, ya *axis, fill func(j int, out []uint64)) {
	for y := y0; y < y1; y++ {
		j0, j1 := int(ya.i0[y]), int(ya.i1[y])
		r0 := c.get(j0, -1, fill)
		r1 := c.get(j1, j0, fill)
		pp.vrow(tensor, y, w, h, r0, r1, ya.w0[y], ya.w1[y])
	}
}

// minParallelRows is the fewest output rows run resizes on two
// goroutines: below it a goroutine's start and wait cost about what
// the half it takes does.
const minParallelRows = 64

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

// set computes cv2's taps for output positions start..start+n-1 of a
// resize from origLen to dstLen, along the rows (vertical) or the columns,
// which cv2's resizeGeneric treats differently at the image edges. The
// source has srcLen = ceil(origLen/div) pixels: a tap at original
// position u reads (u+pad+0.5)/div - 0.5, clamped to the source.
func (a *axis) set(s *scratch, srcLen, origLen, dstLen, start, n, div, pad int, nearest, vertical bool) {
	a.i0, a.i1, a.w0, a.w1 = grow(a.i0, n), grow(a.i1, n), grow(a.w0, n), grow(a.w1, n)
	// cv2 computes the scale as the inverse of dst/src, not src/dst; the
	// last bit matters for where fx lands.
	scale := 1 / (float64(dstLen) / float64(origLen))
	s.tmp0, s.tmp1 = grow(s.tmp0, n), grow(s.tmp1, n)
	s0, s1 := s.tmp0, s.tmp1
	for i := range n {
		d := start + i
		if nearest {
			s := min((int(math.Floor(float64(d)*scale))+pad)/div, srcLen-1)
			s0[i], s1[i] = s, s
			a.w0[i], a.w1[i] = coefScale, 0
			continue
		}
		// With div = 1 (and so pad = 0) the extra terms are exact, so the
		// full-size taps are cv2's.
		f := float32(((float64(d)+0.5)*scale+float64(pad))/float64(div) - 0.5)
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
	a.src = append(append(a.src[:0], s0...), s1...)
	slices.Sort(a.src)
	a.src = slices.Compact(a.src)
	for i := range n {
		j0, _ := slices.BinarySearch(a.src, s0[i])
		j1, _ := slices.BinarySearch(a.src, s1[i])
		a.i0[i], a.i1[i] = int32(j0), int32(j1)
	}
}

// lerp is cv2's horizontal pass on a converted row g (packed pixels at
// a.src): two taps with 11-bit weights per output pixel, all three
// channels at once.
func (a *axis) lerp(g, out []uint64) {
	i0, i1, w0, w1 := a.i0[:len(out)], a.i1[:len(out)], a.w0[:len(out)], a.w1[:len(out)]
	for x := range out {
		out[x] = g[i0[x]]*uint64(w0[x]) + g[i1[x]]*uint64(w1[x])
	}
}
