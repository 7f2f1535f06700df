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
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
		m := image.NewYCbCr(r, ratio)
		fill(m.Y)
		fill(m.Cb)
		fill(m.Cr)
		imgs["ycbcr "+ratio.String()] = m
	}
	nya := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420)
	fill(nya.Y)
	fill(nya.Cb)
	fill(nya.Cr)
	fill(nya.A)
	imgs["nycbcra"] = nya

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
