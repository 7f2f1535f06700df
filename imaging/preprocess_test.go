package imaging

import (
	"errors"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/testimage"
)

// raw makes Preprocess return the resized 8-bit values unchanged.
func raw(p arch.Preprocess) arch.Preprocess {
	p.Scale, p.Mean, p.Std, p.ChannelOrder = 1, [3]float64{}, [3]float64{1, 1, 1}, "RGB"
	return p
}

// refLinear is cv2.resize INTER_LINEAR written plainly in float64: pixel
// centres at half-integers, source position clamped to the image, two taps
// per axis, no antialiasing. It returns the full dw x dh image, CHW.
func refLinear(img image.Image, dw, dh int) [3][]float64 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	tap := func(d, s, dl int) (int, int, float64) {
		f := (float64(d)+0.5)*float64(s)/float64(dl) - 0.5
		f = max(f, 0)
		i := int(math.Floor(f))
		if i >= s-1 {
			return s - 1, s - 1, 0
		}
		return i, i + 1, f - float64(i)
	}
	var out [3][]float64
	for c := range out {
		out[c] = make([]float64, dw*dh)
	}
	px := func(x, y int) [3]float64 {
		r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return [3]float64{float64(r >> 8), float64(g >> 8), float64(bl >> 8)}
	}
	for y := range dh {
		y0, y1, wy := tap(y, sh, dh)
		for x := range dw {
			x0, x1, wx := tap(x, sw, dw)
			p00, p01, p10, p11 := px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1)
			for c := range 3 {
				top := p00[c]*(1-wx) + p01[c]*wx
				bot := p10[c]*(1-wx) + p11[c]*wx
				out[c][y*dw+x] = top*(1-wy) + bot*wy
			}
		}
	}
	return out
}

func TestResizeMatchesReference(t *testing.T) {
	for _, c := range []struct {
		name           string
		img            image.Image
		p              arch.Preprocess
		rw, rh, x0, y0 int // resized size and crop offset the reference must use
	}{
		{"resize_short 256 crop 224 from 997x601", testimage.Photo(997, 601), arch.DefaultPreprocess(), 425, 256, 100, 16},
		{"portrait 601x997", testimage.Photo(601, 997), arch.DefaultPreprocess(), 256, 425, 16, 100},
		{"text line 640x64 to 160x80", testimage.Photo(640, 64), arch.Preprocess{ResizeWidth: 160, ResizeHeight: 80}, 160, 80, 0, 0},
		{"upscale 50x30 to 160x80", testimage.Photo(50, 30), arch.Preprocess{ResizeWidth: 160, ResizeHeight: 80}, 160, 80, 0, 0},
		{"exact half 512 to 256", testimage.Photo(512, 512), arch.Preprocess{ResizeShort: 256}, 256, 256, 0, 0},
		{"odd ratio 333x217 to 97x61", testimage.Photo(333, 217), arch.Preprocess{ResizeWidth: 97, ResizeHeight: 61}, 97, 61, 0, 0},
		{"identity", testimage.Photo(40, 30), arch.Preprocess{}, 40, 30, 0, 0},
		{"sub-image", testimage.Photo(300, 200).SubImage(image.Rect(17, 9, 283, 190)), arch.DefaultPreprocess(), 376, 256, 76, 16},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, h, w, err := Preprocess(c.img, raw(c.p), nil)
			if err != nil {
				t.Fatal(err)
			}
			wantH, wantW := c.rh, c.rw
			if c.p.CropWidth > 0 {
				wantH, wantW = c.p.CropHeight, c.p.CropWidth
			}
			if h != wantH || w != wantW {
				t.Fatalf("output %dx%d, want %dx%d", w, h, wantW, wantH)
			}
			ref := refLinear(c.img, c.rw, c.rh)
			var worst float64
			off := 0
			for ch := range 3 {
				for y := range h {
					for x := range w {
						d := math.Abs(float64(got[ch*h*w+y*w+x]) - ref[ch][(y+c.y0)*c.rw+x+c.x0])
						worst = max(worst, d)
						if d > 0.5 {
							off++
						}
					}
				}
			}
			// 11-bit weights and cv2's truncating vertical pass may move a
			// value by one step, never more.
			if worst >= 1 {
				t.Fatalf("max |tensor - float64 reference| = %.3f, want < 1 (floor or ceil of the exact value)", worst)
			}
			t.Logf("max deviation %.3f; %d of %d values differ from the rounded reference by one step", worst, off, 3*h*w)
		})
	}
}

// TestResizeKnownCV2 pins values cv2.resize gives for tiny inputs, worked
// through its fixed-point arithmetic by hand.
func TestResizeKnownCV2(t *testing.T) {
	row := func(v ...uint8) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, len(v), 1))
		copy(g.Pix, v)
		return g
	}
	for _, c := range []struct {
		name string
		img  image.Image
		w    int
		want []float32
	}{
		{"shrink 4 to 2", row(0, 255, 0, 255), 2, []float32{128, 128}},
		{"grow 2 to 4", row(0, 255), 4, []float32{0, 64, 191, 255}},
		{"grow 3 to 5", row(10, 20, 200), 5, []float32{10, 14, 20, 128, 200}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _, _, err := Preprocess(c.img, raw(arch.Preprocess{ResizeWidth: c.w, ResizeHeight: 1}), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slicesEqual(got[:c.w], c.want) {
				t.Fatalf("resized %v, want %v", got[:c.w], c.want)
			}
		})
	}
}

func slicesEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNearest(t *testing.T) {
	img := testimage.Photo(37, 23)
	got, h, w, err := Preprocess(img, raw(arch.Preprocess{ResizeWidth: 80, ResizeHeight: 9, Interpolation: "nearest"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	for y := range h {
		for x := range w {
			// cv2 INTER_NEAREST: floor(d * src/dst), no half-pixel shift.
			sx, sy := min(x*37/80, 36), min(y*23/9, 22)
			c := img.RGBAAt(sx, sy)
			if got[y*w+x] != float32(c.R) || got[h*w+y*w+x] != float32(c.G) || got[2*h*w+y*w+x] != float32(c.B) {
				t.Fatalf("(%d,%d) = %v, want source (%d,%d) %v", x, y, got[y*w+x], sx, sy, c)
			}
		}
	}
}

// TestResizeShortRounding checks PaddleClas' int(round(side * percent)):
// Python 3 rounds halves to even.
func TestResizeShortRounding(t *testing.T) {
	for _, c := range []struct {
		sw, sh, short int
		w, h          int
	}{
		{301, 256, 128, 150, 128}, // 150.5 -> 150
		{303, 256, 128, 152, 128}, // 151.5 -> 152
		{256, 303, 128, 128, 152},
		{333, 500, 256, 256, 384}, // 384.38 -> 384
		{1, 7, 3, 3, 21},
		{4000, 3000, 256, 341, 256}, // 341.33 -> 341
	} {
		img := image.NewGray(image.Rect(0, 0, c.sw, c.sh))
		_, h, w, err := Preprocess(img, raw(arch.Preprocess{ResizeShort: c.short}), nil)
		if err != nil {
			t.Fatal(err)
		}
		if w != c.w || h != c.h {
			t.Errorf("%dx%d resize_short %d = %dx%d, want %dx%d", c.sw, c.sh, c.short, w, h, c.w, c.h)
		}
	}
}

// TestCropOffsets checks CropImage's (img - crop) // 2 offsets.
func TestCropOffsets(t *testing.T) {
	for _, c := range []struct {
		sw, sh, cw, ch, x0, y0 int
	}{
		{257, 256, 224, 224, 16, 16},
		{227, 226, 224, 224, 1, 1},
		{224, 224, 224, 224, 0, 0},
		{300, 100, 10, 99, 145, 0},
	} {
		img := testimage.Photo(c.sw, c.sh)
		got, h, w, err := Preprocess(img, raw(arch.Preprocess{CropWidth: c.cw, CropHeight: c.ch}), nil)
		if err != nil {
			t.Fatal(err)
		}
		if h != c.ch || w != c.cw {
			t.Fatalf("output %dx%d, want %dx%d", w, h, c.cw, c.ch)
		}
		for _, p := range []image.Point{{0, 0}, {w - 1, h - 1}, {w / 2, h / 3}} {
			s := img.RGBAAt(p.X+c.x0, p.Y+c.y0)
			if got[p.Y*w+p.X] != float32(s.R) || got[2*h*w+p.Y*w+p.X] != float32(s.B) {
				t.Fatalf("%dx%d crop %dx%d: output %v is not source %v", c.sw, c.sh, c.cw, c.ch, p, p.Add(image.Pt(c.x0, c.y0)))
			}
		}
	}
}

func TestNormalize(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 300, 260))
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []uint8{10, 128, 250, 255})
	}
	p := arch.DefaultPreprocess()
	for _, order := range []string{"RGB", "BGR"} {
		p.ChannelOrder = order
		got, h, w, err := Preprocess(img, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		vals := [3]float64{10, 128, 250}
		if order == "BGR" {
			vals = [3]float64{250, 128, 10}
		}
		for c := range 3 {
			want := (vals[c]/255 - p.Mean[c]) / p.Std[c]
			for _, v := range got[c*h*w : (c+1)*h*w] {
				if math.Abs(float64(v)-want) > 1e-5 {
					t.Fatalf("%s channel %d = %v, want %v", order, c, v, want)
				}
			}
		}
	}
}

// TestPreprocessOrientedView checks reading through an *Oriented view gives
// exactly what a rotated copy gives.
func TestPreprocessOrientedView(t *testing.T) {
	src := testimage.Photo(403, 251)
	for o := 1; o <= 8; o++ {
		view := Orient(src, o)
		b := view.Bounds()
		cp := image.NewRGBA(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				cp.Set(x, y, view.At(x, y))
			}
		}
		p := arch.DefaultPreprocess()
		a, _, _, err := Preprocess(view, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		c, _, _, err := Preprocess(cp, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slicesEqual(a, c) {
			t.Fatalf("orientation %d: view and copy preprocess differently", o)
		}
	}
}

func TestPreprocessReusesDst(t *testing.T) {
	dst := make([]float32, 3*224*224+5)
	got, _, _, err := Preprocess(testimage.Photo(300, 300), arch.DefaultPreprocess(), dst)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &dst[0] || len(got) != 3*224*224 {
		t.Fatal("Preprocess did not reuse dst")
	}
}

func TestPreprocessErrors(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 50))
	for _, c := range []struct {
		name string
		p    arch.Preprocess
		msg  string
	}{
		{"crop larger than image", arch.Preprocess{CropWidth: 101, CropHeight: 10, Std: [3]float64{1, 1, 1}}, "larger than"},
		{"half crop", arch.Preprocess{CropWidth: 10, Std: [3]float64{1, 1, 1}}, "needs both"},
		{"half resize", arch.Preprocess{ResizeHeight: 10, Std: [3]float64{1, 1, 1}}, "needs both"},
		{"interpolation", arch.Preprocess{Interpolation: "bicubic", Std: [3]float64{1, 1, 1}}, "bicubic"},
		{"channel order", arch.Preprocess{ChannelOrder: "RGBA", Std: [3]float64{1, 1, 1}}, "RGBA"},
		{"zero std", arch.Preprocess{Std: [3]float64{1, 0, 1}}, "std[1]"},
		{"huge output", arch.Preprocess{ResizeWidth: 100000, ResizeHeight: 100000, Std: [3]float64{1, 1, 1}}, "want 0 to 2048"},
		{"4096 resize", arch.Preprocess{ResizeWidth: 4096, ResizeHeight: 4096, Std: [3]float64{1, 1, 1}}, "resize width is 4096"},
		{"4096 crop", arch.Preprocess{ResizeShort: 256, CropWidth: 224, CropHeight: 4096, Std: [3]float64{1, 1, 1}}, "crop height is 4096"},
	} {
		_, _, _, err := Preprocess(img, c.p, nil)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.msg)
		}
	}
	strip := image.NewGray(image.Rect(0, 0, 1, 100000))
	if _, _, _, err := Preprocess(strip, arch.Preprocess{ResizeShort: 256, Std: [3]float64{1, 1, 1}}, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("1x100000 strip under resize_short 256: %v, want ErrTooLarge", err)
	}
	if _, _, _, err := Preprocess(image.NewRGBA(image.Rectangle{}), arch.DefaultPreprocess(), nil); err == nil {
		t.Error("empty image: no error")
	}
}
