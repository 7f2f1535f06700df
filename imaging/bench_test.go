package imaging

import (
	"image"
	"sync"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/testimage"
)

// A 4000x3000 camera-sized JPEG, made once per test binary.
var bigJPEG = sync.OnceValues(func() ([]byte, error) {
	return testimage.JPEG(testimage.Photo(4000, 3000), 90, nil)
})

func BenchmarkDecodeJPEG12Mpx(b *testing.B) {
	data, err := bigJPEG()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
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
	for b.Loop() {
		if _, _, _, err := Preprocess(img, p, dst); err != nil {
			b.Fatal(err)
		}
	}
}
