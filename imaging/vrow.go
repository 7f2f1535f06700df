package imaging

import (
	"fmt"

	"github.com/lcnet/lcnet/arch"
)

// vrow is cv2's vertical pass (VResizeLinearVec_32s8u) on two horizontally
// resized packed rows, then NormalizeImage and ToCHWImage for output row y.
// Per channel, both rows are shifted right by 4 to fit int16, multiplied
// keeping the high 16 bits, then rounded by 2 bits, 22 bits of scale in
// all. The weights are not negative and sum to about 2048, so the result
// is already within 0-255 and min only guards the table index.
//
// On a CPU with AVX2 the pixels up to the last multiple of 8 go through
// vrowWide, which computes the same integers and then the normalisation
// itself instead of reading the table: the same three float32 operations
// in the same order, so the same bits.
func (pp *Preprocessor) vrow(tensor []float32, y, w, h int, r0, r1 []uint64, b0, b1 int32) {
	plane := h * w
	n := pp.norm
	pr := tensor[n.plane[0]*plane+y*w:][:w]
	pg := tensor[n.plane[1]*plane+y*w:][:w]
	pb := tensor[n.plane[2]*plane+y*w:][:w]
	r0, r1 = r0[:w], r1[:w]
	u0, u1 := uint64(b0), uint64(b1)
	x := 0
	if pp.wide {
		x = vrowWide(pr, pg, pb, r0, r1, u0, u1, &n.wide)
	}
	vrowScalar(pr[x:], pg[x:], pb[x:], r0[x:], r1[x:], u0, u1, n)
}

// vrowScalar is vrow's loop for any length. Output planes are in RGB
// order: the shifts below are constants, which the compiler turns into
// plain shifts (a variable one costs a compare and a mask on amd64), and
// BGR just swaps two planes.
func vrowScalar(pr, pg, pb []float32, r0, r1 []uint64, u0, u1 uint64, n *normalizer) {
	lr, lg, lb := &n.rgb[0], &n.rgb[1], &n.rgb[2]
	pg, pb = pg[:len(pr)], pb[:len(pr)]
	r0, r1 = r0[:len(pr)], r1[:len(pr)]
	const m = 0x7fff
	const s0, s1, s2 = 4, laneBits + 4, 2*laneBits + 4
	for x := range pr {
		p0, p1 := r0[x], r1[x]
		pr[x] = lr[min(((p0>>s0&m)*u0>>16+(p1>>s0&m)*u1>>16+2)>>2, 255)]
		pg[x] = lg[min(((p0>>s1&m)*u0>>16+(p1>>s1&m)*u1>>16+2)>>2, 255)]
		pb[x] = lb[min(((p0>>s2&m)*u0>>16+(p1>>s2&m)*u1>>16+2)>>2, 255)]
	}
}

// normalizer maps an 8-bit value of output channel c to
// (v*scale - mean[c]) / std[c] computed in float32 exactly as NumPy does,
// through a lookup table. It is kept by source channel: rgb[k] is the
// table of RGB channel k, and plane[k] the output channel it goes to.
type normalizer struct {
	rgb   [3][256]float32
	plane [3]int
	wide  wideNorm
}

// wideNorm is the table's formula for vrowWide, each constant repeated
// for the eight lanes of a vector (AVX2 has no broadcast operand).
type wideNorm struct {
	scale     [8]float32
	mean, std [3][8]float32 // by RGB channel, as normalizer.rgb
}

func newNormalizer(p arch.Preprocess) (*normalizer, error) {
	n := &normalizer{}
	switch p.ChannelOrder {
	case "", "RGB", "rgb":
		n.plane = [3]int{0, 1, 2}
	case "BGR", "bgr":
		n.plane = [3]int{2, 1, 0}
	default:
		return nil, fmt.Errorf("preprocess: channel order %q is not RGB or BGR", p.ChannelOrder)
	}
	scale := float32(p.Scale)
	if p.Scale == 0 {
		// NormalizeImage's default when the config gives no scale.
		scale = float32(1.0 / 255.0)
	}
	for c := range 3 {
		if p.Std[c] == 0 {
			return nil, fmt.Errorf("preprocess: std[%d] is 0", c)
		}
	}
	for k, c := range n.plane {
		mean, std := float32(p.Mean[c]), float32(p.Std[c])
		for v := range 256 {
			// The conversions stop the compiler fusing into an FMA, which
			// NumPy does not do.
			n.rgb[k][v] = float32(float32(float32(v)*scale)-mean) / std
		}
		for i := range 8 {
			n.wide.mean[k][i], n.wide.std[k][i] = mean, std
		}
	}
	for i := range 8 {
		n.wide.scale[i] = scale
	}
	return n, nil
}
