package nn

import "github.com/x448/float16"

// The compute routines below are straightforward Go, written to the same
// shapes as the internal/kernel contract (CHW planes, M x K row-major
// weights, bias and activation fused) so that they can be swapped for the
// kernel package call for call. They are the reference-speed path, not
// tuned kernels.

// act is a fused activation.
type act uint8

const (
	actNone act = iota
	actReLU
	actHardSwish   // x * relu6(x+3) / 6
	actHardSigmoid // clip(x*0.1666667 + 0.5, 0, 1), Paddle's slope
)

func applyAct(x []float32, a act) {
	switch a {
	case actReLU:
		for i, v := range x {
			if v < 0 {
				x[i] = 0
			}
		}
	case actHardSwish:
		for i, v := range x {
			t := v + 3
			if t < 0 {
				t = 0
			} else if t > 6 {
				t = 6
			}
			x[i] = v * t / 6
		}
	case actHardSigmoid:
		for i, v := range x {
			t := v*0.1666667 + 0.5
			if t < 0 {
				t = 0
			} else if t > 1 {
				t = 1
			}
			x[i] = t
		}
	}
}

// matrix is an M x K weight matrix in row-major order, held either as
// float32 or as IEEE fp16 bits; exactly one of f32 and f16 is set.
type matrix struct {
	m, k int
	f32  []float32
	f16  []uint16
}

func newMatrix(w []float32, m, k int, half bool) matrix {
	if !half {
		return matrix{m: m, k: k, f32: w}
	}
	h := make([]uint16, len(w))
	for i, v := range w {
		h[i] = uint16(float16.Fromfloat32(v))
	}
	return matrix{m: m, k: k, f16: h}
}

// sizeBytes is the resident size of the weights.
func (a *matrix) sizeBytes() int { return 4*len(a.f32) + 2*len(a.f16) }

// row returns row i as float32, widening fp16 into scratch (len >= k).
func (a *matrix) row(i int, scratch []float32) []float32 {
	if a.f32 != nil {
		return a.f32[i*a.k : (i+1)*a.k]
	}
	r := scratch[:a.k]
	for j, h := range a.f16[i*a.k : (i+1)*a.k] {
		r[j] = float16.Frombits(h).Float32()
	}
	return r
}

// gemm computes c[M][n] = act(a · b[K][n] + bias[M]). A 1x1 conv on a CHW
// plane is gemm with n = H*W; a matrix-vector product is n = 1. scratch
// holds one widened fp16 row (len >= K).
func gemm(a *matrix, b []float32, n int, bias []float32, ac act, c []float32, scratch []float32) {
	for i := 0; i < a.m; i++ {
		out := c[i*n : (i+1)*n]
		var b0 float32
		if bias != nil {
			b0 = bias[i]
		}
		row := a.row(i, scratch)
		if n == 1 {
			var s float32
			for k, w := range row {
				s += w * b[k]
			}
			out[0] = s + b0
		} else {
			for j := range out {
				out[j] = b0
			}
			for k, w := range row {
				if w == 0 {
					continue
				}
				in := b[k*n : (k+1)*n]
				for j, v := range in {
					out[j] += w * v
				}
			}
		}
		applyAct(out, ac)
	}
}

// outSize is the output length of a k-wide conv with padding (k-1)/2.
func outSize(in, k, stride int) int { return (in+2*((k-1)/2)-k)/stride + 1 }

// depthwise is a per-channel k x k conv with zero padding (k-1)/2, stride
// (sh, sw), bias and activation. in is c*h*w, weights c*k*k, out c*oh*ow.
func depthwise(in []float32, c, h, w int, weights []float32, k, sh, sw int, bias []float32, ac act, out []float32) {
	p := (k - 1) / 2
	oh, ow := outSize(h, k, sh), outSize(w, k, sw)
	for ch := 0; ch < c; ch++ {
		plane := in[ch*h*w : (ch+1)*h*w]
		kw := weights[ch*k*k : (ch+1)*k*k]
		o := out[ch*oh*ow : (ch+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			orow := o[oy*ow : (oy+1)*ow]
			for i := range orow {
				orow[i] = bias[ch]
			}
			for ky := 0; ky < k; ky++ {
				iy := oy*sh + ky - p
				if iy < 0 || iy >= h {
					continue
				}
				irow := plane[iy*w : (iy+1)*w]
				for kx := 0; kx < k; kx++ {
					wv := kw[ky*k+kx]
					// ox range with 0 <= ox*sw + kx - p < w.
					lo := 0
					if kx < p {
						lo = (p - kx + sw - 1) / sw
					}
					num := w - 1 + p - kx
					if num < 0 {
						continue // this tap only ever sees the right padding
					}
					hi := num / sw
					if hi >= ow {
						hi = ow - 1
					}
					ix := lo*sw + kx - p
					for ox := lo; ox <= hi; ox++ {
						orow[ox] += wv * irow[ix]
						ix += sw
					}
				}
			}
			applyAct(orow, ac)
		}
	}
}

// conv is a dense k x k conv (the stem), padding (k-1)/2, stride (sh, sw);
// a is cout x (cin*k*k) in Paddle's [cout][cin][ky][kx] order.
func conv(in []float32, cin, h, w int, a *matrix, k, sh, sw int, bias []float32, ac act, out []float32, scratch []float32) {
	p := (k - 1) / 2
	oh, ow := outSize(h, k, sh), outSize(w, k, sw)
	for co := 0; co < a.m; co++ {
		wt := a.row(co, scratch)
		o := out[co*oh*ow : (co+1)*oh*ow]
		for oy := 0; oy < oh; oy++ {
			orow := o[oy*ow : (oy+1)*ow]
			for i := range orow {
				orow[i] = bias[co]
			}
			for ci := 0; ci < cin; ci++ {
				plane := in[ci*h*w : (ci+1)*h*w]
				for ky := 0; ky < k; ky++ {
					iy := oy*sh + ky - p
					if iy < 0 || iy >= h {
						continue
					}
					irow := plane[iy*w : (iy+1)*w]
					for kx := 0; kx < k; kx++ {
						wv := wt[(ci*k+ky)*k+kx]
						lo := 0
						if kx < p {
							lo = (p - kx + sw - 1) / sw
						}
						num := w - 1 + p - kx
						if num < 0 {
							continue // this tap only ever sees the right padding
						}
						hi := num / sw
						if hi >= ow {
							hi = ow - 1
						}
						ix := lo*sw + kx - p
						for ox := lo; ox <= hi; ox++ {
							orow[ox] += wv * irow[ix]
							ix += sw
						}
					}
				}
			}
			applyAct(orow, ac)
		}
	}
}

// globalAvgPool sets out[c] to the mean of plane c.
func globalAvgPool(in []float32, c, hw int, out []float32) {
	for ch := 0; ch < c; ch++ {
		var s float64
		for _, v := range in[ch*hw : (ch+1)*hw] {
			s += float64(v)
		}
		out[ch] = float32(s / float64(hw))
	}
}

// scaleChannels multiplies plane c of x by s[c] (the SE excitation).
func scaleChannels(x []float32, c, hw int, s []float32) {
	for ch := 0; ch < c; ch++ {
		p := x[ch*hw : (ch+1)*hw]
		for i := range p {
			p[i] *= s[ch]
		}
	}
}
