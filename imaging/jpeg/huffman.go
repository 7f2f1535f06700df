package jpeg

import "encoding/binary"

// lookBits is the Huffman lookahead: codes up to this long (nearly all of
// them in photos) decode with one table load. skipBits is the lookahead of
// the table that skips AC coefficients at scale 8, where a code and its
// magnitude bits are consumed together and only the run matters.
const (
	lookBits = 9
	skipBits = 12
	skipEOB  = 0xff
	// skipZRL marks the ZRL code (16 zeros) in the skip table: unlike a
	// coefficient after a run of 15, it may step past the block's end.
	skipZRL = 0x40
)

type huffTable struct {
	// look holds symbol<<8|len for codes of at most lookBits bits, 0 for
	// longer codes.
	look [1 << lookBits]uint16
	// fast holds, for AC tables, value<<16|run<<8|totalLen when a code
	// and its magnitude bits together fit in lookBits, 0 otherwise, so the
	// common small coefficient costs one load and one shift.
	fast [1 << lookBits]int32
	// skip holds, for the AC codes whose magnitude bits fit in skipBits,
	// advance<<8|totalLen, advance being run+1 (skipZRL for ZRL, skipEOB
	// for EOB), 0 for the slow path. When a coefficient's code is followed
	// by a second code that fits in the same skipBits, the second one's
	// advance<<24|(both lengths)<<16 is added: photos' AC codes are short,
	// so one load often walks two of them. (The lengths in fast and skip
	// are at most 2*skipBits = 24, so the decoders mask them with 31: Go
	// then does not check the shifts by them for counts of 64 or more.)
	skip    [1 << skipBits]uint32
	maxcode [17]int32 // largest code of each length, -1 if none
	valptr  [17]int32 // index in vals of the first code of each length, minus that code
	vals    [256]uint8
	set     bool
}

func (h *huffTable) build(counts *[17]int, vals []byte) error {
	*h = huffTable{}
	copy(h.vals[:], vals)
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l])
		if n == 0 {
			h.maxcode[l] = -1
		} else {
			if code+n > 1<<l {
				return FormatError("bad Huffman table: too many codes")
			}
			h.valptr[l] = k - code
			for i := int32(0); i < n; i++ {
				if l <= lookBits {
					sh := lookBits - l
					base := (code + i) << sh
					e := uint16(vals[k+i])<<8 | uint16(l)
					for j := int32(0); j < 1<<sh; j++ {
						h.look[base+j] = e
					}
				}
			}
			code += n
			k += n
			h.maxcode[l] = code - 1
		}
		code <<= 1
	}
	for i := range h.look {
		e := h.look[i]
		l := int(e & 0xff)
		if l == 0 {
			continue
		}
		rs := e >> 8
		run, s := int(rs>>4), int(rs&15)
		if s == 0 || l+s > lookBits {
			continue
		}
		bits := int32(i>>(lookBits-l-s)) & (1<<s - 1)
		v := extend(bits, s)
		h.fast[i] = v<<16 | int32(run)<<8 | int32(l+s)
	}
	h.buildSkip(counts, vals)
	h.set = true
	return nil
}

func (h *huffTable) buildSkip(counts *[17]int, vals []byte) {
	var one [1 << skipBits]uint16
	code, k := 0, 0
	for l := 1; l <= min(16, skipBits); l++ {
		for i := 0; i < counts[l]; i++ {
			rs := vals[k]
			run, s := int(rs>>4), int(rs&15)
			var adv int
			switch {
			case s > 0:
				adv = run + 1
			case run == 15:
				adv = skipZRL
			default:
				adv = skipEOB
			}
			if l+s <= skipBits {
				sh := skipBits - l
				e := uint16(adv)<<8 | uint16(l+s)
				for j := 0; j < 1<<sh; j++ {
					one[code<<sh+j] = e
				}
			}
			code++
			k++
		}
		code <<= 1
	}
	for i, e := range one {
		v := uint32(e)
		l, adv := int(e&0xff), e>>8
		if e != 0 && adv != skipEOB && adv != skipZRL {
			// The second code is read from the bits after the first;
			// its entry holds only if it ends within the known ones.
			e2 := one[i<<l&(1<<skipBits-1)]
			if l2 := int(e2 & 0xff); e2 != 0 && l+l2 <= skipBits {
				v |= uint32(e2>>8)<<24 | uint32(l+l2)<<16
			}
		}
		h.skip[i] = v
	}
}

func extend(v int32, s int) int32 {
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

// bitReader reads entropy-coded data MSB first from a 64-bit accumulator,
// removing byte stuffing. At a marker (or the end of data) it feeds zero
// bytes and counts them in pad, so decoding never runs past the segment and
// overrun tells whether the decoder consumed bits that were not there.
type bitReader struct {
	data []byte
	pos  int
	acc  uint64
	n    int
	pad  int
	// loaded counts the bytes fed to acc since reset, stuffing removed
	// and padding included, so loaded*8-n is the reader's place in the
	// scan's bit stream whatever its refills were: a split scan compares
	// two readers' places by it.
	loaded int
}

func (r *bitReader) reset(data []byte, pos int) {
	*r = bitReader{data: data, pos: pos}
}

// overrun reports whether bits past the end of the segment were consumed.
// It depends only on the reader's place in the stream, not on how far
// it has read ahead, so two readers at one place agree on it.
func (r *bitReader) overrun() bool { return r.pad*8 > r.n }

// place is the number of bits consumed since reset.
func (r *bitReader) place() int64 { return int64(r.loaded)*8 - int64(r.n) }

// need32 makes at least 32 bits available, enough for any Huffman code
// (at most 16 bits) plus its magnitude bits (at most 15).
func (r *bitReader) need32() {
	if r.n < 32 {
		r.refill()
	}
}

// refill tops the accumulator up to more than 56 bits.
func (r *bitReader) refill() { r.acc, r.n = r.fill(r.acc, r.n) }

// fill is refill for the block loops, which hold the accumulator and its
// bit count in locals: they pass them in and get them back in registers.
func (r *bitReader) fill(acc uint64, n int) (uint64, int) {
	for n <= 56 {
		if p := r.pos; p+8 <= len(r.data) {
			v := binary.BigEndian.Uint64(r.data[p:])
			// No 0xff byte among the eight: take as many as fit.
			x := ^v
			if (x-0x0101010101010101)&^x&0x8080808080808080 == 0 {
				k := uint(64-n) >> 3
				acc |= v >> (64 - 8*k) << (uint(64-n) - 8*k)
				r.pos = p + int(k)
				r.loaded += int(k)
				return acc, n + int(8*k)
			}
		}
		var b byte
		if r.pos < len(r.data) {
			b = r.data[r.pos]
			if b == 0xff {
				if r.pos+1 < len(r.data) && r.data[r.pos+1] == 0 {
					r.pos += 2
				} else {
					b = 0
					r.pad++
				}
			} else {
				r.pos++
			}
		} else {
			r.pad++
		}
		acc |= uint64(b) << (56 - n)
		n += 8
		r.loaded++
	}
	return acc, n
}

// huff returns the next Huffman symbol, or -1 for a code not in h. The
// caller has made 16 bits available.
func (r *bitReader) huff(h *huffTable) int32 {
	e := h.look[r.acc>>(64-lookBits)]
	if e == 0 {
		return r.huffSlow(h)
	}
	r.acc <<= e & 31
	r.n -= int(e & 31)
	return int32(e >> 8)
}

// huffSlow stays out of line so that huff inlines into the block loops.
//
//go:noinline
func (r *bitReader) huffSlow(h *huffTable) int32 {
	code := int32(r.acc >> 48)
	for l := lookBits + 1; l <= 16; l++ {
		c := code >> (16 - l)
		if c <= h.maxcode[l] {
			r.acc <<= uint(l)
			r.n -= l
			return int32(h.vals[(c+h.valptr[l])&0xff])
		}
	}
	return -1
}

// take returns the next s bits, 1 <= s <= 16, which the caller has made
// available.
func (r *bitReader) take(s uint) int32 {
	v := int32(r.acc >> (64 - s))
	r.acc <<= s
	r.n -= int(s)
	return v
}

// decode is huff for callers that have not checked the bit count.
func (r *bitReader) decode(h *huffTable) int32 {
	r.need32()
	return r.huff(h)
}

// receive returns the next s bits (1 <= s <= 16) sign-extended as in T.81 F.2.2.1.
func (r *bitReader) receive(s int) int32 {
	r.need32()
	return extend(r.take(uint(s)), s)
}

func (r *bitReader) bits(s int) int32 {
	r.need32()
	return r.take(uint(s))
}

func (r *bitReader) bit() bool {
	if r.n == 0 {
		r.refill()
	}
	r.n--
	b := int64(r.acc) < 0
	r.acc <<= 1
	return b
}
