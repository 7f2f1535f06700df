package nn

import (
	"math"
	"math/rand/v2"

	"github.com/lcnet/lcnet/arch"
)

// This file is a deliberately plain float64 PP-LCNet written from the
// PaddleClas definition: unfolded BatchNorm, fc.weight as [in][out],
// dropout as a (1-p) multiply. The fast path is checked against it.

// randomTensors returns a checkpoint for a with He-scaled random weights and
// BatchNorm statistics far enough from identity that folding matters.
func randomTensors(a arch.Arch, seed uint64) map[string]arch.Tensor {
	r := rand.New(rand.NewPCG(seed, 7))
	t := map[string]arch.Tensor{}
	for _, sp := range a.Tensors() {
		n := 1
		for _, d := range sp.Shape {
			n *= d
		}
		data := make([]float32, n)
		fanIn := 1
		if len(sp.Shape) == 4 {
			fanIn = sp.Shape[1] * sp.Shape[2] * sp.Shape[3]
		} else if len(sp.Shape) == 2 {
			fanIn = sp.Shape[0]
		}
		for i := range data {
			var v float64
			switch {
			case hasSuffix(sp.Name, ".bn.weight"):
				v = 0.5 + r.Float64()
			case hasSuffix(sp.Name, ".bn._variance"):
				v = 0.3 + r.Float64()
			case hasSuffix(sp.Name, ".bn._mean"), hasSuffix(sp.Name, ".bn.bias"), hasSuffix(sp.Name, ".bias"):
				v = 0.2 * r.NormFloat64()
			default:
				v = r.NormFloat64() * math.Sqrt(2/float64(fanIn))
			}
			data[i] = float32(v)
		}
		t[sp.Name] = arch.Tensor{Shape: append([]int(nil), sp.Shape...), Data: data}
	}
	return t
}

func hasSuffix(s, suf string) bool { return len(s) >= len(suf) && s[len(s)-len(suf):] == suf }

// ref64 is a CHW float64 activation.
type ref64 struct {
	c, h, w int
	v       []float64
}

func hswish64(x float64) float64 { return x * math.Min(math.Max(x+3, 0), 6) / 6 }

func refConvBN(t map[string]arch.Tensor, prefix string, x ref64, k, groups int, s arch.Stride) ref64 {
	w := t[prefix+".conv.weight"]
	cout, cinG := w.Shape[0], w.Shape[1]
	p := (k - 1) / 2
	oh, ow := (x.h+2*p-k)/s.H+1, (x.w+2*p-k)/s.W+1
	out := ref64{cout, oh, ow, make([]float64, cout*oh*ow)}
	outPerG := cout / groups
	g, b := t[prefix+".bn.weight"].Data, t[prefix+".bn.bias"].Data
	mu, va := t[prefix+".bn._mean"].Data, t[prefix+".bn._variance"].Data
	for co := 0; co < cout; co++ {
		grp := co / outPerG
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				var sum float64
				for ci := 0; ci < cinG; ci++ {
					cin := grp*cinG + ci
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := oy*s.H+ky-p, ox*s.W+kx-p
							if iy < 0 || iy >= x.h || ix < 0 || ix >= x.w {
								continue
							}
							sum += float64(w.Data[((co*cinG+ci)*k+ky)*k+kx]) * x.v[(cin*x.h+iy)*x.w+ix]
						}
					}
				}
				bn := (sum-float64(mu[co]))/math.Sqrt(float64(va[co])+1e-5)*float64(g[co]) + float64(b[co])
				out.v[(co*oh+oy)*ow+ox] = hswish64(bn)
			}
		}
	}
	return out
}

func gap64(x ref64) []float64 {
	o := make([]float64, x.c)
	for c := range o {
		for _, v := range x.v[c*x.h*x.w : (c+1)*x.h*x.w] {
			o[c] += v
		}
		o[c] /= float64(x.h * x.w)
	}
	return o
}

// dense64 is a 1x1 conv on a vector: weight [m][k] (+ bias).
func dense64(w []float32, m, k int, bias []float32, x []float64) []float64 {
	o := make([]float64, m)
	for i := range o {
		for j := 0; j < k; j++ {
			o[i] += float64(w[i*k+j]) * x[j]
		}
		if bias != nil {
			o[i] += float64(bias[i])
		}
	}
	return o
}

type refOut struct{ logits, probs, features, pooled []float64 }

func reference(a arch.Arch, t map[string]arch.Tensor, img []float32, h, w int) refOut {
	x := ref64{3, h, w, make([]float64, len(img))}
	for i, v := range img {
		x.v[i] = float64(v)
	}
	x = refConvBN(t, "conv1", x, 3, 1, a.StemStride())
	for _, b := range a.Blocks {
		p := b.Name()
		x = refConvBN(t, p+".dw_conv", x, b.Kernel, b.In, b.Stride)
		if b.SE {
			mid := arch.SEMid(b.In)
			s := dense64(t[p+".se.conv1.weight"].Data, mid, b.In, t[p+".se.conv1.bias"].Data, gap64(x))
			for i := range s {
				s[i] = math.Max(s[i], 0)
			}
			e := dense64(t[p+".se.conv2.weight"].Data, b.In, mid, t[p+".se.conv2.bias"].Data, s)
			for c := range e {
				hs := math.Min(math.Max(e[c]*0.1666667+0.5, 0), 1)
				for i := c * x.h * x.w; i < (c+1)*x.h*x.w; i++ {
					x.v[i] *= hs
				}
			}
		}
		x = refConvBN(t, p+".pw_conv", x, 1, 1, arch.Square(1))
	}
	var o refOut
	o.pooled = gap64(x)
	o.features = o.pooled
	in := o.pooled
	if a.UseLastConv {
		f := dense64(t["last_conv.weight"].Data, a.ClassExpand, a.LastChannels(), nil, o.pooled)
		for i := range f {
			f[i] = hswish64(f[i])
		}
		o.features = f
		in = make([]float64, len(f))
		for i := range f {
			in[i] = f[i] * (1 - a.DropoutProb)
		}
	}
	fw, fb := t["fc.weight"], t["fc.bias"]
	o.logits = make([]float64, a.ClassNum)
	for c := range o.logits {
		s := float64(fb.Data[c])
		for i := range in {
			s += float64(fw.Data[i*a.ClassNum+c]) * in[i]
		}
		o.logits[c] = s
	}
	mx := math.Inf(-1)
	for _, v := range o.logits {
		mx = math.Max(mx, v)
	}
	var sum float64
	o.probs = make([]float64, len(o.logits))
	for i, v := range o.logits {
		o.probs[i] = math.Exp(v - mx)
		sum += o.probs[i]
	}
	for i := range o.probs {
		o.probs[i] /= sum
	}
	return o
}
