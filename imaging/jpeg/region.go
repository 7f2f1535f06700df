package jpeg

// buildMasks turns Options.Rows and Cols into each component's block
// masks. A component sampled at h/hmax of the output's columns holds
// column x's chroma in sample x*h/hmax; when h < hmax the upsampling
// filters (libjpeg's triangle filters, or nearest) also read the samples
// on either side, so those are kept too. Rows likewise.
func (d *decoder) buildMasks() {
	bs := 8 / d.scale
	w, h := d.outSize()
	for i := 0; i < d.ncomp; i++ {
		c := &d.comp[i]
		c.rowMask = mask(c.rowMask, d.needRows, h, c.v, d.vmax, c.bh, bs)
		c.colMask = mask(c.colMask, d.needCols, w, c.h, d.hmax, c.bw, bs)
	}
}

// mask marks, in nb blocks of bs samples, the samples of a component
// with sampling factor f (of fmax) that output positions pos (of n) need.
func mask(m []uint8, pos []int, n, f, fmax, nb, bs int) []uint8 {
	if cap(m) >= nb {
		m = m[:nb]
		clear(m)
	} else {
		m = make([]uint8, nb)
	}
	last := nb*bs - 1
	set := func(s int) {
		if s >= 0 && s <= last {
			m[s/bs] |= 1 << (s % bs)
		}
	}
	for _, p := range pos {
		if p < 0 || p >= n {
			continue
		}
		s := p * f / fmax
		set(s)
		if f < fmax {
			set(s - 1)
			set(s + 1)
		}
	}
	return m
}

// needed returns the rows of block (bx, by) of c whose samples are needed,
// as a bit mask: all of them without Options.Rows, none when no needed
// column falls in the block.
func (c *component) needed(bx, by int) uint8 {
	if c.rowMask == nil {
		return 0xff
	}
	if c.colMask[bx] == 0 {
		return 0
	}
	return c.rowMask[by]
}
