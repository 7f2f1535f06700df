package jpeg

import (
	"context"
	"fmt"
	"image"
)

// JPEG markers (ITU T.81 table B.1).
const (
	mSOF0 = 0xc0 // baseline
	mSOF1 = 0xc1 // extended sequential, Huffman
	mSOF2 = 0xc2 // progressive, Huffman
	mDHT  = 0xc4
	mDAC  = 0xcc
	mRST0 = 0xd0
	mRST7 = 0xd7
	mSOI  = 0xd8
	mEOI  = 0xd9
	mSOS  = 0xda
	mDQT  = 0xdb
	mDNL  = 0xdc
	mDRI  = 0xdd
	mAPP0 = 0xe0
	mAPPE = 0xee
)

type component struct {
	id     uint8
	index  int // in decoder.comp
	h, v   int // sampling factors
	tq     uint8
	bw, bh int // blocks per row and column, padded to whole MCUs

	// Output plane at the decode scale, bw*bs by bh*bs samples.
	pix    []byte
	stride int

	// Progressive coefficients in natural order, 64 per block (or one, the
	// DC, when only DC is needed), bw*bh blocks.
	coef  []int16
	ncoef int
	// nz[i] has bit k set when coefficient k (zig-zag) of block i is not
	// zero, for k >= 1: refining an EOB run reads only those (nil at
	// scale 8, where AC scans are skipped).
	nz []uint64

	// rowMask[by] has bit r set when sample row by*bs+r is needed,
	// colMask[bx] bit c when sample column bx*bs+c is; both nil when the
	// whole plane is.
	rowMask, colMask []uint8

	dcPred int32
	dcTab  uint8
	acTab  uint8
}

type decoder struct {
	data []byte
	pos  int

	scale     int
	needRows  []int // Options.Rows and Cols, nil if every sample is needed
	needCols  []int
	maxPixels int64
	maxBytes  int64
	ctx       context.Context // nil: never canceled

	parallel      bool  // Options.Parallel
	parallelMin   int64 // pixels from which Parallel pipelines
	bandBlocks    int   // blocks per band buffer
	pipelined     bool  // baseline scans run through a pipeline
	splitMin      int64 // pixels from which Parallel splits a scan
	splitAt       int   // where a split scan's second reader starts, in 64ths
	splitting     bool  // baseline scans without restarts are split
	splitMinBytes int
	chunkBlocks   int   // blocks per chunk of a split scan's records
	splitTest     bool  // tests: split any image, wait for the second reader
	splitPark     bool  // tests: the indexer waits half way for the hand-over
	adopted       bool  // the last split scan handed over to its second reader
	restarted     bool  // a scan's restart intervals were decoded in parallel
	spare         int64 // what MaxBytes leaves after the planes
	pipe          *pipeline
	sched         *scanSched // progressive scans recorded, with Parallel
	schedTables   int        // table copies before they are run

	sawSOF        bool
	progressive   bool
	width, height int
	ncomp         int
	comp          [4]component
	hmax, vmax    int
	mcusX, mcusY  int
	subsample     image.YCbCrSubsampleRatio

	quant    [4][64]int32 // natural order
	quantSet [4]bool
	huff     [2][4]huffTable // [class][id]
	ri       int             // restart interval in MCUs

	jfif           bool
	adobe          bool
	adobeTransform uint8

	allocated bool
	eobrun    int
	bits      bitReader
}

func (d *decoder) u16(i int) int { return int(d.data[i])<<8 | int(d.data[i+1]) }

// nextMarker skips to the next 0xff xx marker at or after d.pos, tolerating
// junk and fill bytes between segments as libjpeg and image/jpeg do.
func (d *decoder) nextMarker() (byte, error) {
	for {
		i := d.pos
		for i < len(d.data) && d.data[i] != 0xff {
			i++
		}
		for i < len(d.data) && d.data[i] == 0xff {
			i++
		}
		if i >= len(d.data) {
			return 0, FormatError("truncated: missing EOI marker")
		}
		m := d.data[i]
		d.pos = i + 1
		if m != 0 {
			return m, nil
		}
	}
}

// parse walks the segments. With configOnly it stops at the first SOS.
// Scans recorded for the scheduler are decoded before it returns: one
// that fails comes before the parser's own error in the file.
func (d *decoder) parse(configOnly bool) error {
	err := d.parseSegments(configOnly)
	if d.sched != nil {
		if serr := d.runScans(); serr != nil {
			return serr
		}
	}
	return err
}

func (d *decoder) parseSegments(configOnly bool) error {
	if len(d.data) < 2 || d.data[0] != 0xff || d.data[1] != mSOI {
		return FormatError("missing SOI marker")
	}
	d.pos = 2
	for {
		m, err := d.nextMarker()
		if err != nil {
			if d.allocated && !configOnly {
				// A file cut after its last scan decoded everything that
				// matters; image/jpeg also accepts a missing EOI then.
				return nil
			}
			return err
		}
		if m == mEOI {
			if !d.allocated {
				return FormatError("missing SOS marker")
			}
			return nil
		}
		if m >= mRST0 && m <= mRST7 || m == 0x01 {
			continue // standalone markers, stray restarts
		}
		if d.pos+2 > len(d.data) {
			return FormatError("truncated segment length")
		}
		n := d.u16(d.pos) - 2
		if n < 0 {
			return FormatError("short segment length")
		}
		start := d.pos + 2
		if start+n > len(d.data) {
			return FormatError(fmt.Sprintf("truncated segment 0x%02x", m))
		}
		seg := d.data[start : start+n]
		d.pos = start + n
		switch {
		case m == mSOF0 || m == mSOF1 || m == mSOF2:
			if d.sawSOF {
				return FormatError("multiple SOF markers")
			}
			d.progressive = m == mSOF2
			if err := d.parseSOF(seg); err != nil {
				return err
			}
		case m >= 0xc3 && m <= 0xcf && m != mDHT && m != mDAC:
			return UnsupportedError(fmt.Sprintf("SOF marker 0x%02x (lossless, hierarchical or arithmetic coding)", m))
		case m == mDAC:
			return UnsupportedError("arithmetic coding")
		case m == mDHT:
			if err := d.parseDHT(seg); err != nil {
				return err
			}
		case m == mDQT:
			if err := d.parseDQT(seg); err != nil {
				return err
			}
		case m == mDRI:
			if len(seg) != 2 {
				return FormatError("DRI has wrong length")
			}
			d.ri = int(seg[0])<<8 | int(seg[1])
		case m == mAPP0:
			if len(seg) >= 5 && string(seg[:5]) == "JFIF\x00" {
				d.jfif = true
			}
		case m == mAPPE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe = true
				d.adobeTransform = seg[11]
			}
		case m == mSOS:
			if !d.sawSOF {
				return FormatError("missing SOF marker")
			}
			if configOnly {
				return nil
			}
			if !d.allocated {
				if err := d.allocate(); err != nil {
					return err
				}
			}
			if err := d.scan(seg); err != nil {
				return err
			}
		case m == mDNL:
			return UnsupportedError("DNL marker")
		}
		// APPn, COM and unknown segments are skipped.
	}
}

func (d *decoder) parseSOF(seg []byte) error {
	if len(seg) < 6 {
		return FormatError("SOF has wrong length")
	}
	if seg[0] != 8 {
		return UnsupportedError(fmt.Sprintf("%d-bit precision", seg[0]))
	}
	d.height = int(seg[1])<<8 | int(seg[2])
	d.width = int(seg[3])<<8 | int(seg[4])
	d.ncomp = int(seg[5])
	if d.height == 0 {
		return UnsupportedError("height from DNL marker")
	}
	if d.width == 0 {
		return FormatError("zero width")
	}
	switch d.ncomp {
	case 1, 3, 4:
	default:
		return UnsupportedError(fmt.Sprintf("%d components", d.ncomp))
	}
	if len(seg) != 6+3*d.ncomp {
		return FormatError("SOF has wrong length")
	}
	d.hmax, d.vmax = 1, 1
	for i := 0; i < d.ncomp; i++ {
		c := &d.comp[i]
		c.index = i
		c.id = seg[6+3*i]
		for j := 0; j < i; j++ {
			if d.comp[j].id == c.id {
				return FormatError("repeated component identifier")
			}
		}
		hv := seg[7+3*i]
		c.h, c.v = int(hv>>4), int(hv&15)
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 {
			return FormatError("bad sampling factors")
		}
		if c.h == 3 || c.v == 3 {
			return UnsupportedError("sampling factor 3")
		}
		c.tq = seg[8+3*i]
		if c.tq > 3 {
			return FormatError("bad Tq value")
		}
		if d.ncomp == 1 {
			// A single component is non-interleaved by definition (T.81
			// A.2): one block per MCU whatever H and V say.
			c.h, c.v = 1, 1
		}
		d.hmax = max(d.hmax, c.h)
		d.vmax = max(d.vmax, c.v)
	}
	if err := d.checkSampling(); err != nil {
		return err
	}
	d.mcusX = (d.width + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcusY = (d.height + 8*d.vmax - 1) / (8 * d.vmax)
	for i := 0; i < d.ncomp; i++ {
		c := &d.comp[i]
		c.bw = d.mcusX * c.h
		c.bh = d.mcusY * c.v
	}
	d.sawSOF = true
	return nil
}

// checkSampling accepts the sampling factors image.YCbCr and image.CMYK can
// represent: the same set image/jpeg accepts.
func (d *decoder) checkSampling() error {
	c := &d.comp
	switch d.ncomp {
	case 3:
		if c[1].h != c[2].h || c[1].v != c[2].v || c[0].h%c[1].h != 0 || c[0].v%c[1].v != 0 {
			return UnsupportedError("luma/chroma subsampling ratio")
		}
		rh, rv := c[0].h/c[1].h, c[0].v/c[1].v
		switch {
		case rh == 1 && rv == 1:
			d.subsample = image.YCbCrSubsampleRatio444
		case rh == 2 && rv == 1:
			d.subsample = image.YCbCrSubsampleRatio422
		case rh == 2 && rv == 2:
			d.subsample = image.YCbCrSubsampleRatio420
		case rh == 1 && rv == 2:
			d.subsample = image.YCbCrSubsampleRatio440
		case rh == 4 && rv == 1:
			d.subsample = image.YCbCrSubsampleRatio411
		case rh == 4 && rv == 2:
			d.subsample = image.YCbCrSubsampleRatio410
		default:
			return UnsupportedError("luma/chroma subsampling ratio")
		}
	case 4:
		hv0 := c[0].h<<4 | c[0].v
		if hv0 != 0x11 && hv0 != 0x22 || c[1].h != 1 || c[1].v != 1 || c[2].h != 1 || c[2].v != 1 ||
			c[3].h != c[0].h || c[3].v != c[0].v {
			return UnsupportedError("CMYK sampling factors")
		}
	}
	return nil
}

func (d *decoder) parseDQT(seg []byte) error {
	for len(seg) > 0 {
		pq, tq := seg[0]>>4, seg[0]&15
		if tq > 3 {
			return FormatError("bad Tq value")
		}
		q := &d.quant[tq]
		switch pq {
		case 0:
			if len(seg) < 65 {
				return FormatError("DQT has wrong length")
			}
			for i := 0; i < 64; i++ {
				q[unzig[i]] = int32(seg[1+i])
			}
			seg = seg[65:]
		case 1:
			if len(seg) < 129 {
				return FormatError("DQT has wrong length")
			}
			for i := 0; i < 64; i++ {
				q[unzig[i]] = int32(seg[1+2*i])<<8 | int32(seg[2+2*i])
			}
			seg = seg[129:]
		default:
			return FormatError("bad Pq value")
		}
		d.quantSet[tq] = true
	}
	return nil
}

func (d *decoder) parseDHT(seg []byte) error {
	for len(seg) > 0 {
		if len(seg) < 17 {
			return FormatError("DHT has wrong length")
		}
		tc, th := seg[0]>>4, seg[0]&15
		if tc > 1 || th > 3 {
			return FormatError("bad Tc or Th value")
		}
		var counts [17]int
		total := 0
		for i := 1; i <= 16; i++ {
			counts[i] = int(seg[i])
			total += counts[i]
		}
		if total == 0 || total > 256 || len(seg) < 17+total {
			return FormatError("DHT has wrong length")
		}
		if err := d.huff[tc][th].build(&counts, seg[17:17+total]); err != nil {
			return err
		}
		if d.sched != nil {
			d.sched.tableChanged(tc, th)
		}
		seg = seg[17+total:]
	}
	return nil
}

func (d *decoder) isRGB() bool {
	if d.jfif {
		return false
	}
	if d.adobe && d.adobeTransform == 0 {
		return true
	}
	return d.comp[0].id == 'R' && d.comp[1].id == 'G' && d.comp[2].id == 'B'
}

// unzig maps zig-zag order to natural order.
var unzig = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}
