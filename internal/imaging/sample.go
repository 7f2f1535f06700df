package imaging

import (
	"image"
	"image/color"
)

// sampler reads individual stored pixels as 8-bit RGB straight from the
// decoders' pixel slices, so the cost of preprocessing depends on the
// output size, not the photo's. Alpha is dropped, never composited: cv2's
// IMREAD_COLOR (what PaddleClas' DecodeImage uses) strips the alpha channel
// and keeps each pixel's stored colour, so the models were trained and
// evaluated on exactly that.
type sampler struct {
	img image.Image
	pal [][3]uint8 // *image.Paletted entries as RGB
}

func newSampler(img image.Image) *sampler {
	s := &sampler{img: img}
	if p, ok := img.(*image.Paletted); ok {
		s.pal = make([][3]uint8, len(p.Palette))
		for i, c := range p.Palette {
			s.pal[i] = toRGB(c)
		}
	}
	return s
}

// toRGB drops alpha from any colour, un-premultiplying where the colour
// type is premultiplied so a half-transparent red stays red.
func toRGB(c color.Color) [3]uint8 {
	switch c := c.(type) {
	case color.NRGBA:
		return [3]uint8{c.R, c.G, c.B}
	case color.RGBA:
		return unpremul(c.R, c.G, c.B, c.A)
	case color.NRGBA64:
		return [3]uint8{uint8(c.R >> 8), uint8(c.G >> 8), uint8(c.B >> 8)}
	case color.NYCbCrA:
		// Not through RGBA(), which premultiplies and so loses the colour
		// of transparent pixels.
		r, g, b := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
		return [3]uint8{r, g, b}
	}
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return [3]uint8{uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)}
}

func unpremul(r, g, b, a uint8) [3]uint8 {
	if a == 0xff || a == 0 {
		return [3]uint8{r, g, b}
	}
	f := func(c uint8) uint8 {
		v := (uint32(c)*0xff + uint32(a)/2) / uint32(a)
		return uint8(min(v, 0xff))
	}
	return [3]uint8{f(r), f(g), f(b)}
}

// points writes the RGB of stored pixels (xs[i], ys[i]), given in the
// image's own coordinates, to out[3i:3i+3]. The type switch happens once
// per call, not per pixel.
func (s *sampler) points(xs, ys []int, out []uint8) {
	_ = out[3*len(xs)-1]
	switch m := s.img.(type) {
	case *image.YCbCr:
		ycbcrPoints(m, xs, ys, out)
	case *image.NYCbCrA:
		ycbcrPoints(&m.YCbCr, xs, ys, out)
	case *image.RGBA:
		for i, x := range xs {
			p := m.Pix[m.PixOffset(x, ys[i]):]
			c := unpremul(p[0], p[1], p[2], p[3])
			copy(out[3*i:3*i+3], c[:])
		}
	case *image.NRGBA:
		for i, x := range xs {
			p := m.Pix[m.PixOffset(x, ys[i]):]
			out[3*i], out[3*i+1], out[3*i+2] = p[0], p[1], p[2]
		}
	case *image.Gray:
		for i, x := range xs {
			v := m.Pix[m.PixOffset(x, ys[i])]
			out[3*i], out[3*i+1], out[3*i+2] = v, v, v
		}
	case *image.Gray16:
		// cv2 (libpng's strip_16) keeps the high byte of 16-bit samples.
		for i, x := range xs {
			v := m.Pix[m.PixOffset(x, ys[i])]
			out[3*i], out[3*i+1], out[3*i+2] = v, v, v
		}
	case *image.NRGBA64:
		for i, x := range xs {
			p := m.Pix[m.PixOffset(x, ys[i]):]
			out[3*i], out[3*i+1], out[3*i+2] = p[0], p[2], p[4]
		}
	case *image.CMYK:
		for i, x := range xs {
			p := m.Pix[m.PixOffset(x, ys[i]):]
			out[3*i], out[3*i+1], out[3*i+2] = color.CMYKToRGB(p[0], p[1], p[2], p[3])
		}
	case *image.Paletted:
		for i, x := range xs {
			var c [3]uint8 // an index past the palette reads as black
			if v := int(m.Pix[m.PixOffset(x, ys[i])]); v < len(s.pal) {
				c = s.pal[v]
			}
			copy(out[3*i:3*i+3], c[:])
		}
	default:
		// RGBA64 (16-bit PNG/TIFF with alpha) and anything exotic: rare
		// enough that an interface call per pixel is acceptable.
		for i, x := range xs {
			c := toRGB(s.img.At(x, ys[i]))
			copy(out[3*i:3*i+3], c[:])
		}
	}
}

func ycbcrPoints(m *image.YCbCr, xs, ys []int, out []uint8) {
	for i, x := range xs {
		y := ys[i]
		yi, ci := m.YOffset(x, y), m.COffset(x, y)
		out[3*i], out[3*i+1], out[3*i+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
	}
}
