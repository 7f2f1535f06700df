//go:build amd64 && !purego

package kernel

// Go wrappers of the AVX2 kernels in avx2_amd64.s: bounds first.

func tileAVX2(rows, np, k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	for q := 0; q < np; q++ { // one panel at a time: the AVX2 tiles are 16 wide
		checkTile("tileAVX2", rows, 1, k, a, lda, p[q*k*lanes:], bias[q*lanes:], c[q*lanes:], ldc)
		tiles16AVX2[rows](k, &a[0], lda, &p[q*k*lanes], &bias[q*lanes], &c[q*lanes], ldc, int(act))
	}
}

func tile16Y(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	tileAVX2(mr256, 1, k, a, lda, p, bias, act, c, ldc)
}

func gemvY(k int, a []float32, p []float32, np int, bias []float32, act Act, c []float32) {
	checkGemv("gemvAVX2", k, a, len(p), np, bias, c)
	gemvF32AVX2(k, &a[0], &p[0], np, &bias[0], &c[0], int(act))
}

func gemv16Y(k int, a []float32, p []uint16, np int, bias []float32, act Act, c []float32) {
	checkGemv("gemv16AVX2", k, a, len(p), np, bias, c)
	gemvF16AVX2(k, &a[0], &p[0], np, &bias[0], &c[0], int(act))
}

func dwRowY(r *rowArgs) {
	checkRow("dwRowAVX2", r, false)
	dwRowYMM(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/8)
}

func stemRowY(r *rowArgs) {
	checkRow("stemRowAVX2", r, true)
	stemRowYMM(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/8)
}
