package imaging

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/testimage"
)

// refPreprocess is Preprocess written per pixel: every tap read through
// gather (the sampler), cv2's horizontal pass in int32 and vlerp. It is
// the oracle the row readers and packed passes must match bit for bit.
func refPreprocess(t *testing.T, img image.Image, p arch.Preprocess) []float32 {
	t.Helper()
	pp, err := NewPreprocessor(p)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	rw, rh, x0, y0, w, h, err := pp.geometry(b.Dx(), b.Dy())
	if err != nil {
		t.Fatal(err)
	}
	s := new(scratch)
	var xa, ya axis
	xa.set(s, b.Dx(), b.Dx(), rw, x0, w, 1, 0, pp.nearest, false)
	ya.set(s, b.Dy(), b.Dy(), rh, y0, h, 1, 0, pp.nearest, true)
	grid := gather(img, xa.src, ya.src)
	nx := len(xa.src)
	out := make([]float32, 3*h*w)
	for y := range h {
		for x := range w {
			var hr [2][3]int32
			for k, j := range []int32{ya.i0[y], ya.i1[y]} {
				p0 := grid[3*(int(j)*nx+int(xa.i0[x])):]
				p1 := grid[3*(int(j)*nx+int(xa.i1[x])):]
				for c := range 3 {
					hr[k][c] = int32(p0[c])*xa.w0[x] + int32(p1[c])*xa.w1[x]
				}
			}
			for k, c := range pp.norm.plane {
				out[c*h*w+y*w+x] = pp.norm.rgb[k][vlerp(hr[0][k], hr[1][k], ya.w0[y], ya.w1[y])]
			}
		}
	}
	return out
}

// vlerp is cv2's VResizeLinearVec_32s8u on one channel, plainly.
func vlerp(s0, s1, b0, b1 int32) uint8 {
	v := ((s0>>4)*b0>>16 + (s1>>4)*b1>>16 + 2) >> 2
	return uint8(min(max(v, 0), 255))
}

func ycbcrOf(src image.Image, r image.Rectangle, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	m := image.NewYCbCr(r, ratio)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := src.At(x-r.Min.X, y-r.Min.Y).(color.RGBA)
			yy, cb, cr := color.RGBToYCbCr(c.R, c.G, c.B)
			m.Y[m.YOffset(x, y)] = yy
			// Later pixels of a chroma block overwrite earlier ones,
			// which is as good a chroma sample as any for this test.
			m.Cb[m.COffset(x, y)], m.Cr[m.COffset(x, y)] = cb, cr
		}
	}
	return m
}

// TestRowsMatchPerPixel checks the row readers, orientation mapping and
// packed passes against refPreprocess on every fast-path type, every
// chroma ratio (at odd origins and widths that switch libjpeg's filters
// off), all eight orientations and both interpolations.
func TestRowsMatchPerPixel(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	var imgs []image.Image
	for _, r := range []image.Rectangle{image.Rect(0, 0, 123, 77), image.Rect(3, 5, 160, 101), image.Rect(-8, -4, 61, 90), image.Rect(1, 0, 4, 9), image.Rect(0, 0, 2, 3)} {
		photo := testimage.Photo(r.Dx(), r.Dy())
		for _, ratio := range ratios {
			imgs = append(imgs, ycbcrOf(photo, r, ratio))
		}
		ya := image.NewNYCbCrA(r, image.YCbCrSubsampleRatio420)
		copy(ya.Y, ycbcrOf(photo, r, image.YCbCrSubsampleRatio420).Y)
		imgs = append(imgs, ya)
		for _, m := range []draw.Image{image.NewGray(r), image.NewRGBA(r), image.NewNRGBA(r), image.NewCMYK(r), image.NewGray16(r), image.NewPaletted(r, testPalette())} {
			draw.Draw(m, r, photo, image.Point{}, draw.Src)
			imgs = append(imgs, m)
		}
		// Translucent RGBA exercises un-premultiplying.
		tr := image.NewRGBA(r)
		for i := range tr.Pix {
			tr.Pix[i] = photo.Pix[i] / 2
		}
		imgs = append(imgs, tr)
	}
	ps := []arch.Preprocess{
		{ResizeShort: 40, CropWidth: 32, CropHeight: 32, Scale: 1.0 / 255, Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}},
		{ResizeWidth: 48, ResizeHeight: 24, Scale: 1.0 / 255, Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.5, 0.5, 0.5}, ChannelOrder: "BGR"},
		{ResizeWidth: 37, ResizeHeight: 150, Interpolation: "nearest", Std: [3]float64{1, 1, 1}},
	}
	for i, img := range imgs {
		for o := 1; o <= 8; o++ {
			for k, p := range ps {
				name := fmt.Sprintf("%d_%T_%v_o%d_p%d", i, img, img.Bounds(), o, k)
				v := Orient(img, o)
				got, _, _, err := Preprocess(v, p, nil)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want := refPreprocess(t, v, p)
				for j := range want {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("%s: value %d is %v, per-pixel reference %v", name, j, got[j], want[j])
					}
				}
			}
		}
	}
}

func testPalette() color.Palette {
	var p color.Palette
	for i := range 64 {
		p = append(p, color.RGBA{uint8(i * 4), uint8(255 - i*4), uint8(i * 37), 255})
	}
	return p
}

// TestPreprocessParallelMatchesSerial checks that resizing the output rows
// on two goroutines (a JPEG's planes with a core to spare) gives the
// serial tensor bit for bit, for each chroma ratio, odd origins and sizes,
// every orientation (the swapped ones stay serial) and output heights on
// both sides of minParallelRows.
func TestPreprocessParallelMatchesSerial(t *testing.T) {
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440}
	ps := []arch.Preprocess{
		arch.DefaultPreprocess(),
		{ResizeWidth: 48, ResizeHeight: 150, Scale: 1.0 / 255, Std: [3]float64{1, 1, 1}},
		{ResizeWidth: 80, ResizeHeight: 63, Interpolation: "nearest", Std: [3]float64{1, 1, 1}},
	}
	for _, r := range []image.Rectangle{image.Rect(0, 0, 301, 257), image.Rect(3, 5, 260, 611)} {
		photo := testimage.Photo(r.Dx(), r.Dy())
		for _, ratio := range ratios {
			img := ycbcrOf(photo, r, ratio)
			for o := 1; o <= 8; o++ {
				for k, p := range ps {
					pp, err := NewPreprocessor(p)
					if err != nil {
						t.Fatal(err)
					}
					v := Orient(img, o)
					want, _, _, err := pp.preprocess(v, false, nil)
					if err != nil {
						t.Fatal(err)
					}
					got, _, _, err := pp.preprocess(v, true, nil)
					if err != nil {
						t.Fatal(err)
					}
					for j := range want {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
							t.Fatalf("%v %v o%d p%d: value %d is %v on two goroutines, %v on one", r, ratio, o, k, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
}
