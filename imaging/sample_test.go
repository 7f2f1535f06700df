package imaging

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

// TestSamplerMatchesAt checks each fast path of the sampler against the
// generic image.At path, on every in-memory layout the decoders produce,
// including sub-rectangles (non-zero Min, stride larger than the width).
func TestSamplerMatchesAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := image.Rect(3, 5, 20, 14)
	fill := func(b []uint8) {
		for i := range b {
			b[i] = uint8(rng.IntN(256))
		}
	}
	rgba := image.NewRGBA(r)
	fill(rgba.Pix)
	for i := 3; i < len(rgba.Pix); i += 4 { // keep it validly premultiplied
		a := rgba.Pix[i]
		for c := 1; c <= 3; c++ {
			rgba.Pix[i-c] = uint8(int(rgba.Pix[i-c]) * int(a) / 255)
		}
	}
	nrgba := image.NewNRGBA(r)
	fill(nrgba.Pix)
	gray := image.NewGray(r)
	fill(gray.Pix)
	gray16 := image.NewGray16(r)
	fill(gray16.Pix)
	nrgba64 := image.NewNRGBA64(r)
	fill(nrgba64.Pix)
	rgba64 := image.NewRGBA64(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			a := uint16(rng.IntN(0x10000))
			v := func() uint16 { return uint16(uint32(rng.IntN(0x10000)) * uint32(a) / 0xffff) }
			rgba64.SetRGBA64(x, y, color.RGBA64{v(), v(), v(), a})
		}
	}
	cmyk := image.NewCMYK(r)
	fill(cmyk.Pix)
	pal := image.NewPaletted(r, color.Palette{color.RGBA{10, 20, 30, 255}, color.NRGBA{200, 100, 50, 128}, color.Gray{77}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(rng.IntN(4)) // 3 is past the palette
	}
	var imgs = map[string]image.Image{
		"rgba": rgba, "nrgba": nrgba, "gray": gray, "gray16": gray16,
		"nrgba64": nrgba64, "rgba64": rgba64, "cmyk": cmyk, "paletted": pal,
		"alpha (generic)": func() image.Image { a := image.NewAlpha(r); fill(a.Pix); return a }(),
	}
	// Only the ratios libjpeg replicates: the filtered ones (4:2:0, 4:2:2,
	// 4:4:0, and NYCbCrA's 4:2:0) are TestFancyUpsampling's.
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		m := image.NewYCbCr(r, ratio)
		fill(m.Y)
		fill(m.Cb)
		fill(m.Cr)
		imgs["ycbcr "+ratio.String()] = m
	}
	nya := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio444)
	fill(nya.Y)
	fill(nya.Cb)
	fill(nya.Cr)
	fill(nya.A)
	imgs["nycbcra"] = nya
	// Chroma rows of two samples are replicated, not filtered, by libjpeg.
	narrow := image.NewYCbCr(image.Rect(0, 0, 4, 6), image.YCbCrSubsampleRatio420)
	fill(narrow.Y)
	fill(narrow.Cb)
	fill(narrow.Cr)
	imgs["ycbcr 4:2:0 4 wide"] = narrow

	for name, img := range imgs {
		t.Run(name, func(t *testing.T) {
			for _, sub := range []image.Image{img, img.(interface {
				SubImage(image.Rectangle) image.Image
			}).SubImage(image.Rect(6, 7, 15, 13))} {
				b := sub.Bounds()
				var xs, ys []int
				for y := b.Min.Y; y < b.Max.Y; y++ {
					for x := b.Min.X; x < b.Max.X; x++ {
						xs, ys = append(xs, x), append(ys, y)
					}
				}
				got := make([]uint8, 3*len(xs))
				newSampler(sub).points(xs, ys, got)
				for i := range xs {
					var want [3]uint8 // At panics past a palette; the sampler reads black
					if pal, ok := sub.(*image.Paletted); !ok || int(pal.ColorIndexAt(xs[i], ys[i])) < len(pal.Palette) {
						want = toRGB(sub.At(xs[i], ys[i]))
					}
					for c := range 3 {
						if absDiff(got[3*i+c], want[c]) > 1 {
							t.Fatalf("(%d,%d): sampler %v, At %v", xs[i], ys[i], got[3*i:3*i+3], want)
						}
					}
				}
			}
		})
	}
}

// refUpsample is libjpeg-turbo's jdsample.c fancy upsamplers written as its
// loops are, over whole rows with explicit first/last column cases: the
// full-resolution plane of component p (stride cs) of a w x h image.
func refUpsample(p []uint8, cs, w, h int, ratio image.YCbCrSubsampleRatio) []uint8 {
	cw, ch := w, h
	switch ratio {
	case image.YCbCrSubsampleRatio420:
		cw, ch = (w+1)/2, (h+1)/2
	case image.YCbCrSubsampleRatio422:
		cw = (w + 1) / 2
	case image.YCbCrSubsampleRatio440:
		ch = (h + 1) / 2
	}
	in := func(x, y int) int { return int(p[min(max(y, 0), ch-1)*cs+x]) } // context rows replicate
	out := make([]uint8, 2*cw*2*ch)
	ow := 2 * cw
	set := func(x, y, v int) { out[y*ow+x] = uint8(v) }
	switch ratio {
	case image.YCbCrSubsampleRatio420: // h2v2_fancy_upsample
		for y := range ch {
			for v := range 2 {
				far := y - 1
				if v == 1 {
					far = y + 1
				}
				sum := func(x int) int { return 3*in(x, y) + in(x, far) }
				oy := 2*y + v
				set(0, oy, (sum(0)*4+8)>>4)
				set(1, oy, (sum(0)*3+sum(1)+7)>>4)
				for x := 1; x < cw-1; x++ {
					set(2*x, oy, (sum(x)*3+sum(x-1)+8)>>4)
					set(2*x+1, oy, (sum(x)*3+sum(x+1)+7)>>4)
				}
				set(2*cw-2, oy, (sum(cw-1)*3+sum(cw-2)+8)>>4)
				set(2*cw-1, oy, (sum(cw-1)*4+7)>>4)
			}
		}
		return out
	case image.YCbCrSubsampleRatio422: // h2v1_fancy_upsample
		ow = 2 * cw
		out = out[:ow*ch]
		for y := range ch {
			set(0, y, in(0, y))
			set(1, y, (in(0, y)*3+in(1, y)+2)>>2)
			for x := 1; x < cw-1; x++ {
				set(2*x, y, (in(x, y)*3+in(x-1, y)+1)>>2)
				set(2*x+1, y, (in(x, y)*3+in(x+1, y)+2)>>2)
			}
			set(2*cw-2, y, (in(cw-1, y)*3+in(cw-2, y)+1)>>2)
			set(2*cw-1, y, in(cw-1, y))
		}
		return out
	default: // h1v2_fancy_upsample
		ow = cw
		out = out[:ow*2*ch]
		for y := range ch {
			for x := range cw {
				set(x, 2*y, (3*in(x, y)+in(x, y-1)+1)>>2)
				set(x, 2*y+1, (3*in(x, y)+in(x, y+1)+2)>>2)
			}
		}
		return out
	}
}

func TestFancyUpsampling(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440} {
		for _, size := range [][2]int{{9, 7}, {16, 10}, {5, 3}} {
			w, h := size[0], size[1]
			m := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
			for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
				for i := range p {
					p[i] = uint8(rng.IntN(256))
				}
			}
			cb := refUpsample(m.Cb, m.CStride, w, h, ratio)
			cr := refUpsample(m.Cr, m.CStride, w, h, ratio)
			ow := w
			if ratio != image.YCbCrSubsampleRatio440 {
				ow = 2 * ((w + 1) / 2)
			}
			var xs, ys []int
			for y := range h {
				for x := range w {
					xs, ys = append(xs, x), append(ys, y)
				}
			}
			got := make([]uint8, 3*len(xs))
			newSampler(m).points(xs, ys, got)
			for i := range xs {
				x, y := xs[i], ys[i]
				r, g, b := jpegYCbCrToRGB(m.Y[m.YOffset(x, y)], cb[y*ow+x], cr[y*ow+x])
				if [3]uint8(got[3*i:3*i+3]) != [3]uint8{r, g, b} {
					t.Fatalf("%v %dx%d (%d,%d): sampler %v, libjpeg loops %v", ratio, w, h, x, y, got[3*i:3*i+3], [3]uint8{r, g, b})
				}
			}
		}
	}
}

// TestJPEGColorConversion checks libjpeg's fixed-point conversion against
// the JFIF equations in float64: within one level everywhere.
func TestJPEGColorConversion(t *testing.T) {
	for y := 0; y < 256; y += 5 {
		for cb := 0; cb < 256; cb += 3 {
			for cr := 0; cr < 256; cr += 3 {
				r, g, b := jpegYCbCrToRGB(uint8(y), uint8(cb), uint8(cr))
				fy, fcb, fcr := float64(y), float64(cb)-128, float64(cr)-128
				want := [3]float64{fy + 1.402*fcr, fy - 0.344136*fcb - 0.714136*fcr, fy + 1.772*fcb}
				for c, v := range [3]uint8{r, g, b} {
					if d := float64(v) - min(max(want[c], 0), 255); d > 1 || d < -1 {
						t.Fatalf("YCbCr(%d,%d,%d) channel %d = %d, JFIF %.2f", y, cb, cr, c, v, want[c])
					}
				}
			}
		}
	}
}
