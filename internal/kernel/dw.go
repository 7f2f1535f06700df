package kernel

import "fmt"

// Depthwise computes a per-channel k x k convolution (k odd) with zero
// padding (k-1)/2 and stride (sh, sw), fused with bias and act: in is
// c x h x w, weights c x k x k, out c x oh x ow. With a pool the channels
// are split over its threads.
func Depthwise(pool *Pool, in []float32, c, h, w int, weights []float32, k, sh, sw int, bias []float32, act Act, out []float32) {
	dwWith(active, pool, in, c, h, w, weights, k, sh, sw, bias, act, out)
}

// outSize is the output extent of a padded (k-1)/2 convolution.
func outSize(n, k, s int) int { return (n+k-1-k)/s + 1 }

func dwWith(im *impl, pool *Pool, in []float32, c, h, w int, weights []float32, k, sh, sw int, bias []float32, act Act, out []float32) {
	if k < 1 || k%2 == 0 || sh < 1 || sw < 1 || c < 1 || h < 1 || w < 1 {
		panic(fmt.Sprintf("kernel.Depthwise: c=%d h=%d w=%d k=%d stride=(%d,%d)", c, h, w, k, sh, sw))
	}
	oh, ow := outSize(h, k, sh), outSize(w, k, sw)
	if len(in) < c*h*w || len(weights) < c*k*k || len(out) < c*oh*ow || (bias != nil && len(bias) < c) {
		panic(fmt.Sprintf("kernel.Depthwise: c=%d h=%d w=%d k=%d: len(in)=%d len(weights)=%d len(out)=%d len(bias)=%d",
			c, h, w, k, len(in), len(weights), len(out), len(bias)))
	}
	t := dwTask{im: im, in: in, c: c, h: h, w: w, weights: weights, k: k, sh: sh, sw: sw, bias: bias, act: act, out: out}
	if pool.Threads() <= 1 || c*oh*ow*k*k < serialFlops {
		t.run(0, 1)
		return
	}
	pool.mu.Lock()
	pool.dwT = t
	pool.parallel(&pool.dwT)
	pool.dwT = dwTask{}
	pool.mu.Unlock()
}

type dwTask struct {
	im        *impl
	in        []float32
	c, h, w   int
	weights   []float32
	k, sh, sw int
	bias      []float32
	act       Act
	out       []float32
}

func (t *dwTask) run(tid, threads int) {
	oh, ow := outSize(t.h, t.k, t.sh), outSize(t.w, t.k, t.sw)
	hw, kk := t.h*t.w, t.k*t.k
	for ch := t.c * tid / threads; ch < t.c*(tid+1)/threads; ch++ {
		bv := float32(0)
		if t.bias != nil {
			bv = t.bias[ch]
		}
		dwPlane(t.im, t.in[ch*hw:(ch+1)*hw], t.h, t.w, t.weights[ch*kk:(ch+1)*kk], t.k, t.sh, t.sw,
			bv, t.act, t.out[ch*oh*ow:(ch+1)*oh*ow])
	}
}

// dwPlane convolves one channel, a row at a time: each output row gets
// k*k shifted rows of the input added into it while it sits in L1, and
// for stride 1 each of those is a vector axpy.
func dwPlane(im *impl, in []float32, h, w int, wts []float32, k, sh, sw int, bias float32, act Act, out []float32) {
	p := (k - 1) / 2
	oh, ow := outSize(h, k, sh), outSize(w, k, sw)
	for oy := 0; oy < oh; oy++ {
		orow := out[oy*ow : (oy+1)*ow]
		clear(orow)
		for ky := 0; ky < k; ky++ {
			iy := oy*sh - p + ky
			if iy < 0 || iy >= h {
				continue
			}
			irow := in[iy*w : (iy+1)*w]
			for kx := 0; kx < k; kx++ {
				// Output columns whose input column ox*sw-p+kx lies in [0, w).
				if w-1+p-kx < 0 {
					continue
				}
				lo := 0
				if p > kx {
					lo = (p - kx + sw - 1) / sw
				}
				hi := min(ow, (w-1+p-kx)/sw+1)
				if lo >= hi {
					continue
				}
				wv := wts[ky*k+kx]
				ix := lo*sw - p + kx
				if sw == 1 {
					im.axpy(orow[lo:hi], irow[ix:ix+hi-lo], wv)
					continue
				}
				o := orow[lo:hi]
				for i := range o {
					o[i] += wv * irow[ix+i*sw]
				}
			}
		}
		im.epilogue(orow, bias, act)
	}
}
