package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strconv"

	"github.com/klauspost/compress/flate"
)

// The PNGs users send are mostly 8-bit gray, gray+alpha, RGB or RGBA, not
// interlaced. For those, preprocessing reads the rows straight from the
// inflated stream: each row is unfiltered in place of the previous one
// and only the columns the resize reads are converted, so no image is
// allocated or converted whole. image/png's decode of a 320x48 text line
// spends more in building its RGBA image than in inflating.
//
// The fast path accepts only what image/png accepts, with the same pixels
// (image/png keeps 8-bit samples as they are, and preprocessing ignores
// alpha: an RGB PNG decodes opaque, and the NRGBA of the others is read
// without it). Anything it does not handle, or finds wrong, it hands to
// the full decode, which gives the error its kind: so it is stricter than
// image/png, never looser. A bad file is then inflated twice, at worst.
//
// It inflates with klauspost/compress (BSD, fuzzed, in the module graph
// already through minio-go), which reads a bytes.Reader without an
// interface call per byte and reuses its tables on Reset: on the text
// line's stream 49 us against compress/zlib's 68 us, and no allocations.
// The zlib header and Adler-32 trailer around the deflate stream are read
// here, as compress/zlib reads them, so that the checksum runs with AVX2
// (1 us for the text line's 46 KB against hash/adler32's 15 us).

// pngMaxRow bounds the row bytes of the fast path: two rows are held, and
// a very wide image of one row would otherwise need twice the bytes the
// decode budget counted for it.
const pngMaxRow = 1 << 20

// pngStream is a parsed PNG whose rows are read in order.
type pngStream struct {
	w, h int
	bpp  int // bytes per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
	idat []byte
}

// parsePNG checks the chunk structure of data as image/png would and
// returns the stream, or ok false for anything the fast path leaves to
// image/png: other depths and colour types, interlacing, a palette or
// transparency chunk, more than maxPixels, an order, length or checksum
// image/png would refuse, or any doubt.
func parsePNG(data []byte, maxPixels int) (p pngStream, ok bool) {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(data, []byte(sig)) {
		return p, false
	}
	rest := data[len(sig):]
	// chunk splits off the next chunk, checking its checksum.
	chunk := func() (typ string, body []byte, ok bool) {
		if len(rest) < 12 {
			return "", nil, false
		}
		n := binary.BigEndian.Uint32(rest)
		if n > 0x7fffffff || uint64(n) > uint64(len(rest)-12) {
			return "", nil, false
		}
		typ, body = string(rest[4:8]), rest[8:8+n]
		if crc32.ChecksumIEEE(rest[4:8+n]) != binary.BigEndian.Uint32(rest[8+n:]) {
			return "", nil, false
		}
		rest = rest[12+n:]
		return typ, body, true
	}
	typ, hdr, ok := chunk()
	if !ok || typ != "IHDR" || len(hdr) != 13 {
		return p, false
	}
	w, h := int32(binary.BigEndian.Uint32(hdr[0:])), int32(binary.BigEndian.Uint32(hdr[4:]))
	depth, ct := hdr[8], hdr[9]
	if w <= 0 || h <= 0 || depth != 8 || hdr[10] != 0 || hdr[11] != 0 || hdr[12] != 0 {
		return p, false
	}
	p.w, p.h = int(w), int(h)
	switch ct {
	case 0:
		p.bpp = 1
	case 4:
		p.bpp = 2
	case 2:
		p.bpp = 3
	case 6:
		p.bpp = 4
	default:
		return p, false
	}
	if int64(p.w)*int64(p.h) > int64(maxPixels) || p.w*p.bpp > pngMaxRow {
		return p, false
	}
	// Ancillary chunks, then the first run of IDAT chunks, which holds the
	// zlib stream; after it image/png ignores further IDAT chunks, and
	// refuses the other critical ones it knows.
	seenIDAT, inRun, parts := false, false, 0
	for {
		typ, body, ok := chunk()
		if !ok {
			return p, false
		}
		switch typ {
		case "IHDR", "PLTE", "tRNS":
			return p, false
		case "IEND":
			if !seenIDAT || len(body) != 0 {
				return p, false
			}
			return p, true
		case "IDAT":
			if !seenIDAT || inRun {
				if parts == 0 {
					p.idat = body
				} else {
					if parts == 1 {
						p.idat = append([]byte(nil), p.idat...)
					}
					p.idat = append(p.idat, body...)
				}
				parts++
			}
			seenIDAT, inRun = true, true
			continue
		}
		inRun = false
	}
}

// pngRows reads the rows of a pngStream in increasing order.
type pngRows struct {
	ctx       context.Context
	p         *pngStream
	zr        io.Reader // the deflate stream
	src       *bytes.Reader
	adler     uint32 // of the rows read so far
	cur, prev []byte // filter byte then the row, as image/png lays them
	y         int    // rows read so far
	xs        []int
	span      bool // xs is a run of adjacent columns
	wide      bool // spanRow and adlerUpdate may use AVX2
	err       error
}

// errPNGOrder is pngRows' error for a row asked for after a later one;
// preprocessing never does, but a new caller might.
var errPNGOrder = errors.New("png rows asked out of order")

// newPNGRows starts inflating p; s holds the reader and rows reused
// between calls.
func newPNGRows(ctx context.Context, p *pngStream, xs []int, s *scratch, wide bool) (*pngRows, error) {
	// The zlib header as compress/zlib checks it: deflate, a window of
	// at most 32 KiB, the check bits, and no preset dictionary (which
	// image/png does not give, so refuses).
	if len(p.idat) < 2 {
		return nil, errors.New("png: short zlib header")
	}
	cmf, flg := p.idat[0], p.idat[1]
	if cmf&0x0f != 8 || cmf>>4 > 7 || (uint(cmf)<<8|uint(flg))%31 != 0 || flg&0x20 != 0 {
		return nil, errors.New("png: bad zlib header")
	}
	r := &pngRows{ctx: ctx, p: p, xs: xs, src: bytes.NewReader(p.idat[2:]), adler: 1, wide: wide}
	r.span = len(xs) > 0
	for i, x := range xs {
		r.span = r.span && x == xs[0]+i
	}
	if s.zr != nil {
		if err := s.zr.(flate.Resetter).Reset(r.src, nil); err != nil {
			return nil, err
		}
	} else {
		s.zr = flate.NewReader(r.src)
	}
	r.zr = s.zr
	n := 1 + p.w*p.bpp
	s.png0, s.png1 = grow(s.png0, n), grow(s.png1, n)
	// next swaps first: the row before the first is all zeros.
	r.cur, r.prev = s.png0, s.png1
	clear(r.cur)
	return r, nil
}

// next inflates and unfilters row r.y into r.cur.
func (r *pngRows) next() error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	r.cur, r.prev = r.prev, r.cur
	if _, err := io.ReadFull(r.zr, r.cur); err != nil {
		return err
	}
	r.adler = adlerUpdate(r.adler, r.cur, r.wide)
	r.y++
	cdat, pdat := r.cur[1:], r.prev[1:len(r.cur)]
	bpp := r.p.bpp
	switch r.cur[0] {
	case 0:
	case 1: // sub
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += cdat[i-bpp]
		}
	case 2: // up
		upFilter(cdat, pdat)
	case 3: // average
		for i := range bpp {
			cdat[i] += pdat[i] / 2
		}
		for i := bpp; i < len(cdat); i++ {
			cdat[i] += uint8((int(cdat[i-bpp]) + int(pdat[i])) / 2)
		}
	case 4: // paeth
		paethFilter(cdat, pdat, bpp)
	default:
		return errors.New("png: bad filter type")
	}
	return nil
}

// upFilter adds the row above, eight bytes at a time: the low seven
// bits of each byte add without carrying into the next, and the top bit
// is their sum's top bit xor the operands'.
func upFilter(cdat, pdat []byte) {
	const lo, hi = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	i := 0
	for ; i+8 <= len(cdat); i += 8 {
		c, p := binary.LittleEndian.Uint64(cdat[i:]), binary.LittleEndian.Uint64(pdat[i:])
		binary.LittleEndian.PutUint64(cdat[i:], (c&lo+p&lo)^((c^p)&hi))
	}
	for ; i < len(cdat); i++ {
		cdat[i] += pdat[i]
	}
}

// paethFilter undoes the Paeth predictor: of left a, up b and upper-left
// c, the one closest to a+b-c, preferring a, then b. Each byte depends on
// the one bpp before it, so a single channel is a chain of dependent
// steps; RGB and RGBA rows run their channels side by side, three or four
// independent chains, and the choice is made with conditional moves, as
// the predictor flips too often for a branch.
func paethFilter(cdat, pdat []byte, bpp int) {
	pdat = pdat[:len(cdat)]
	switch bpp {
	case 3:
		var a0, a1, a2, c0, c1, c2 int // left of the first pixel: zeros
		for j := 0; j+3 <= len(cdat); j += 3 {
			cd, pd := cdat[j:j+3:j+3], pdat[j:j+3:j+3]
			b0, b1, b2 := int(pd[0]), int(pd[1]), int(pd[2])
			a0 = (paethPick(a0, b0, c0) + int(cd[0])) & 0xff
			a1 = (paethPick(a1, b1, c1) + int(cd[1])) & 0xff
			a2 = (paethPick(a2, b2, c2) + int(cd[2])) & 0xff
			cd[0], cd[1], cd[2] = uint8(a0), uint8(a1), uint8(a2)
			c0, c1, c2 = b0, b1, b2
		}
		return
	case 4:
		var a0, a1, a2, a3, c0, c1, c2, c3 int
		for j := 0; j+4 <= len(cdat); j += 4 {
			cd, pd := cdat[j:j+4:j+4], pdat[j:j+4:j+4]
			b0, b1, b2, b3 := int(pd[0]), int(pd[1]), int(pd[2]), int(pd[3])
			a0 = (paethPick(a0, b0, c0) + int(cd[0])) & 0xff
			a1 = (paethPick(a1, b1, c1) + int(cd[1])) & 0xff
			a2 = (paethPick(a2, b2, c2) + int(cd[2])) & 0xff
			a3 = (paethPick(a3, b3, c3) + int(cd[3])) & 0xff
			cd[0], cd[1], cd[2], cd[3] = uint8(a0), uint8(a1), uint8(a2), uint8(a3)
			c0, c1, c2, c3 = b0, b1, b2, b3
		}
		return
	}
	for k := range bpp {
		a, c := 0, 0
		for j := k; j < len(cdat); j += bpp {
			b := int(pdat[j])
			a = (paethPick(a, b, c) + int(cdat[j])) & 0xff
			cdat[j] = uint8(a)
			c = b
		}
	}
}

// paethPick is the Paeth predictor of left a, up b and upper-left c in
// stb_image's form, equivalent to the specification's three distances:
// p = a+b-c is nearest a when it is beyond a on the side away from b
// (c*3-(a+b) against min and max of a and b), and so on. It inlines,
// and its comparisons become conditional moves.
func paethPick(a, b, c int) int {
	thresh := c*3 - (a + b)
	lo, hi := min(a, b), max(a, b)
	t := c
	if hi <= thresh {
		t = lo
	}
	if thresh <= lo {
		t = hi
	}
	return t
}

// absInt is |x| without a branch.
func absInt(x int) int {
	m := x >> (strconv.IntSize - 1)
	return (x ^ m) - m
}

// row converts stored row sy at r.xs. After an error it leaves out as it
// is; the caller checks r.err.
func (r *pngRows) row(sy int, out []uint64) {
	if r.err != nil {
		return
	}
	if sy < r.y-1 {
		r.err = errPNGOrder
		return
	}
	for r.y <= sy {
		if r.err = r.next(); r.err != nil {
			return
		}
	}
	pix := r.cur[1:]
	bpp := r.p.bpp
	if r.span && bpp >= 3 {
		// Every column of a run, as when a resize does not shrink by 2
		// or more.
		spanRow(pix[bpp*r.xs[0]:], bpp, out[:len(r.xs)], r.wide)
		return
	}
	switch bpp {
	case 1, 2:
		for i, x := range r.xs {
			out[i] = uint64(pix[bpp*x]) * (1 | 1<<laneBits | 1<<(2*laneBits))
		}
	default:
		for i, x := range r.xs {
			q := pix[bpp*x:][:3:3]
			out[i] = pack(q[0], q[1], q[2])
		}
	}
}

// spanRow packs the RGB of each pixel of pix, bpp 3 or 4 bytes apart,
// into out: with AVX2 four at a time, as far as it can read whole
// vectors, then one by one.
func spanRow(pix []byte, bpp int, out []uint64, wide bool) {
	i := 0
	if wide {
		i = spanWide(pix, bpp, out)
	}
	for ; i < len(out); i++ {
		q := pix[bpp*i:][:3:3]
		out[i] = pack(q[0], q[1], q[2])
	}
}

// finish reads the rows no one asked for and the end of the stream, as
// image/png does: every row's filter type must be valid, and the zlib
// stream, checksum included, must end where the pixels do and use every
// byte of its IDAT run.
func (r *pngRows) finish() error {
	for r.err == nil && r.y < r.p.h {
		r.err = r.next()
	}
	if r.err != nil {
		return r.err
	}
	var one [1]byte
	if n, err := io.ReadFull(r.zr, one[:]); n != 0 || !errors.Is(err, io.EOF) {
		return errors.New("png: too much pixel data")
	}
	// The deflate reader takes no byte past its stream's end.
	var sum [4]byte
	if _, err := io.ReadFull(r.src, sum[:]); err != nil || binary.BigEndian.Uint32(sum[:]) != r.adler {
		return errors.New("png: zlib checksum")
	}
	if r.src.Len() != 0 {
		return errors.New("png: data after the zlib stream")
	}
	return nil
}

// fastPNG is PreprocessEncoded's PNG path: ok is false, with nothing
// reported, when the full decode must run instead (see parsePNG).
func (pp *Preprocessor) fastPNG(ctx context.Context, data []byte, maxPixels int, dst []float32) (tensor []float32, h, w int, ok bool) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	p, ok := parsePNG(data, maxPixels)
	if !ok {
		return nil, 0, 0, false
	}
	s, _ := pp.pool.Get().(*scratch)
	if s == nil {
		s = new(scratch)
	}
	defer pp.pool.Put(s)
	w, h, err := pp.setAxes(s, p.w, p.h, p.w, p.h, 1, 1)
	if err != nil {
		return nil, 0, 0, false
	}
	xa, ya := &s.xa, &s.ya
	rd, err := newPNGRows(ctx, &p, xa.src, s, pp.wide)
	if err != nil {
		return nil, 0, 0, false
	}
	tensor = tensorFor(dst, 3*h*w)
	s.g = grow(s.g, len(xa.src))
	s.cache.reset(w)
	pp.resizeRows(&s.cache, tensor, w, h, 0, h, ya, func(j int, out []uint64) {
		rd.row(ya.src[j], s.g)
		xa.lerp(s.g, out)
	})
	if rd.finish() != nil {
		return nil, 0, 0, false
	}
	return tensor, h, w, true
}
