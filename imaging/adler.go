package imaging

// Adler-32 (RFC 1950), the checksum at the end of a PNG's zlib stream.
// The fast path checks it itself, over the rows it inflates, so that it
// can run four times faster than hash/adler32 with AVX2.
const (
	adlerMod = 65521
	// adlerBlock bytes keep every sum below 2^32 between reductions
	// (zlib's NMAX is 5552; this is its largest multiple of 32).
	adlerBlock = 5536
)

// adlerUpdate returns the checksum a after p too (1 starts a stream).
func adlerUpdate(a uint32, p []byte, wide bool) uint32 {
	s1, s2 := a&0xffff, a>>16
	if wide {
		var n int
		s1, s2, n = adlerWide(s1, s2, p)
		p = p[n:]
	}
	for len(p) > 0 {
		q := p[:min(len(p), adlerBlock)]
		p = p[len(q):]
		for ; len(q) >= 4; q = q[4:] {
			s1 += uint32(q[0])
			s2 += s1
			s1 += uint32(q[1])
			s2 += s1
			s1 += uint32(q[2])
			s2 += s1
			s1 += uint32(q[3])
			s2 += s1
		}
		for _, b := range q {
			s1 += uint32(b)
			s2 += s1
		}
		s1 %= adlerMod
		s2 %= adlerMod
	}
	return s2<<16 | s1
}
