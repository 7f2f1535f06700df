package jpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// plane is one channel of a decoded image, including the padding to whole
// blocks, so scaled decodes can be compared sample for sample.
type plane struct {
	name          string
	pix           []byte
	stride        int
	w, h          int // visible size
	channel, step int // interleaved channel and bytes per pixel
}

func (p plane) at(x, y int) int { return int(p.pix[y*p.stride+x*p.step+p.channel]) }

func planes(t *testing.T, img image.Image) []plane {
	t.Helper()
	b := img.Bounds()
	switch m := img.(type) {
	case *image.Gray:
		return []plane{{"gray", m.Pix, m.Stride, b.Dx(), b.Dy(), 0, 1}}
	case *image.YCbCr:
		cr := m.COffset(b.Max.X-1, b.Max.Y-1)/m.CStride + 1
		cw := m.COffset(b.Max.X-1, b.Max.Y-1)%m.CStride + 1
		return []plane{
			{"Y", m.Y, m.YStride, b.Dx(), b.Dy(), 0, 1},
			{"Cb", m.Cb, m.CStride, cw, cr, 0, 1},
			{"Cr", m.Cr, m.CStride, cw, cr, 0, 1},
		}
	case *image.CMYK:
		var ps []plane
		for c, n := range []string{"C", "M", "Y", "K"} {
			ps = append(ps, plane{n, m.Pix, m.Stride, b.Dx(), b.Dy(), c, 4})
		}
		return ps
	case *image.RGBA:
		var ps []plane
		for c, n := range []string{"R", "G", "B"} {
			ps = append(ps, plane{n, m.Pix, m.Stride, b.Dx(), b.Dy(), c, 4})
		}
		return ps
	}
	t.Fatalf("unexpected image type %T", img)
	return nil
}

type diff struct {
	max  int
	mean float64
}

// compare returns the max and mean absolute difference of two same-size planes.
func compare(a, b plane) diff {
	var d diff
	sum := 0
	for y := 0; y < a.h; y++ {
		for x := 0; x < a.w; x++ {
			v := a.at(x, y) - b.at(x, y)
			if v < 0 {
				v = -v
			}
			sum += v
			d.max = max(d.max, v)
		}
	}
	d.mean = float64(sum) / float64(a.w*a.h)
	return d
}

// compareBox compares a scale-s plane against the s x s box average of the
// full-size plane, over the boxes that lie inside the full-size image.
func compareBox(small, full plane, s int) diff {
	var d diff
	sum, n := 0, 0
	for y := 0; y < full.h/s; y++ {
		for x := 0; x < full.w/s; x++ {
			acc := 0
			for j := 0; j < s; j++ {
				for i := 0; i < s; i++ {
					acc += full.at(x*s+i, y*s+j)
				}
			}
			avg := (acc + s*s/2) / (s * s)
			v := small.at(x, y) - avg
			if v < 0 {
				v = -v
			}
			sum += v
			n++
			d.max = max(d.max, v)
		}
	}
	if n > 0 {
		d.mean = float64(sum) / float64(n)
	}
	return d
}

type testImage struct {
	name string
	data []byte
	ref  []byte // what image/jpeg decodes for comparison
	typ  string // %T of the decoded image
}

// synthetic draws smooth gradients, edges and noise: what photos have.
func synthetic(w, h int, seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r := uint8(x * 255 / w)
			g := uint8(y * 255 / h)
			b := uint8((x ^ y) & 0xff)
			if (x/17+y/13)%2 == 0 {
				b = 255 - b
			}
			n := uint8(rng.IntN(24))
			img.SetRGBA(x, y, color.RGBA{r + n, g + n/2, b, 255})
		}
	}
	return img
}

func encoded(t testing.TB, img image.Image, q int) []byte {
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func testImages(t *testing.T) []testImage {
	// ref names a file with the same coefficients for image/jpeg to decode
	// when it cannot decode the file itself (progressive with restarts).
	files := []struct{ name, typ, ref string }{
		{"base420.jpg", "*image.YCbCr", ""}, {"base420_q98.jpg", "*image.YCbCr", ""},
		{"base444.jpg", "*image.YCbCr", ""}, {"base422.jpg", "*image.YCbCr", ""},
		{"base440.jpg", "*image.YCbCr", ""}, {"base411.jpg", "*image.YCbCr", ""},
		{"restart420.jpg", "*image.YCbCr", ""}, {"restart3b_opt.jpg", "*image.YCbCr", ""},
		{"prog420.jpg", "*image.YCbCr", ""}, {"prog444.jpg", "*image.YCbCr", ""},
		{"prog422_restart.jpg", "*image.YCbCr", "base422.jpg"},
		{"gray.jpg", "*image.Gray", ""}, {"gray_prog.jpg", "*image.Gray", ""},
		{"rgb.jpg", "*image.RGBA", ""},
		{"cmyk.jpg", "*image.CMYK", ""}, {"ycck.jpg", "*image.CMYK", ""},
		{"ycck_prog.jpg", "*image.CMYK", ""}, {"ycck_sub.jpg", "*image.CMYK", ""},
	}
	var out []testImage
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("testdata", f.name))
		if err != nil {
			t.Fatal(err)
		}
		ref := data
		if f.ref != "" {
			if ref, err = os.ReadFile(filepath.Join("testdata", f.ref)); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, testImage{f.name, data, ref, f.typ})
	}
	for _, sz := range []image.Point{{64, 48}, {97, 61}, {8, 8}, {1, 1}, {333, 17}} {
		img := synthetic(sz.X, sz.Y, uint64(sz.X))
		e := encoded(t, img, 90)
		out = append(out, testImage{fmt.Sprintf("gen420_%dx%d", sz.X, sz.Y), e, e, "*image.YCbCr"})
		gray := image.NewGray(img.Bounds())
		for i := range gray.Pix {
			gray.Pix[i] = img.Pix[4*i+1]
		}
		g := encoded(t, gray, 75)
		out = append(out, testImage{fmt.Sprintf("gengray_%dx%d", sz.X, sz.Y), g, g, "*image.Gray"})
	}
	return out
}

// TestScale1MatchesStdlib bounds the difference to image/jpeg, whose IDCT
// differs from ours only in rounding.
func TestScale1MatchesStdlib(t *testing.T) {
	for _, ti := range testImages(t) {
		t.Run(ti.name, func(t *testing.T) {
			want, err := stdjpeg.Decode(bytes.NewReader(ti.ref))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(ti.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if typ := fmt.Sprintf("%T", got); typ != ti.typ {
				t.Fatalf("type %s, want %s", typ, ti.typ)
			}
			if got.Bounds() != want.Bounds() {
				t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
			}
			if g, ok := got.(*image.YCbCr); ok && g.SubsampleRatio != want.(*image.YCbCr).SubsampleRatio {
				t.Fatalf("subsampling %v, want %v", g.SubsampleRatio, want.(*image.YCbCr).SubsampleRatio)
			}
			gp, wp := planes(t, got), planes(t, want)
			for i := range gp {
				d := compare(gp[i], wp[i])
				t.Logf("%s: max %d mean %.4f", gp[i].name, d.max, d.mean)
				// Planes differ by IDCT rounding only; YCCK's color
				// conversion amplifies it.
				maxDiff := 1
				if ti.typ == "*image.CMYK" {
					maxDiff = 3
				}
				if d.max > maxDiff || d.mean > 0.05 {
					t.Errorf("%s differs from image/jpeg: max %d mean %.4f", gp[i].name, d.max, d.mean)
				}
			}
		})
	}
}

// decodedPlanes decodes at scale s and returns the component planes before
// any color conversion or interleaving, with each plane's visible size.
func decodedPlanes(t *testing.T, data []byte, s int) []plane {
	t.Helper()
	d := &decoder{data: data, scale: s}
	if err := d.parse(false); err != nil {
		t.Fatal(err)
	}
	if d.progressive {
		if err := d.finishProgressive(); err != nil {
			t.Fatal(err)
		}
	}
	var ps []plane
	for i := 0; i < d.ncomp; i++ {
		c := &d.comp[i]
		w := ((d.width*c.h+d.hmax-1)/d.hmax + s - 1) / s
		h := ((d.height*c.v+d.vmax-1)/d.vmax + s - 1) / s
		ps = append(ps, plane{fmt.Sprint("component ", i), c.pix, c.stride, w, h, 0, 1})
	}
	return ps
}

// TestScaledMatchesBoxAverage checks that each component plane at scale s
// is the s x s box average of the full-size plane, and that Decode returns
// the size ceil(w/s) x ceil(h/s).
func TestScaledMatchesBoxAverage(t *testing.T) {
	for _, ti := range testImages(t) {
		full := decodedPlanes(t, ti.data, 1)
		for _, s := range []int{2, 4, 8} {
			t.Run(fmt.Sprintf("%s/%d", ti.name, s), func(t *testing.T) {
				img, err := Decode(ti.data, Options{Scale: s})
				if err != nil {
					t.Fatal(err)
				}
				c, err := DecodeConfig(ti.data)
				if err != nil {
					t.Fatal(err)
				}
				wantSize := image.Pt((c.Width+s-1)/s, (c.Height+s-1)/s)
				if img.Bounds().Size() != wantSize {
					t.Fatalf("size %v, want %v", img.Bounds().Size(), wantSize)
				}
				got := decodedPlanes(t, ti.data, s)
				for i := range got {
					d := compareBox(got[i], full[i], s)
					t.Logf("%s: max %d mean %.4f", got[i].name, d.max, d.mean)
					if d.max > 8 || d.mean > 0.5 {
						t.Errorf("%s differs from the box average: max %d mean %.4f", got[i].name, d.max, d.mean)
					}
				}
			})
		}
	}
}

func TestDecodeConfig(t *testing.T) {
	for _, tc := range []struct {
		file        string
		comps       int
		progressive bool
		model       color.Model
		sub         image.YCbCrSubsampleRatio
	}{
		{"base420.jpg", 3, false, color.YCbCrModel, image.YCbCrSubsampleRatio420},
		{"base411.jpg", 3, false, color.YCbCrModel, image.YCbCrSubsampleRatio411},
		{"prog422_restart.jpg", 3, true, color.YCbCrModel, image.YCbCrSubsampleRatio422},
		{"gray_prog.jpg", 1, true, color.GrayModel, 0},
		{"ycck.jpg", 4, false, color.CMYKModel, 0},
		{"rgb.jpg", 3, false, color.RGBAModel, image.YCbCrSubsampleRatio444},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		c, err := DecodeConfig(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		want := Config{Width: 101, Height: 75, Components: tc.comps, Progressive: tc.progressive, ColorModel: tc.model, Subsample: tc.sub}
		if c != want {
			t.Errorf("%s: %+v, want %+v", tc.file, c, want)
		}
	}
}

func TestScaleFor(t *testing.T) {
	for _, tc := range []struct{ sw, sh, dw, dh, want int }{
		{5120, 2880, 224, 224, 8},
		{5120, 2880, 456, 256, 8},
		{5120, 2880, 640, 360, 8},
		{5120, 2880, 641, 360, 4},
		{1000, 700, 256, 256, 2},
		{1000, 700, 224, 224, 2},
		{1000, 700, 125, 88, 8},
		{1001, 700, 126, 88, 8}, // ceil(1001/8) = 126
		{300, 200, 300, 200, 1},
		{100, 100, 200, 200, 1},
	} {
		if got := ScaleFor(tc.sw, tc.sh, tc.dw, tc.dh); got != tc.want {
			t.Errorf("ScaleFor(%d, %d, %d, %d) = %d, want %d", tc.sw, tc.sh, tc.dw, tc.dh, got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	base, err := os.ReadFile("testdata/base420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile("testdata/prog420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	arith, err := os.ReadFile("testdata/arith.jpg")
	if err != nil {
		t.Fatal(err)
	}
	var fe FormatError
	var ue UnsupportedError
	for _, tc := range []struct {
		name string
		data []byte
		opt  Options
		want func(error) bool
	}{
		{"empty", nil, Options{}, func(e error) bool { return errors.As(e, &fe) }},
		{"not jpeg", []byte("GIF89a"), Options{}, func(e error) bool { return errors.As(e, &fe) }},
		{"headers only", base[:600], Options{}, func(e error) bool { return errors.As(e, &fe) }},
		{"cut mid-scan", base[:len(base)/2], Options{}, func(e error) bool { return errors.As(e, &fe) }},
		{"cut mid-scan scale 8", base[:len(base)/2], Options{Scale: 8}, func(e error) bool { return errors.As(e, &fe) }},
		{"progressive cut mid-scan", prog[:len(prog)/2], Options{}, func(e error) bool { return errors.As(e, &fe) }},
		{"arithmetic", arith, Options{}, func(e error) bool { return errors.As(e, &ue) }},
		{"max pixels", base, Options{MaxPixels: 101*75 - 1}, func(e error) bool { return errors.Is(e, ErrTooLarge) }},
		{"max bytes", base, Options{MaxBytes: 1000}, func(e error) bool { return errors.Is(e, ErrTooLarge) }},
		{"bad scale", base, Options{Scale: 3}, func(e error) bool { return e != nil }},
	} {
		_, err := Decode(tc.data, tc.opt)
		if err == nil || !tc.want(err) {
			t.Errorf("%s: error %v (%T)", tc.name, err, err)
		}
	}
	if _, err := Decode(base, Options{MaxPixels: 101 * 75, MaxBytes: 101 * 75 * 2}); err != nil {
		t.Errorf("within budget: %v", err)
	}
}

// TestContext checks that a done context stops a decode, baseline and
// progressive, with the context's error, and that a live one does not.
func TestContext(t *testing.T) {
	for _, file := range []string{"base420.jpg", "prog420.jpg"} {
		t.Run(file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if _, err := Decode(data, Options{Context: ctx}); err != nil {
				t.Fatalf("live context: %v", err)
			}
			cancel()
			if _, err := Decode(data, Options{Context: ctx}); !errors.Is(err, context.Canceled) {
				t.Fatalf("canceled context: err = %v, want context.Canceled", err)
			}
		})
	}
}
