package kernel

func genericImpl() *impl {
	return &impl{
		name:     "generic",
		nr:       8,
		kern:     kernGeneric,
		kern8:    kernGeneric,
		gemv:     gemvGeneric,
		gemv16:   gemv16Generic,
		widen:    widenGeneric,
		epilogue: epilogueGeneric,
		axpy:     axpyGeneric,
	}
}

// kernGeneric is the pure-Go 8 x 8 micro-kernel. Eight named accumulators
// per row keep the inner loop in registers, which the compiler does not do
// for an array.
func kernGeneric(k int, a, b []float32, ldb int, c []float32, ldc int, acc bool) {
	a = a[:k*mr]
	for r := 0; r < mr; r++ {
		var c0, c1, c2, c3, c4, c5, c6, c7 float32
		off := 0
		for kk := 0; kk < k; kk++ {
			av := a[kk*mr+r]
			bb := b[off : off+8 : off+8]
			c0 += av * bb[0]
			c1 += av * bb[1]
			c2 += av * bb[2]
			c3 += av * bb[3]
			c4 += av * bb[4]
			c5 += av * bb[5]
			c6 += av * bb[6]
			c7 += av * bb[7]
			off += ldb
		}
		cc := c[r*ldc : r*ldc+8 : r*ldc+8]
		if acc {
			c0, c1, c2, c3 = c0+cc[0], c1+cc[1], c2+cc[2], c3+cc[3]
			c4, c5, c6, c7 = c4+cc[4], c5+cc[5], c6+cc[6], c7+cc[7]
		}
		cc[0], cc[1], cc[2], cc[3], cc[4], cc[5], cc[6], cc[7] = c0, c1, c2, c3, c4, c5, c6, c7
	}
}

func gemvGeneric(k int, a, b []float32, ldb int, out []float32) {
	var acc [mr]float32
	a = a[:k*mr]
	for kk := 0; kk < k; kk++ {
		bv := b[kk*ldb]
		p := a[kk*mr : kk*mr+mr : kk*mr+mr]
		for r := range acc {
			acc[r] += p[r] * bv
		}
	}
	copy(out[:mr], acc[:])
}

func gemv16Generic(k int, a []uint16, b []float32, ldb int, out []float32) {
	var acc [mr]float32
	a = a[:k*mr]
	for kk := 0; kk < k; kk++ {
		bv := b[kk*ldb]
		p := a[kk*mr : kk*mr+mr : kk*mr+mr]
		for r := range acc {
			acc[r] += fromHalf(p[r]) * bv
		}
	}
	copy(out[:mr], acc[:])
}

func widenGeneric(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = fromHalf(h)
	}
}

func epilogueGeneric(x []float32, bias float32, act Act) {
	switch act {
	case ActNone:
		if bias != 0 {
			for i := range x {
				x[i] += bias
			}
		}
	case ActReLU:
		for i, v := range x {
			x[i] = max(v+bias, 0)
		}
	case ActHardSwish:
		for i, v := range x {
			v += bias
			x[i] = v * min(max(v+3, 0), 6) * (1.0 / 6)
		}
	case ActHardSigmoid:
		for i, v := range x {
			x[i] = min(max((v+bias)*hardSigmoidSlope+0.5, 0), 1)
		}
	}
}

func axpyGeneric(y, x []float32, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}
