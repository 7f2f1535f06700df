//go:build amd64 && !purego

package kernel

// tileAVX512 computes rows (1..mr512) rows of a 16*np-column tile.
func tileAVX512(rows, np, k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	checkTile("tileAVX512", rows, np, k, a, lda, p, bias, c, ldc)
	tab := tiles16AVX512
	if np == 2 {
		tab = tiles32AVX512
	}
	tab[rows](k, &a[0], lda, &p[0], &bias[0], &c[0], ldc, int(act))
}

func hTile16(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	tileAVX512(mr512, 1, k, a, lda, p, bias, act, c, ldc)
}

func hTile32(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	tileAVX512(mr512, 2, k, a, lda, p, bias, act, c, ldc)
}

//go:noescape
func hGemvAVX512(k int, a *float32, p *float32, np int, bias *float32, c *float32, act int)

//go:noescape
func hGemv16AVX512(k int, a *float32, p *uint16, np int, bias *float32, c *float32, act int)

func hGemv(k int, a []float32, p []float32, np int, bias []float32, act Act, c []float32) {
	checkGemv("gemvAVX512", k, a, len(p), np, bias, c)
	hGemvAVX512(k, &a[0], &p[0], np, &bias[0], &c[0], int(act))
}

func hGemv16(k int, a []float32, p []uint16, np int, bias []float32, act Act, c []float32) {
	checkGemv("gemv16AVX512", k, a, len(p), np, bias, c)
	hGemv16AVX512(k, &a[0], &p[0], np, &bias[0], &c[0], int(act))
}
