package jpeg

// The full-size IDCT is the accurate integer algorithm of T.81 A.3.3 in
// Loeffler-Ligtenberg-Moschytz form (as libjpeg's "islow"): 13-bit
// constants, two extra bits kept between passes. Working in int keeps
// 16-bit quantization tables from overflowing.
const (
	constBits = 13
	pass1Bits = 2

	fix0298631336 = 2446
	fix0390180644 = 3196
	fix0541196100 = 4433
	fix0765366865 = 6270
	fix0899976223 = 7373
	fix1175875602 = 9633
	fix1501321110 = 12299
	fix1847759065 = 15137
	fix1961570560 = 16069
	fix2053119869 = 16819
	fix2562915447 = 20995
	fix3072711026 = 25172
)

func clamp(v int32) uint8 {
	if uint32(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

func clampi(v int) uint8 {
	if uint(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return uint8(v)
}

// idct writes the 8/scale x 8/scale samples of a dequantized block (natural
// order) to dst. last is the zig-zag index of the last nonzero coefficient.
// rows has bit r set for each sample row r that is needed (component.needed);
// at full scale the others are not computed.
func idct(scale int, blk *[64]int32, last int, dst []byte, stride int, rows uint8) {
	if rows == 0 {
		return
	}
	bs := 8 / scale
	if last == 0 {
		v := clamp((blk[0]+4)>>3 + 128)
		for y := 0; y < bs; y++ {
			row := dst[y*stride : y*stride+bs]
			for x := range row {
				row[x] = v
			}
		}
		return
	}
	switch scale {
	case 1:
		switch {
		case idct8Wide(blk, dst, stride, rows):
		case rows != 0xff:
			idct8Rows(blk, dst, stride, rows)
		default:
			idct8(blk, dst, stride)
		}
	case 2:
		idct4(blk, dst, stride)
	case 4:
		idct2(blk, dst, stride)
	default:
		dst[0] = clamp((blk[0]+4)>>3 + 128)
	}
}

// idct8 is written out in both passes (the even part from x0, x2, x4, x6,
// the odd part from x1, x3, x5, x7) because a shared helper returning
// eight values does not inline.
func idct8(blk *[64]int32, dst []byte, stride int) {
	var ws [64]int
	for col := 0; col < 8; col++ {
		in := blk[col : col+57 : col+57]
		if in[8]|in[16]|in[24]|in[32]|in[40]|in[48]|in[56] == 0 {
			dc := int(in[0]) << pass1Bits
			for r := 0; r < 64; r += 8 {
				ws[r+col] = dc
			}
			continue
		}
		x0, x1, x2, x3 := int(in[0]), int(in[8]), int(in[16]), int(in[24])
		x4, x5, x6, x7 := int(in[32]), int(in[40]), int(in[48]), int(in[56])
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
		const sh = constBits - pass1Bits
		const rnd = 1 << (sh - 1)
		ws[col] = (t10 + t3 + rnd) >> sh
		ws[56+col] = (t10 - t3 + rnd) >> sh
		ws[8+col] = (t11 + t2 + rnd) >> sh
		ws[48+col] = (t11 - t2 + rnd) >> sh
		ws[16+col] = (t12 + t1 + rnd) >> sh
		ws[40+col] = (t12 - t1 + rnd) >> sh
		ws[24+col] = (t13 + t0 + rnd) >> sh
		ws[32+col] = (t13 - t0 + rnd) >> sh
	}
	for row := 0; row < 8; row++ {
		idctRow((*[8]int)(ws[row*8:]), dst[row*stride:row*stride+8:row*stride+8])
	}
}

// Scaled IDCTs: each output sample is the mean of the 2x2 (scale 2) or
// 4x4 (scale 4) full-size samples it replaces, computed directly from the
// coefficients. Row i of the 1-D matrix is C(k)/2 * mean of
// cos((2n+1)k*pi/16) over the n it covers, times 2^13. Output i and
// 3-i (or 1-i) share the even terms and negate the odd ones; coefficient
// 4 (and for scale 4 also 2 and 6) averages to zero.
const (
	s4e0  = 2896 // k=0
	s4e2a = 2676 // k=2, outputs 0 and 3 (+), 1 and 2 (-)
	s4e6a = 1108 // k=6, outputs 0 and 3 (-), 1 and 2 (+)
	s4o1a = 3711 // output 0: k=1,3,5,7
	s4o3a = 1303
	s4o5a = -871
	s4o7a = -738
	s4o1b = 1537 // output 1
	s4o3b = -3146
	s4o5b = 2102
	s4o7b = -306

	s2o1 = 2624 // output 0: k=1,3,5,7
	s2o3 = -922
	s2o5 = 616
	s2o7 = -522
)

func idct4(blk *[64]int32, dst []byte, stride int) {
	var ws [32]int // 4 rows of 8 columns
	for col := 0; col < 8; col++ {
		x0, x1, x2, x3 := int(blk[col]), int(blk[8+col]), int(blk[16+col]), int(blk[24+col])
		x5, x6, x7 := int(blk[40+col]), int(blk[48+col]), int(blk[56+col])
		e0 := x0 * s4e0
		ea := e0 + x2*s4e2a - x6*s4e6a
		eb := e0 - x2*s4e2a + x6*s4e6a
		oa := x1*s4o1a + x3*s4o3a + x5*s4o5a + x7*s4o7a
		ob := x1*s4o1b + x3*s4o3b + x5*s4o5b + x7*s4o7b
		const sh = constBits - pass1Bits
		const rnd = 1 << (sh - 1)
		ws[col] = (ea + oa + rnd) >> sh
		ws[8+col] = (eb + ob + rnd) >> sh
		ws[16+col] = (eb - ob + rnd) >> sh
		ws[24+col] = (ea - oa + rnd) >> sh
	}
	for row := 0; row < 4; row++ {
		w := ws[row*8 : row*8+8 : row*8+8]
		out := dst[row*stride : row*stride+4 : row*stride+4]
		e0 := w[0] * s4e0
		ea := e0 + w[2]*s4e2a - w[6]*s4e6a
		eb := e0 - w[2]*s4e2a + w[6]*s4e6a
		oa := w[1]*s4o1a + w[3]*s4o3a + w[5]*s4o5a + w[7]*s4o7a
		ob := w[1]*s4o1b + w[3]*s4o3b + w[5]*s4o5b + w[7]*s4o7b
		const sh = constBits + pass1Bits
		const rnd = 1<<(sh-1) + 128<<sh
		out[0] = clampi((ea + oa + rnd) >> sh)
		out[1] = clampi((eb + ob + rnd) >> sh)
		out[2] = clampi((eb - ob + rnd) >> sh)
		out[3] = clampi((ea - oa + rnd) >> sh)
	}
}

func idct2(blk *[64]int32, dst []byte, stride int) {
	var ws [16]int // 2 rows of 8 columns
	for col := 0; col < 8; col++ {
		e := int(blk[col]) * s4e0
		o := int(blk[8+col])*s2o1 + int(blk[24+col])*s2o3 + int(blk[40+col])*s2o5 + int(blk[56+col])*s2o7
		const sh = constBits - pass1Bits
		const rnd = 1 << (sh - 1)
		ws[col] = (e + o + rnd) >> sh
		ws[8+col] = (e - o + rnd) >> sh
	}
	for row := 0; row < 2; row++ {
		w := ws[row*8 : row*8+8 : row*8+8]
		e := w[0] * s4e0
		o := w[1]*s2o1 + w[3]*s2o3 + w[5]*s2o5 + w[7]*s2o7
		const sh = constBits + pass1Bits
		const rnd = 1<<(sh-1) + 128<<sh
		dst[row*stride] = clampi((e + o + rnd) >> sh)
		dst[row*stride+1] = clampi((e - o + rnd) >> sh)
	}
}
