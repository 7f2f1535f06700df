package imaging

import (
	"context"
	"image"
	"image/draw"
	"sync"
	"syscall"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/testimage"
)

// A 4000x3000 camera-sized JPEG, made once per test binary.
var bigJPEG = sync.OnceValues(func() ([]byte, error) {
	return testimage.JPEG(testimage.Photo(4000, 3000), 90, nil)
})

// cpuPerOp reports the process's CPU time per iteration as cpu-ns/op
// when the returned function runs after the loop: on a machine shared with
// other work, wall time per op varies several-fold while CPU time does not.
func cpuPerOp(b *testing.B) func() {
	start := cpuNanos(b)
	return func() { b.ReportMetric(float64(cpuNanos(b)-start)/float64(b.N), "cpu-ns/op") }
}

func cpuNanos(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// A 640x480 JPEG (4:2:0, as Go's encoder writes), the size of a phone
// upload after the client has shrunk it.
var vgaJPEG = sync.OnceValues(func() ([]byte, error) {
	return testimage.JPEG(testimage.Photo(640, 480), 90, nil)
})

type benchImage struct {
	name string
	img  image.Image
}

// vgaImages are a 640x480 photo as each common decoded type.
func vgaImages(b *testing.B) []benchImage {
	data, err := vgaJPEG()
	if err != nil {
		b.Fatal(err)
	}
	dec, err := Decode(data, 0)
	if err != nil {
		b.Fatal(err)
	}
	photo := testimage.Photo(640, 480)
	gray := image.NewGray(photo.Rect)
	draw.Draw(gray, gray.Rect, photo, image.Point{}, draw.Src)
	return []benchImage{{"jpeg", dec}, {"jpeg_exif6", Orient(dec, 6)}, {"rgba", photo}, {"gray", gray}}
}

// BenchmarkPreprocessVGA is Preprocess alone on a 640x480 image of each
// common decoded type to a 224x224 ImageNet tensor.
func BenchmarkPreprocessVGA(b *testing.B) {
	for _, c := range vgaImages(b) {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]float32, 3*224*224)
			p := arch.DefaultPreprocess()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, _, _, err := Preprocess(c.img, p, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPreprocessorVGA is BenchmarkPreprocessVGA through a
// Preprocessor kept across calls, as a server keeps one per model.
func BenchmarkPreprocessorVGA(b *testing.B) {
	for _, c := range vgaImages(b) {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]float32, 3*224*224)
			pp, err := NewPreprocessor(arch.DefaultPreprocess())
			if err != nil {
				b.Fatal(err)
			}
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, _, _, err := pp.Preprocess(c.img, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodePreprocessVGA(b *testing.B) {
	data, err := vgaJPEG()
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 3*224*224)
	p := arch.DefaultPreprocess()
	defer cpuPerOp(b)()
	for b.Loop() {
		img, err := Decode(data, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, _, err := Preprocess(img, p, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJPEG12Mpx(b *testing.B) {
	data, err := bigJPEG()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, err := Decode(data, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreprocess12Mpx is the cost Preprocess adds after decoding: a
// 4000x3000 *image.YCbCr to a 224x224 ImageNet tensor.
func BenchmarkPreprocess12Mpx(b *testing.B) {
	for _, o := range []int{1, 6} {
		b.Run([]string{1: "upright", 6: "exif6"}[o], func(b *testing.B) {
			data, err := bigJPEG()
			if err != nil {
				b.Fatal(err)
			}
			img, err := Decode(data, 0)
			if err != nil {
				b.Fatal(err)
			}
			img = Orient(img, o)
			dst := make([]float32, 3*224*224)
			p := arch.DefaultPreprocess()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, _, _, err := Preprocess(img, p, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodePreprocess12Mpx(b *testing.B) {
	data, err := bigJPEG()
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 3*224*224)
	p := arch.DefaultPreprocess()
	defer cpuPerOp(b)()
	for b.Loop() {
		img, err := Decode(data, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, _, err := Preprocess(img, p, dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreprocessTextLine(b *testing.B) {
	var img image.Image = testimage.TextLine(640, 64, "The quick brown fox jumps over the lazy dog 0123")
	dst := make([]float32, 3*80*160)
	p := arch.Preprocess{ResizeWidth: 160, ResizeHeight: 80, Scale: 1.0 / 255,
		Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}}
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, _, _, err := Preprocess(img, p, dst); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPreprocessEncodedTextLinePNG is the server's work on TestLoad's
// upload in api: a 320x48 RGB PNG text line to the 80x160 text-line
// input, decode included (the PNG fast path).
func BenchmarkPreprocessEncodedTextLinePNG(b *testing.B) {
	data, err := testimage.Encode("png", testimage.TextLine(320, 48, "Invoice total: 1,234.56 EUR"))
	if err != nil {
		b.Fatal(err)
	}
	pp, err := NewPreprocessor(arch.Preprocess{ResizeWidth: 160, ResizeHeight: 80, Scale: 1.0 / 255,
		Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}})
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]float32, 3*80*160)
	b.ReportAllocs()
	defer cpuPerOp(b)()
	for b.Loop() {
		if _, _, _, err := pp.PreprocessEncoded(context.Background(), data, DecodeOptions{}, dst); err != nil {
			b.Fatal(err)
		}
	}
}
