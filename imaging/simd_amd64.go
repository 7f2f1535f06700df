//go:build amd64 && !purego

package imaging

import "golang.org/x/sys/cpu"

// The AVX2 routines of the image path: vrowWide (the vertical pass and
// normalisation), spanWide (packing a run of RGB pixels) and adlerWide
// (the PNG stream's checksum). Each has a scalar loop beside it that
// gives the same result; tests compare the two.

// hasWide reports whether they run here.
func hasWide() bool { return cpu.X86.HasAVX2 }

// vrowAVX2 is vrow on n pixels (a multiple of 8, at least 8) of rows r0
// and r1 into the planes pr, pg and pb.
//
//go:noescape
func vrowAVX2(r0, r1 *uint64, n int, u0, u1 uint64, pr, pg, pb *float32, k *wideNorm)

// vrowWide runs vrowAVX2 on the longest multiple of 8 pixels and returns
// how many that was. The caller has checked hasWide; every slice is at
// least as long as pr, which the slicing below makes a panic otherwise.
func vrowWide(pr, pg, pb []float32, r0, r1 []uint64, u0, u1 uint64, k *wideNorm) int {
	n := len(pr) &^ 7
	if n == 0 {
		return 0
	}
	_, _, _, _ = pg[n-1], pb[n-1], r0[n-1], r1[n-1]
	vrowAVX2(&r0[0], &r1[0], n, u0, u1, &pr[0], &pg[0], &pb[0], k)
	return n
}

// spanAVX2 packs n pixels (a multiple of 4) of bpp = 3 or 4 bytes at pix
// into out, reading 16 bytes at every fourth pixel.
//
//go:noescape
func spanAVX2(pix *byte, bpp, n int, out *uint64)

// spanWide packs the leading pixels of pix (bpp 3 or 4) into out with
// spanAVX2, as many as it can read 16 bytes for in groups of four, and
// returns how many that was.
func spanWide(pix []byte, bpp int, out []uint64) int {
	n := 0
	if len(pix) >= 16 {
		n = min((len(pix)-16)/(4*bpp)*4+4, len(out)&^3)
	}
	if n == 0 {
		return 0
	}
	_, _ = pix[(n-4)*bpp+15], out[n-1]
	spanAVX2(&pix[0], bpp, n, &out[0])
	return n
}

// adlerAVX2 sums the n bytes at p (a multiple of 32, at most adlerBlock)
// in 32-byte chunks for Adler-32 (see adlerUpdate).
//
//go:noescape
func adlerAVX2(p *byte, n int) (sum, dot, pre uint32)

// adlerWide adds the leading whole 32-byte chunks of p to the Adler-32
// sums s1 and s2 (not yet reduced) and returns them with the number of
// bytes it took.
func adlerWide(s1, s2 uint32, p []byte) (uint32, uint32, int) {
	done := 0
	for len(p)-done >= 32 {
		n := min(len(p)-done, adlerBlock) &^ 31
		sum, dot, pre := adlerAVX2(&p[done], n)
		// Over bytes b_0..b_{n-1}: s2 gains n*s1 plus each byte times
		// its distance from the end, which is 32 per later chunk plus
		// 32 down to 1 within its own.
		s2 = uint32((uint64(s2) + uint64(n)*uint64(s1) + 32*uint64(pre) + uint64(dot)) % adlerMod)
		s1 = uint32((uint64(s1) + uint64(sum)) % adlerMod)
		done += n
	}
	return s1, s2, done
}
