//go:build amd64 && !purego

package kernel

//go:noescape
func hTile32AVX512(k int, a *float32, lda int, p *float32, bias *float32, c *float32, ldc int, act int)

//go:noescape
func hTile16AVX512(k int, a *float32, lda int, p *float32, bias *float32, c *float32, ldc int, act int)

func hTile32(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	checkTile("tile32AVX512", 12, 2, k, a, lda, p, bias, c, ldc)
	hTile32AVX512(k, &a[0], lda, &p[0], &bias[0], &c[0], ldc, int(act))
}

func hTile16(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int) {
	checkTile("tile16AVX512", 12, 1, k, a, lda, p, bias, c, ldc)
	hTile16AVX512(k, &a[0], lda, &p[0], &bias[0], &c[0], ldc, int(act))
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
