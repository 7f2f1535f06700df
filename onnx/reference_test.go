package onnx

import (
	"math"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/npy"
)

// refOutputs is the float64 reference forward pass, written straight from
// PaddleClas' pp_lcnet.py with BatchNorm applied unfolded, so that it
// shares no code and no folding with the exporter.
type refOutputs struct {
	logits, probs, features, pooled [][]float64
}

type fmap struct {
	c, h, w int
	v       []float64
}

func refConv(x fmap, wt arch.Tensor, bias []float32, stride arch.Stride, groups int) fmap {
	co, cig, k := wt.Shape[0], wt.Shape[1], wt.Shape[2]
	p := (k - 1) / 2
	oh := (x.h+2*p-k)/stride.H + 1
	ow := (x.w+2*p-k)/stride.W + 1
	out := fmap{c: co, h: oh, w: ow, v: make([]float64, co*oh*ow)}
	coPerGroup := co / groups
	for o := 0; o < co; o++ {
		g := o / coPerGroup
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				var s float64
				if bias != nil {
					s = float64(bias[o])
				}
				for ci := 0; ci < cig; ci++ {
					ic := g*cig + ci
					for ky := 0; ky < k; ky++ {
						iy := y*stride.H - p + ky
						if iy < 0 || iy >= x.h {
							continue
						}
						for kx := 0; kx < k; kx++ {
							ix := xx*stride.W - p + kx
							if ix < 0 || ix >= x.w {
								continue
							}
							s += x.v[(ic*x.h+iy)*x.w+ix] * float64(wt.Data[((o*cig+ci)*k+ky)*k+kx])
						}
					}
				}
				out.v[(o*oh+y)*ow+xx] = s
			}
		}
	}
	return out
}

func hardswish64(v float64) float64 { return v * math.Min(math.Max(v+3, 0), 6) / 6 }

func refConvBN(ts map[string]arch.Tensor, p string, x fmap, stride arch.Stride, groups int) fmap {
	y := refConv(x, ts[p+".conv.weight"], nil, stride, groups)
	g, b, m, v := ts[p+".bn.weight"].Data, ts[p+".bn.bias"].Data, ts[p+".bn._mean"].Data, ts[p+".bn._variance"].Data
	hw := y.h * y.w
	for c := 0; c < y.c; c++ {
		for i := c * hw; i < (c+1)*hw; i++ {
			y.v[i] = hardswish64((y.v[i]-float64(m[c]))/math.Sqrt(float64(v[c])+1e-5)*float64(g[c]) + float64(b[c]))
		}
	}
	return y
}

func refGAP(x fmap) fmap {
	out := fmap{c: x.c, h: 1, w: 1, v: make([]float64, x.c)}
	hw := x.h * x.w
	for c := 0; c < x.c; c++ {
		var s float64
		for _, v := range x.v[c*hw : (c+1)*hw] {
			s += v
		}
		out.v[c] = s / float64(hw)
	}
	return out
}

func refForward(a arch.Arch, ts map[string]arch.Tensor, x *npy.Array) refOutputs {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	var out refOutputs
	for i := 0; i < n; i++ {
		f := fmap{c: 3, h: h, w: w, v: make([]float64, 3*h*w)}
		for j := range f.v {
			f.v[j] = float64(x.Data[i*3*h*w+j])
		}
		f = refConvBN(ts, "conv1", f, a.StemStride(), 1)
		for _, b := range a.Blocks {
			p := b.Name()
			f = refConvBN(ts, p+".dw_conv", f, b.Stride, b.In)
			if b.SE {
				s := refConv(refGAP(f), ts[p+".se.conv1.weight"], ts[p+".se.conv1.bias"].Data, arch.Square(1), 1)
				for j := range s.v {
					s.v[j] = math.Max(s.v[j], 0)
				}
				s = refConv(s, ts[p+".se.conv2.weight"], ts[p+".se.conv2.bias"].Data, arch.Square(1), 1)
				hw := f.h * f.w
				for c := 0; c < f.c; c++ {
					gate := math.Min(math.Max(s.v[c]/6+0.5, 0), 1)
					for j := c * hw; j < (c+1)*hw; j++ {
						f.v[j] *= gate
					}
				}
			}
			f = refConvBN(ts, p+".pw_conv", f, arch.Square(1), 1)
		}
		gap := refGAP(f)
		pooled := append([]float64(nil), gap.v...)
		features := pooled
		head := pooled
		if a.UseLastConv {
			e := refConv(gap, ts["last_conv.weight"], nil, arch.Square(1), 1)
			features = make([]float64, len(e.v))
			head = make([]float64, len(e.v))
			for j, v := range e.v {
				features[j] = hardswish64(v)
				head[j] = features[j] * (1 - a.DropoutProb)
			}
		}
		fw, fb := ts["fc.weight"].Data, ts["fc.bias"].Data
		logits := make([]float64, a.ClassNum)
		for o := range logits {
			s := float64(fb[o])
			for j, v := range head {
				s += v * float64(fw[j*a.ClassNum+o])
			}
			logits[o] = s
		}
		mx := math.Inf(-1)
		for _, v := range logits {
			mx = math.Max(mx, v)
		}
		probs := make([]float64, len(logits))
		var sum float64
		for j, v := range logits {
			probs[j] = math.Exp(v - mx)
			sum += probs[j]
		}
		for j := range probs {
			probs[j] /= sum
			if a.MultiLabel {
				probs[j] = 1 / (1 + math.Exp(-logits[j]))
			}
		}
		out.logits = append(out.logits, logits)
		out.probs = append(out.probs, probs)
		out.features = append(out.features, features)
		out.pooled = append(out.pooled, pooled)
	}
	return out
}
