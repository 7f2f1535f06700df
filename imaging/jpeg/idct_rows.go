package jpeg

// idctPass1 holds, for each output row r of idct8's first (column) pass,
// the integer weight of each coefficient row k before the pass's final
// rounding shift. The butterfly has no rounding inside a pass, so a
// column's pass-1 output r is exactly (sum_k x_k*idctPass1[r][k] + rnd)
// >> (constBits-pass1Bits): a few output rows cost a few dot products
// instead of the whole column transform.
var idctPass1 = func() (m [8][8]int) {
	for k := range 8 {
		var x [8]int
		x[k] = 1
		for r, v := range pass1Column(x) {
			m[r][k] = v
		}
	}
	return m
}()

// pass1Column is idct8's column butterfly without its final shift.
func pass1Column(x [8]int) [8]int {
	x0, x1, x2, x3, x4, x5, x6, x7 := x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
	z1 := (x2 + x6) * fix0541196100
	e2 := z1 - x6*fix1847759065
	e3 := z1 + x2*fix0765366865
	e0 := (x0 + x4) << constBits
	e1 := (x0 - x4) << constBits
	t10, t13 := e0+e3, e0-e3
	t11, t12 := e1+e2, e1-e2
	o1, o2, o3, o4 := x7+x1, x5+x3, x7+x3, x5+x1
	z5 := (o3 + o4) * fix1175875602
	o1 *= -fix0899976223
	o2 *= -fix2562915447
	o3 = o3*-fix1961570560 + z5
	o4 = o4*-fix0390180644 + z5
	t0 := x7*fix0298631336 + o1 + o3
	t1 := x5*fix2053119869 + o2 + o4
	t2 := x3*fix3072711026 + o2 + o3
	t3 := x1*fix1501321110 + o1 + o4
	return [8]int{t10 + t3, t11 + t2, t12 + t1, t13 + t0, t13 - t0, t12 - t1, t11 - t2, t10 - t3}
}

// idct8Rows is idct8 for the sample rows set in rows only: the rows a
// resize reads of a large photo are a few per block.
func idct8Rows(blk *[64]int32, dst []byte, stride int, rows uint8) {
	// Coefficient rows that are all zero contribute nothing.
	var nz uint8
	for k := range 8 {
		in := blk[8*k : 8*k+8 : 8*k+8]
		if in[0]|in[1]|in[2]|in[3]|in[4]|in[5]|in[6]|in[7] != 0 {
			nz |= 1 << k
		}
	}
	for row := range 8 {
		if rows>>row&1 == 0 {
			continue
		}
		a := &idctPass1[row]
		var w [8]int
		for k := range 8 {
			if nz>>k&1 == 0 {
				continue
			}
			in := blk[8*k : 8*k+8 : 8*k+8]
			ak := a[k]
			w[0] += int(in[0]) * ak
			w[1] += int(in[1]) * ak
			w[2] += int(in[2]) * ak
			w[3] += int(in[3]) * ak
			w[4] += int(in[4]) * ak
			w[5] += int(in[5]) * ak
			w[6] += int(in[6]) * ak
			w[7] += int(in[7]) * ak
		}
		const sh = constBits - pass1Bits
		const rnd = 1 << (sh - 1)
		for i := range w {
			w[i] = (w[i] + rnd) >> sh
		}
		idctRow(&w, dst[row*stride:row*stride+8:row*stride+8])
	}
}

// idctRow is idct8's second pass on one row. It writes the butterfly out
// again rather than call pass1Column, which the compiler does not inline:
// through that call the serial decode of a 2 Mpx photo took 20.7-21.5 ms
// instead of 16.0-18.0 (BenchmarkSplit).
func idctRow(w *[8]int, out []byte) {
	if w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
		v := clampi((w[0]+(1<<(pass1Bits+2)))>>(pass1Bits+3) + 128)
		for i := range out {
			out[i] = v
		}
		return
	}
	x0, x1, x2, x3, x4, x5, x6, x7 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
	z1 := (x2 + x6) * fix0541196100
	e2 := z1 - x6*fix1847759065
	e3 := z1 + x2*fix0765366865
	e0 := (x0 + x4) << constBits
	e1 := (x0 - x4) << constBits
	t10, t13 := e0+e3, e0-e3
	t11, t12 := e1+e2, e1-e2
	o1, o2, o3, o4 := x7+x1, x5+x3, x7+x3, x5+x1
	z5 := (o3 + o4) * fix1175875602
	o1 *= -fix0899976223
	o2 *= -fix2562915447
	o3 = o3*-fix1961570560 + z5
	o4 = o4*-fix0390180644 + z5
	t0 := x7*fix0298631336 + o1 + o3
	t1 := x5*fix2053119869 + o2 + o4
	t2 := x3*fix3072711026 + o2 + o3
	t3 := x1*fix1501321110 + o1 + o4
	const sh = constBits + pass1Bits + 3
	const rnd = 1<<(sh-1) + 128<<sh
	out[0] = clampi((t10 + t3 + rnd) >> sh)
	out[7] = clampi((t10 - t3 + rnd) >> sh)
	out[1] = clampi((t11 + t2 + rnd) >> sh)
	out[6] = clampi((t11 - t2 + rnd) >> sh)
	out[2] = clampi((t12 + t1 + rnd) >> sh)
	out[5] = clampi((t12 - t1 + rnd) >> sh)
	out[3] = clampi((t13 + t0 + rnd) >> sh)
	out[4] = clampi((t13 - t0 + rnd) >> sh)
}
