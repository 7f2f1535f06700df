package jpeg

// splitAtDC is where the second reader of a split scan starts, in 64ths
// of the scan's bytes, at scale 8: a block's sample is its DC, so both
// readers do the same work per block. On the 5120x2880 wallpaper 32 took
// 33-35 ms where 20 and 24 took 38-43.
const splitAtDC = 32

// splitScan decodes a baseline scan at scale 8 without restart markers
// with a second reader started (see split.go), and stops that reader
// before returning.
func (d *decoder) splitScan(p *scanParams, sp *spec, nmcu, rowLen int) error {
	defer sp.finish()
	return d.splitMCUs(&sp.lay, sp, 0, nmcu, rowLen)
}

// splitMCUs decodes MCUs m0 to nmcu-1 from d.bits as the serial decode
// does, and, while sp is not nil, hands over to sp's records at the first
// MCU they start at the same place.
func (d *decoder) splitMCUs(lay *mcuLayout, sp *spec, m0, nmcu, rowLen int) error {
	var blk [64]int32
	for m := m0; m < nmcu; m++ {
		if d.ctx != nil && m%rowLen == 0 {
			if err := d.ctx.Err(); err != nil {
				return err
			}
		}
		if sp != nil {
			if place := d.bits.place(); place >= sp.base {
				j, ok := sp.match(place)
				for !ok && d.splitTest && !sp.vfinished && !sp.unplaced && sp.ci >= len(sp.view) {
					// Tests wait for the reader's records instead of
					// decoding on, so that the hand-over happens
					// whatever the goroutines' speeds.
					sp.wait()
					j, ok = sp.match(place)
				}
				if ok {
					return d.adopt(lay, sp, m, j, nmcu, rowLen)
				}
				if sp.exhausted() {
					sp = nil
				}
			}
		}
		if err := d.serialMCU(lay, m, &blk); err != nil {
			return err
		}
	}
	d.pos = d.bits.pos
	return nil
}

// serialMCU decodes MCU m from d.bits as the serial decode does, with its
// truncation check.
func (d *decoder) serialMCU(lay *mcuLayout, m int, blk *[64]int32) error {
	for ph := 0; ph < lay.bpm; ph++ {
		c, bx, by := d.at(lay, m, ph)
		if err := d.baselineBlock(c, bx, by, blk); err != nil {
			return err
		}
	}
	if d.bits.overrun() {
		return FormatError("truncated entropy-coded data")
	}
	return nil
}

// recordCursor walks the second reader's records from one index on.
type recordCursor struct {
	sp *spec
	ci int // chunk in sp.view
	bi int // block in the chunk
	bk int // first break in sp.vbreaks not passed
}

// next returns record k, the cursor's, or the first break before it; it
// waits for the reader when it has published neither yet.
func (rc *recordCursor) next(k int) (*specBlock, *specBreak) {
	sp := rc.sp
	for {
		if rc.bk < len(sp.vbreaks) && sp.vbreaks[rc.bk].at == k {
			return nil, &sp.vbreaks[rc.bk]
		}
		if rc.ci < len(sp.view) {
			ch := sp.view[rc.ci]
			if rc.bi < len(ch.blocks) {
				b := &ch.blocks[rc.bi]
				rc.bi++
				return b, nil
			}
			if rc.ci+1 < len(sp.view) {
				rc.ci, rc.bi = rc.ci+1, 0
				continue
			}
		}
		if sp.vfinished {
			// The reader always ends with a break at its last index;
			// only a panic ends it otherwise, and finish re-panics.
			return nil, &specBreak{at: k, err: FormatError("split decode ended early")}
		}
		sp.wait()
	}
}

// adopt finishes the scan from the second reader's record j, which starts
// MCU m0 at the place the calling goroutine reached: it writes the
// recorded blocks' samples, returns the stream's error where a break says the
// true decode fails, and decodes on from a break where the reader stopped.
func (d *decoder) adopt(lay *mcuLayout, sp *spec, m0, j, nmcu, rowLen int) error {
	d.adopted = true
	rc := recordCursor{sp: sp, ci: sp.ci, bi: sp.bi}
	// Breaks up to j came before record j, while the reader was still
	// misreading: they were published with it or earlier.
	for rc.bk < len(sp.vbreaks) && sp.vbreaks[rc.bk].at <= j {
		rc.bk++
	}
	k := j
	for m := m0; m < nmcu; m++ {
		if d.ctx != nil && m%rowLen == 0 {
			if err := d.ctx.Err(); err != nil {
				return err
			}
		}
		for ph := 0; ph < lay.bpm; ph++ {
			b, brk := rc.next(k)
			if brk != nil {
				if brk.err != nil || ph != 0 {
					return brk.errOr(FormatError("split decode stopped inside an MCU"))
				}
				d.bits = brk.snap
				return d.splitMCUs(lay, nil, m, nmcu, rowLen)
			}
			k++
			c, bx, by := d.at(lay, m, ph)
			c.dcPred += int32(b.dc)
			if c.needed(bx, by) != 0 {
				c.pix[by*c.stride+bx] = clamp((c.dcPred*d.quant[c.tq][0]+4)>>3 + 128)
			}
		}
	}
	// The serial decode checks for truncation at the end of the last MCU
	// too: the reader made that check before its record k.
	if _, brk := rc.next(k); brk != nil {
		if brk.end {
			return brk.err
		}
		if brk.err == nil && brk.snap.overrun() {
			return FormatError("truncated entropy-coded data")
		}
	}
	d.pos = sp.end
	return nil
}

func (b *specBreak) errOr(err error) error {
	if b.err != nil {
		return b.err
	}
	return err
}
