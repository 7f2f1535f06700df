package imaging

import (
	"image"
	"math"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/testimage"
)

// boxDown averages s x s blocks of img (partial blocks at the right and
// bottom edges average what they have), as a DCT-domain 1/s JPEG decode
// approximately does, giving a ceil(W/s) x ceil(H/s) image.
func boxDown(img image.Image, s int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	xs, ys := make([]int, w), make([]int, h)
	for i := range xs {
		xs[i] = i
	}
	for i := range ys {
		ys[i] = i
	}
	full := gather(img, xs, ys) // libjpeg's conversion, as Preprocess sees it
	out := image.NewRGBA(image.Rect(0, 0, (w+s-1)/s, (h+s-1)/s))
	for y := range out.Rect.Dy() {
		for x := range out.Rect.Dx() {
			var sum [3]int
			n := 0
			for yy := y * s; yy < min((y+1)*s, h); yy++ {
				for xx := x * s; xx < min((x+1)*s, w); xx++ {
					p := full[3*(yy*w+xx):]
					sum[0], sum[1], sum[2] = sum[0]+int(p[0]), sum[1]+int(p[1]), sum[2]+int(p[2])
					n++
				}
			}
			o := out.Pix[out.PixOffset(x, y):]
			for c := range 3 {
				o[c] = uint8((sum[c] + n/2) / n)
			}
			o[3] = 0xff
		}
	}
	return out
}

// TestPreprocessScaled compares PreprocessScaled on simulated 1/2, 1/4 and
// 1/8 decodes of a JPEG photo with Preprocess on the full decode, in 8-bit
// levels. The full path resizes with cv2's two-tap bilinear and so aliases
// fine texture that the reduced decode has averaged away; the bounds hold
// with room for that on Photo's sawtooth and checkerboard.
func TestPreprocessScaled(t *testing.T) {
	const W, H = 1203, 901 // odd sizes: partial blocks at every scale
	smooth := image.NewRGBA(image.Rect(0, 0, W, H))
	for y := range H {
		for x := range W {
			fx, fy := float64(x)/W, float64(y)/H
			o := smooth.Pix[smooth.PixOffset(x, y):]
			o[0] = uint8(127.5 + 127*math.Sin(6*fx+2*fy))
			o[1] = uint8(127.5 + 127*math.Cos(3*fx-5*fy))
			o[2] = uint8(255 * fx * fy)
			o[3] = 0xff
		}
	}
	decoded := map[string]image.Image{}
	for name, img := range map[string]image.Image{"photo": testimage.Photo(W, H), "smooth": smooth} {
		data, err := testimage.JPEG(img, 90, nil)
		if err != nil {
			t.Fatal(err)
		}
		if decoded[name], err = Decode(data, 0); err != nil {
			t.Fatal(err)
		}
	}
	p := raw(arch.DefaultPreprocess())
	for _, c := range []struct {
		img        string
		s          int
		o          int
		mean, maxd float64 // bounds on |scaled - exact| in levels
	}{
		{"photo", 1, 1, 0, 0},
		{"photo", 1, 6, 0, 0},
		// Photo's sawtooth and checkerboard alias under the full path's
		// two-tap bilinear at a 4.7x shrink; the reduced decode has
		// averaged them, so the difference grows with s.
		{"photo", 2, 1, 5, 64},
		{"photo", 2, 7, 5, 64},
		{"photo", 4, 1, 12, 128},
		{"photo", 4, 6, 12, 128},
		{"photo", 8, 1, 24, 160},
		{"photo", 8, 3, 24, 160},
		// On smooth content only the geometry can differ.
		{"smooth", 2, 1, 0.3, 4},
		{"smooth", 4, 6, 0.5, 4},
		{"smooth", 8, 1, 0.6, 4},
		{"smooth", 8, 8, 0.6, 4},
	} {
		dec := decoded[c.img]
		full := Orient(dec, c.o)
		small := image.Image(dec)
		if c.s > 1 {
			small = boxDown(dec, c.s)
		}
		small = Orient(small, c.o)
		fb := full.Bounds()
		want, wh, ww, err := Preprocess(full, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, gh, gw, err := PreprocessScaled(small, fb.Dx(), fb.Dy(), p, nil)
		if err != nil {
			t.Fatalf("1/%d exif %d: %v", c.s, c.o, err)
		}
		if gh != wh || gw != ww {
			t.Fatalf("1/%d exif %d: %dx%d tensor, want %dx%d", c.s, c.o, gw, gh, ww, wh)
		}
		var sum, mx float64
		var ch [3]float64
		for i := range want {
			d := math.Abs(float64(got[i] - want[i]))
			sum += d
			ch[i*3/len(want)] += d
			mx = max(mx, d)
		}
		mean := sum / float64(len(want))
		t.Logf("%s 1/%d exif %d: %v scaled, mean |diff| %.3f levels (R %.3f G %.3f B %.3f), max %.0f", c.img, c.s, c.o, small.Bounds().Size(), mean,
			3*ch[0]/float64(len(want)), 3*ch[1]/float64(len(want)), 3*ch[2]/float64(len(want)), mx)
		if mean > c.mean || mx > c.maxd {
			t.Errorf("1/%d exif %d: mean |diff| %.3f, max %.0f levels; want at most %.1f and %.0f", c.s, c.o, mean, mx, c.mean, c.maxd)
		}
	}
}

func TestPreprocessScaledSize(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 50, 38))
	p := arch.DefaultPreprocess()
	for _, c := range []struct {
		w, h int
		ok   bool
	}{
		{50, 38, true}, {100, 75, true}, {399, 300, true}, {400, 297, true}, {401, 300, false}, {38, 50, false}, {150, 113, false},
	} {
		_, _, _, err := PreprocessScaled(img, c.w, c.h, p, nil)
		if (err == nil) != c.ok {
			t.Errorf("50x38 as a scaled decode of %dx%d: error %v, want ok=%v", c.w, c.h, err, c.ok)
		}
	}
}
