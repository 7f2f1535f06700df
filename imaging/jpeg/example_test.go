package jpeg_test

import (
	"fmt"
	"image"
	"os"

	"github.com/lcnet/lcnet/imaging/jpeg"
)

// A classifier that resizes to a 32-pixel short side decodes this 101x75
// photo at 1/2: ceil(75/2) = 38 >= 32 but ceil(75/4) = 19 < 32.
func Example() {
	data, err := os.ReadFile("testdata/base420.jpg")
	if err != nil {
		panic(err)
	}
	cfg, err := jpeg.DecodeConfig(data)
	if err != nil {
		panic(err)
	}
	short := 32
	dstW := (cfg.Width*short + cfg.Height - 1) / cfg.Height
	s := jpeg.ScaleFor(cfg.Width, cfg.Height, dstW, short)
	img, err := jpeg.Decode(data, jpeg.Options{Scale: s, MaxPixels: 50_000_000, MaxBytes: 256 << 20})
	if err != nil {
		panic(err)
	}
	m := img.(*image.YCbCr)
	fmt.Println(cfg.Width, cfg.Height, s, m.Bounds().Dx(), m.Bounds().Dy(), m.SubsampleRatio)
	// Output: 101 75 2 51 38 YCbCrSubsampleRatio420
}
