//go:build amd64 && !purego

package kernel

import "fmt"

// Go wrappers of the generated kernels (avx512_amd64.s: suffix Z; avx2_amd64.s:
// suffix Y). Each checks every slice bound before handing raw pointers to
// the assembly, so a tiling bug panics instead of corrupting memory.

// tileZ computes rows (1..mrZ) rows of a 16*np-column tile (np = 1 or 2).
func tileZ(rows, np, k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	checkTile("tileZ", rows, np, k, a, lda, p, bias, c, ldc)
	tab := tiles16Z
	if np == 2 {
		tab = tiles32Z
	}
	tab[rows](k, &a[0], lda, &p[0], &bias[0], &c[0], ldc, int(act))
}

// tileFullZ is a full tile of np panels, prefetching pf meanwhile.
func tileFullZ(np, k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int, pf prefetch) {
	if pf.p == nil {
		tileZ(mrZ, np, k, a, lda, p, bias, act, c, ldc)
		return
	}
	checkTile("tileFullZ", mrZ, np, k, a, lda, p, bias, c, ldc)
	if pf.step < 0 || pf.step > 2*64 {
		panic(fmt.Sprintf("kernel: tileFullZ: prefetch step %d bytes, want 0..128", pf.step))
	}
	f := tile14x16ZP
	if np == 2 {
		f = tile14x32ZP
	}
	f(k, &a[0], lda, &p[0], &bias[0], &c[0], ldc, int(act), pf.p, pf.step)
}

func tile16Z(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int, pf prefetch) {
	tileFullZ(1, k, a, lda, p, bias, act, c, ldc, pf)
}

func tile32Z(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int, pf prefetch) {
	tileFullZ(2, k, a, lda, p, bias, act, c, ldc, pf)
}

func gemvZ(k int, a []float32, p []float32, np int, bias []float32, act Act, c []float32) {
	checkGemv("gemvZ", k, a, len(p), np, bias, c)
	gemvF32Z(k, &a[0], &p[0], np, &bias[0], &c[0], int(act))
}

func gemv16Z(k int, a []float32, p []uint16, np int, bias []float32, act Act, c []float32) {
	checkGemv("gemv16Z", k, a, len(p), np, bias, c)
	gemvF16Z(k, &a[0], &p[0], np, &bias[0], &c[0], int(act))
}

// dwZ runs a depthwise row on 16-channel zmm chunks; runs of fewer than
// 4 pixels take the kernel that is fast on few pixels. Rows that dwFullZ
// covers (k = 3 or 5, stride 1 or 2, 4 pixels or more: every PP-LCNet
// row at 224x224) never come here.
func dwZ(r *rowArgs) {
	checkRow("dwZ", r, false)
	f := dwRowZ
	if r.n < 4 {
		// Chains over channel chunks instead of pixels (see dwPixZ).
		f = dwPixZ
	}
	f(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/lanes)
}

// dwFullZ runs a whole depthwise output row (see impl.dwFull) when a
// generated kernel fits: k = 3 or 5, horizontal stride 1 or 2, and at
// least 4 pixels.
func dwFullZ(r *rowArgs, win int) bool {
	if r.n < 4 || r.kx0 != 0 || r.kx1 != r.k || len(r.roff) > r.k || (r.step != r.cs && r.step != 2*r.cs) {
		return false
	}
	var f func(in *float32, roff *int, woff *int, nt int, x0 int, win int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)
	switch {
	case r.k == 3 && r.step == r.cs:
		f = dwFull3s1Z
	case r.k == 3:
		f = dwFull3s2Z
	case r.k == 5 && r.step == r.cs:
		f = dwFull5s1Z
	case r.k == 5:
		f = dwFull5s2Z
	default:
		return false
	}
	checkFullRow("dwFullZ", r, win)
	p := (r.k - 1) / 2
	// The kernel reads each tap row's columns [0, win) only, from the
	// address of column -p, which may lie before in: index from in[0].
	f(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), -p, win, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/lanes)
	return true
}

func stemZ(r *rowArgs) {
	checkRow("stemZ", r, true)
	f := stemRowZ
	if r.k == 3 && r.kx0 == 0 && r.kx1 == 3 {
		switch r.cs / lanes {
		case 1:
			f = stemInt1Z
		case 2:
			f = stemInt2Z
		case 3:
			f = stemInt3Z
		}
	}
	f(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/lanes)
}

// tileY computes rows (1..mrY) rows of np 16-column panels, one panel at
// a time: the AVX2 tiles are 16 wide.
func tileY(rows, np, k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	for q := 0; q < np; q++ {
		checkTile("tileY", rows, 1, k, a, lda, p[q*k*lanes:], bias[q*lanes:], c[q*lanes:], ldc)
		tiles16Y[rows](k, &a[0], lda, &p[q*k*lanes], &bias[q*lanes], &c[q*lanes], ldc, int(act))
	}
}

func tile16Y(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int, _ prefetch) {
	tileY(mrY, 1, k, a, lda, p, bias, act, c, ldc)
}

func gemvY(k int, a []float32, p []float32, np int, bias []float32, act Act, c []float32) {
	checkGemv("gemvY", k, a, len(p), np, bias, c)
	gemvF32Y(k, &a[0], &p[0], np, &bias[0], &c[0], int(act))
}

func gemv16Y(k int, a []float32, p []uint16, np int, bias []float32, act Act, c []float32) {
	checkGemv("gemv16Y", k, a, len(p), np, bias, c)
	gemvF16Y(k, &a[0], &p[0], np, &bias[0], &c[0], int(act))
}

// dwY and stemY walk 8-channel ymm chunks (cs/8 of them).
func dwY(r *rowArgs) {
	checkRow("dwY", r, false)
	dwRowY(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/8)
}

func stemY(r *rowArgs) {
	checkRow("stemY", r, true)
	stemRowY(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/8)
}
