package jpeg

import (
	"math/bits"

	"github.com/lcnet/lcnet/internal/par"
)

// Progressive scans (T.81 G.1.2) accumulate coefficients, in zig-zag order,
// in component.coef; finishProgressive runs the IDCT once all scans are in.
// At scale 8 only the DC is kept (ncoef == 1) and AC scans are skipped.

func (d *decoder) coefs(c *component, bx, by int) []int16 {
	i := (by*c.bw + bx) * c.ncoef
	return c.coef[i : i+c.ncoef : i+c.ncoef]
}

func (d *decoder) dcFirst(c *component, bx, by, al int) error {
	s := d.bits.decode(&d.huff[0][c.dcTab])
	if s < 0 || s > 15 {
		return FormatError("bad DC Huffman code")
	}
	if s > 0 {
		c.dcPred += d.bits.receive(int(s))
	}
	d.coefs(c, bx, by)[0] = int16(c.dcPred << uint(al))
	return nil
}

func (d *decoder) dcRefine(c *component, bx, by, al int) {
	if d.bits.bit() {
		d.coefs(c, bx, by)[0] |= 1 << uint(al)
	}
}

func (d *decoder) acFirst(c *component, bx, by int, p *scanParams) error {
	if d.eobrun > 0 {
		d.eobrun--
		return nil
	}
	b := d.coefs(c, bx, by)
	nz := &c.nz[by*c.bw+bx]
	ac := &d.huff[1][c.acTab]
	r := &d.bits
	for k := p.ss; k <= p.se; {
		r.need32()
		if f := ac.fast[r.acc>>(64-lookBits)]; f != 0 {
			k += int(f >> 8 & 0xff)
			l := uint(f & 0xff)
			r.acc <<= l
			r.n -= int(l)
			if k > p.se {
				return FormatError("too many coefficients")
			}
			v := int16(f >> 16 << uint(p.al))
			b[k] = v
			*nz = *nz&^(1<<uint(k)) | nonzero(v)<<uint(k)
			k++
			continue
		}
		rs := r.huff(ac)
		if rs < 0 {
			return FormatError("bad AC Huffman code")
		}
		run, s := int(rs>>4), int(rs&15)
		if s == 0 {
			if run < 15 {
				d.eobrun = 1<<uint(run) - 1
				if run > 0 {
					d.eobrun += int(r.bits(run))
				}
				break
			}
			k += 16
			continue
		}
		k += run
		if k > p.se {
			return FormatError("too many coefficients")
		}
		v := int16(extend(r.take(uint(s)), s) << uint(p.al))
		b[k] = v
		*nz = *nz&^(1<<uint(k)) | nonzero(v)<<uint(k)
		k++
	}
	return nil
}

// nonzero is 1 if v is not zero, else 0. (A coefficient shifted by Al may
// wrap to zero in a corrupt file; the mask follows the value.)
func nonzero(v int16) uint64 {
	if v != 0 {
		return 1
	}
	return 0
}

// acRefine reads the correction bits in line (a helper does not inline).
func (d *decoder) acRefine(c *component, bx, by int, p *scanParams) error {
	b := d.coefs(c, bx, by)
	nz := &c.nz[by*c.bw+bx]
	ac := &d.huff[1][c.acTab]
	r := &d.bits
	p1 := int16(1) << uint(p.al)
	m1 := int16(-1) << uint(p.al)
	k := p.ss
	if d.eobrun == 0 {
		for ; k <= p.se; k++ {
			r.need32()
			rs := r.huff(ac)
			if rs < 0 {
				return FormatError("bad AC Huffman code")
			}
			run, s := int(rs>>4), int(rs&15)
			var val int16
			if s != 0 {
				if s != 1 {
					return FormatError("bad refinement magnitude")
				}
				if r.take(1) != 0 {
					val = p1
				} else {
					val = m1
				}
			} else if run != 15 {
				d.eobrun = 1 << uint(run)
				if run > 0 {
					d.eobrun += int(r.take(uint(run)))
				}
				break
			}
			// Skip run zero-history coefficients, refining the nonzero
			// ones passed on the way (T.81 G.1.2.3).
			for ; k <= p.se; k++ {
				if b[k] != 0 {
					r.refine(&b[k], p1)
				} else {
					if run == 0 {
						break
					}
					run--
				}
			}
			if val != 0 && k <= p.se {
				b[k] = val
				*nz |= 1 << uint(k)
			}
		}
	}
	if d.eobrun > 0 {
		// Most blocks of a run have few nonzero coefficients in the band:
		// visit only those, in order, instead of testing every one.
		for m := *nz >> uint(k) << uint(k) & (2<<uint(p.se) - 1); m != 0; m &= m - 1 {
			r.refine(&b[bits.TrailingZeros64(m)], p1)
		}
		d.eobrun--
	}
	return nil
}

// finishProgressive dequantizes and transforms every block.
func (d *decoder) finishProgressive() error {
	for ci := 0; ci < d.ncomp; ci++ {
		if !d.quantSet[d.comp[ci].tq] {
			return FormatError("undefined quantization table")
		}
	}
	if !d.parallel || d.scale == 8 || int64(d.width)*int64(d.height) < d.parallelMin {
		d.finishRows(0, 1)
		return nil
	}
	// With Options.Parallel a second goroutine transforms the lower half
	// of each component's blocks: the scans are done, the blocks are
	// independent and each goroutine writes its own rows.
	par.Two(func() { d.finishRows(1, 2) }, func() { d.finishRows(0, 2) }, nil)
	return nil
}

// finishRows dequantises and transforms part of parts of each
// component's rows of blocks into its plane.
func (d *decoder) finishRows(part, parts int) {
	bs := 8 / d.scale
	var blk [64]int32
	for ci := 0; ci < d.ncomp; ci++ {
		c := &d.comp[ci]
		q := &d.quant[c.tq]
		for by := c.bh * part / parts; by < c.bh*(part+1)/parts; by++ {
			for bx := 0; bx < c.bw; bx++ {
				b := d.coefs(c, bx, by)
				off := by*bs*c.stride + bx*bs
				if d.scale == 8 {
					c.pix[off] = clamp((int32(b[0])*q[0]+4)>>3 + 128)
					continue
				}
				rows := c.needed(bx, by)
				if rows == 0 {
					continue
				}
				blk = [64]int32{}
				blk[0] = int32(b[0]) * q[0]
				last := 0
				// nz marks the nonzero AC coefficients: most are zero.
				for m := c.nz[by*c.bw+bx]; m != 0; m &= m - 1 {
					k := bits.TrailingZeros64(m)
					z := unzig[k]
					blk[z] = int32(b[k]) * q[z]
					last = k
				}
				idct(d.scale, &blk, last, c.pix[off:], c.stride, rows)
			}
		}
	}
}

// refine reads one correction bit for a coefficient already nonzero: a 1
// moves it one step of the scan's bit p1 away from zero unless it has that
// bit already (T.81 G.1.2.3). m1, the step for a negative coefficient, is
// -p1.
func (r *bitReader) refine(c *int16, p1 int16) {
	if r.n == 0 {
		r.refill()
	}
	r.n--
	set := int64(r.acc) < 0
	r.acc <<= 1
	if set && *c&p1 == 0 {
		sign := *c >> 15 // 0 or -1
		*c += p1 ^ sign - sign
	}
}
