package imaging

import (
	"image"
	"image/draw"
	"sync"
	"testing"

	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/zoo"
)

// A 4000x3000 camera-sized JPEG, made once per test binary.
var bigJPEG = sync.OnceValues(func() ([]byte, error) {
	return testimage.JPEG(testimage.Photo(4000, 3000), 90, nil)
})

// A 640x480 JPEG (4:2:0, as Go's encoder writes), the size of a phone
// upload after the client has shrunk it.
var vgaJPEG = sync.OnceValues(func() ([]byte, error) {
	return testimage.JPEG(testimage.Photo(640, 480), 90, nil)
})

// BenchmarkPreprocessVGA is Preprocess alone on a 640x480 image of each
// common decoded type to a 224x224 ImageNet tensor.
func BenchmarkPreprocessVGA(b *testing.B) {
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
	for _, c := range []struct {
		name string
		img  image.Image
	}{
		{"jpeg", dec},
		{"jpeg_exif6", Orient(dec, 6)},
		{"rgba", photo},
		{"gray", gray},
	} {
		b.Run(c.name, func(b *testing.B) {
			dst := make([]float32, 3*224*224)
			p := zoo.DefaultPreprocess()
			for b.Loop() {
				if _, _, _, err := Preprocess(c.img, p, dst); err != nil {
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
	p := zoo.DefaultPreprocess()
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
			p := zoo.DefaultPreprocess()
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
	p := zoo.DefaultPreprocess()
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
	p := zoo.Preprocess{ResizeWidth: 160, ResizeHeight: 80, Scale: 1.0 / 255,
		Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}}
	for b.Loop() {
		if _, _, _, err := Preprocess(img, p, dst); err != nil {
			b.Fatal(err)
		}
	}
}
