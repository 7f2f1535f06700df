package jpeg

import "bytes"

// scanParams is one SOS header.
type scanParams struct {
	comps  [4]int // indices into decoder.comp
	ns     int
	ss, se int
	ah, al int
}

func (d *decoder) parseSOS(seg []byte) (scanParams, error) {
	var p scanParams
	if len(seg) < 1 {
		return p, FormatError("SOS has wrong length")
	}
	p.ns = int(seg[0])
	if p.ns < 1 || p.ns > d.ncomp || len(seg) != 4+2*p.ns {
		return p, FormatError("SOS length inconsistent with number of components")
	}
	blocks := 0
	for i := 0; i < p.ns; i++ {
		id := seg[1+2*i]
		ci := -1
		for j := 0; j < d.ncomp; j++ {
			if d.comp[j].id == id {
				ci = j
			}
		}
		if ci < 0 {
			return p, FormatError("unknown component selector")
		}
		for j := 0; j < i; j++ {
			if p.comps[j] == ci {
				return p, FormatError("repeated component selector")
			}
		}
		p.comps[i] = ci
		c := &d.comp[ci]
		c.dcTab, c.acTab = seg[2+2*i]>>4, seg[2+2*i]&15
		if c.dcTab > 3 || c.acTab > 3 {
			return p, FormatError("bad Td or Ta value")
		}
		blocks += c.h * c.v
	}
	if p.ns > 1 && blocks > 10 {
		return p, FormatError("total sampling factors too large")
	}
	q := seg[1+2*p.ns:]
	p.ss, p.se, p.ah, p.al = int(q[0]), int(q[1]), int(q[2]>>4), int(q[2]&15)
	if d.progressive {
		if p.ss > p.se || p.se > 63 || p.ss == 0 && p.se != 0 || p.ah > 13 || p.al > 13 {
			return p, FormatError("bad spectral selection or successive approximation")
		}
		if p.ss > 0 && p.ns != 1 {
			return p, FormatError("progressive AC scan with more than one component")
		}
	} else {
		p.ss, p.se, p.ah, p.al = 0, 63, 0, 0
	}
	for i := 0; i < p.ns; i++ {
		c := &d.comp[p.comps[i]]
		if p.ss == 0 && p.ah == 0 && !d.huff[0][c.dcTab].set {
			return p, FormatError("undefined DC Huffman table")
		}
		if p.se > 0 && !d.huff[1][c.acTab].set {
			return p, FormatError("undefined AC Huffman table")
		}
		if !d.quantSet[c.tq] && !d.progressive {
			return p, FormatError("undefined quantization table")
		}
	}
	return p, nil
}

// skipEntropy moves d.pos to the next marker that is not a restart, without
// decoding: at scale 8 progressive AC scans cannot change the output.
func (d *decoder) skipEntropy() {
	for {
		i := bytes.IndexByte(d.data[d.pos:], 0xff)
		if i < 0 {
			d.pos = len(d.data)
			return
		}
		d.pos += i
		if d.pos+1 >= len(d.data) {
			return
		}
		m := d.data[d.pos+1]
		if m == 0 || m == 0xff || m >= mRST0 && m <= mRST7 {
			d.pos++
			continue
		}
		return
	}
}

type scanMode int

const (
	modeBaseline scanMode = iota
	modeDCFirst
	modeDCRefine
	modeACFirst
	modeACRefine
)

func (d *decoder) scan(seg []byte) error {
	p, err := d.parseSOS(seg)
	if err != nil {
		return err
	}
	if d.progressive && p.ss > 0 && d.scale == 8 {
		d.skipEntropy()
		return nil
	}
	if d.sched != nil {
		return d.deferScan(&p)
	}
	return d.decodeScan(p)
}

// decodeScan decodes the entropy-coded data of the scan p from d.pos.
func (d *decoder) decodeScan(p scanParams) (err error) {
	mode := modeBaseline
	if d.progressive {
		switch {
		case p.ss == 0 && p.ah == 0:
			mode = modeDCFirst
		case p.ss == 0:
			mode = modeDCRefine
		case p.ah == 0:
			mode = modeACFirst
		default:
			mode = modeACRefine
		}
	}
	d.bits.reset(d.data, d.pos)
	d.eobrun = 0
	for i := range d.comp {
		d.comp[i].dcPred = 0
	}
	var blk [64]int32
	var nmcu, cw int
	if p.ns == 1 {
		// A non-interleaved scan covers only the blocks inside the
		// component's own size, not the MCU padding (T.81 A.2.2).
		c := &d.comp[p.comps[0]]
		cw = ((d.width*c.h+d.hmax-1)/d.hmax + 7) / 8
		chh := ((d.height*c.v+d.vmax-1)/d.vmax + 7) / 8
		nmcu = cw * chh
	} else {
		nmcu = d.mcusX * d.mcusY
	}
	rowLen := d.mcusX
	if p.ns == 1 {
		rowLen = cw
	}
	if mode == modeBaseline && d.splitting && d.ri == 0 {
		if d.scale == 8 {
			if sp := d.startSpec(&p, nmcu); sp != nil {
				return d.splitScan(&p, sp, nmcu, rowLen)
			}
		} else if ix := d.startIndex(&p, nmcu); ix != nil {
			return d.indexScan(ix, nmcu, rowLen)
		}
	}
	if mode == modeBaseline && d.ri > 0 && d.parallel && int64(d.width)*int64(d.height) >= d.parallelMin {
		if ok, err := d.restartScan(&p, nmcu, rowLen); ok {
			return err
		}
	}
	if mode == modeBaseline && d.pipelined {
		d.pipe = d.newPipeline()
		defer func() {
			d.pipe.stop(err == nil)
			d.pipe = nil
		}()
	}
	for m := 0; m < nmcu; m++ {
		if d.ctx != nil && m%rowLen == 0 {
			if err := d.ctx.Err(); err != nil {
				return err
			}
		}
		if d.ri > 0 && m > 0 && m%d.ri == 0 {
			if err := d.restart(); err != nil {
				return err
			}
		}
		if p.ns == 1 {
			ci := p.comps[0]
			if err := d.block(mode, &p, ci, m%cw, m/cw, &blk); err != nil {
				return err
			}
		} else {
			mx, my := m%d.mcusX, m/d.mcusX
			for i := 0; i < p.ns; i++ {
				ci := p.comps[i]
				c := &d.comp[ci]
				for v := 0; v < c.v; v++ {
					for h := 0; h < c.h; h++ {
						var err error
						if mode == modeBaseline {
							err = d.baselineBlock(c, mx*c.h+h, my*c.v+v, &blk)
						} else {
							err = d.block(mode, &p, ci, mx*c.h+h, my*c.v+v, &blk)
						}
						if err != nil {
							return err
						}
					}
				}
			}
		}
		// A stream cut short is padded with zeros that decode as valid
		// blocks; stop at the first MCU that read them instead of
		// decoding a whole image of them. A split scan's second reader
		// makes the same check at the same MCUs (overrun depends only
		// on the place in the stream).
		if d.bits.overrun() {
			return FormatError("truncated entropy-coded data")
		}
	}
	if d.bits.overrun() {
		return FormatError("truncated entropy-coded data")
	}
	d.pos = d.bits.pos
	return nil
}

// restart checks that the interval ended at a marker, expects an RSTn and
// resets the decoder state (T.81 F.2.1.3.1).
func (d *decoder) restart() error {
	if d.bits.overrun() {
		return FormatError("truncated entropy-coded data before restart marker")
	}
	d.pos = d.bits.pos
	d.skipToMarker()
	if d.pos+1 >= len(d.data) {
		return FormatError("truncated: missing restart marker")
	}
	m := d.data[d.pos+1]
	if m < mRST0 || m > mRST7 {
		return FormatError("bad RST marker")
	}
	d.pos += 2
	d.bits.reset(d.data, d.pos)
	d.eobrun = 0
	for i := range d.comp {
		d.comp[i].dcPred = 0
	}
	return nil
}

// skipToMarker moves d.pos to the next 0xff that starts a marker.
func (d *decoder) skipToMarker() {
	for d.pos+1 < len(d.data) {
		if d.data[d.pos] == 0xff {
			m := d.data[d.pos+1]
			if m != 0 && m != 0xff {
				return
			}
		}
		d.pos++
	}
	d.pos = len(d.data)
}

func (d *decoder) block(mode scanMode, p *scanParams, ci, bx, by int, blk *[64]int32) error {
	c := &d.comp[ci]
	switch mode {
	case modeBaseline:
		return d.baselineBlock(c, bx, by, blk)
	case modeDCFirst:
		return d.dcFirst(c, bx, by, p.al)
	case modeDCRefine:
		d.dcRefine(c, bx, by, p.al)
		return nil
	case modeACFirst:
		return d.acFirst(c, bx, by, p)
	default:
		return d.acRefine(c, bx, by, p)
	}
}

// baselineBlock decodes one block and writes its samples at the decode scale.
func (d *decoder) baselineBlock(c *component, bx, by int, blk *[64]int32) error {
	r := &d.bits
	dc := &d.huff[0][c.dcTab]
	ac := &d.huff[1][c.acTab]
	q := &d.quant[c.tq]
	bs := 8 / d.scale
	off := by*bs*c.stride + bx*bs
	rows := c.needed(bx, by)
	if d.scale == 8 || rows == 0 {
		// Only the DC matters at scale 8, and nothing of a block the
		// region does not read: walk the AC codes without storing them.
		diff, err := skipBlock(r, dc, ac)
		c.dcPred += diff
		if err != nil {
			return err
		}
		if rows != 0 {
			c.pix[off] = clamp((c.dcPred*q[0]+4)>>3 + 128)
		}
		return nil
	}
	r.need32()
	s := r.huff(dc)
	if uint32(s) > 15 {
		return FormatError("bad DC Huffman code")
	}
	if s > 0 {
		c.dcPred += extend(r.take(uint(s)), int(s))
	}
	if d.pipe != nil {
		return d.pipe.queue(r, ac, c.index, c.dcPred*q[0], off, rows)
	}
	// readAC's loop again, storing dequantised coefficients straight
	// into the block: readAC and a scatter made the serial decode 5-8%
	// slower (BenchmarkSplit).
	*blk = [64]int32{}
	blk[0] = c.dcPred * q[0]
	last := 0
	acc, have := r.acc, r.n // as in skipBlock
	for k := 1; k < 64; {
		if have < 32 {
			acc, have = r.fill(acc, have)
		}
		if f := ac.fast[acc>>(64-lookBits)]; f != 0 {
			k += int(f >> 8 & 0xff)
			l := uint(f & 31)
			acc <<= l
			have -= int(l)
			if k > 63 {
				r.acc, r.n = acc, have
				return FormatError("too many coefficients")
			}
			z := unzig[k]
			blk[z] = f >> 16 * q[z]
			last = k
			k++
			continue
		}
		r.acc, r.n = acc, have
		rs := r.huff(ac)
		if rs < 0 {
			return FormatError("bad AC Huffman code")
		}
		run, s := int(rs>>4), int(rs&15)
		if s == 0 {
			acc, have = r.acc, r.n
			if run != 15 {
				break
			}
			k += 16
			continue
		}
		k += run
		if k > 63 {
			return FormatError("too many coefficients")
		}
		z := unzig[k]
		blk[z] = extend(r.take(uint(s)), s) * q[z]
		acc, have = r.acc, r.n
		last = k
		k++
	}
	r.acc, r.n = acc, have
	idct(d.scale, blk, last, c.pix[off:], c.stride, rows)
	return nil
}

// skipBlock reads a block's DC difference and walks its AC codes without
// storing them, for blocks whose samples are not needed (scale 8 needs
// only the DC). It refuses what baselineBlock refuses, so that the region
// decoded does not change which files decode; after an error the reader is
// where baselineBlock's would be.
func skipBlock(r *bitReader, dc, ac *huffTable) (int32, error) {
	// The accumulator lives in locals, not in *r, so that each code's
	// load, shift and count stay in registers: through *r the loop
	// stored and reloaded them at every code.
	acc, n := r.acc, r.n
	if n < 32 {
		acc, n = r.fill(acc, n)
	}
	var t uint
	if e := dc.look[acc>>(64-lookBits)]; e != 0 {
		l := uint(e & 31)
		acc <<= l
		n -= int(l)
		t = uint(e >> 8)
	} else {
		r.acc, r.n = acc, n
		v := r.huffSlow(dc)
		acc, n = r.acc, r.n
		if v < 0 {
			return 0, FormatError("bad DC Huffman code")
		}
		t = uint(v)
	}
	if t > 15 {
		r.acc, r.n = acc, n
		return 0, FormatError("bad DC Huffman code")
	}
	var diff int32
	if t > 0 {
		// A DC code is at most 16 bits and n was at least 32.
		diff = extend(int32(acc>>(64-t)), int(t))
		acc <<= t
		n -= int(t)
	}
	return diff, skipAC(r, ac, acc, n)
}

// skipAC is skipBlock's walk of the AC codes, from the accumulator acc
// holding n bits (r's other fields current).
func skipAC(r *bitReader, ac *huffTable, acc uint64, n int) error {
	for k := 1; k < 64; {
		if n < 32 {
			acc, n = r.fill(acc, n)
		}
		e := ac.skip[acc>>(64-skipBits)]
		if e == 0 {
			r.acc, r.n = acc, n
			rs := r.huff(ac)
			acc, n = r.acc, r.n
			if rs < 0 {
				return FormatError("bad AC Huffman code")
			}
			run, s := int(rs>>4), uint(rs&15)
			if s == 0 {
				if run != 15 {
					r.acc, r.n = acc, n
					return nil
				}
				k += 16
				continue
			}
			if k += run + 1; k > 64 {
				return FormatError("too many coefficients")
			}
			acc <<= s
			n -= int(s)
			continue
		}
		l := uint(e & 31)
		switch adv := int(e >> 8 & 0xff); adv {
		case skipEOB:
			r.acc, r.n = acc<<l, n-int(l)
			return nil
		case skipZRL:
			k += 16
		default:
			if k += adv; k > 64 {
				r.acc, r.n = acc, n
				return FormatError("too many coefficients")
			}
			// A second code in the same load belongs to this block
			// only if the first did not fill it.
			if l2 := uint(e >> 16 & 31); l2 != 0 && k < 64 {
				acc <<= l2
				n -= int(l2)
				switch adv2 := int(e >> 24); adv2 {
				case skipEOB:
					r.acc, r.n = acc, n
					return nil
				case skipZRL:
					k += 16
				default:
					if k += adv2; k > 64 {
						r.acc, r.n = acc, n
						return FormatError("too many coefficients")
					}
				}
				continue
			}
		}
		acc <<= l
		n -= int(l)
	}
	r.acc, r.n = acc, n
	return nil
}
