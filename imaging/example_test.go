package imaging_test

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/internal/testimage"
)

// An upload goes through Decode (format sniffing, pixel limit, EXIF
// orientation) and then Preprocess (the manifest's PaddleClas pipeline).
func Example() {
	// A 400x300 photo taken with the camera turned: EXIF orientation 6.
	upload, err := testimage.JPEG(testimage.Photo(400, 300), 90, testimage.EXIF(6, binary.BigEndian))
	if err != nil {
		panic(err)
	}
	img, err := imaging.Decode(upload, imaging.DefaultMaxPixels)
	if err != nil {
		panic(err)
	}
	fmt.Println("displayed", img.Bounds().Dx(), "x", img.Bounds().Dy())

	x, h, w, err := imaging.Preprocess(img, arch.DefaultPreprocess(), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("tensor", len(x), "= 3 x", h, "x", w)

	_, err = imaging.Decode([]byte("not an image"), 0)
	fmt.Println(errors.Is(err, imaging.ErrUnsupported), err)
	// Output:
	// displayed 300 x 400
	// tensor 150528 = 3 x 224 x 224
	// true leading bytes "not an image" match none of JPEG, PNG, GIF, BMP, WebP, TIFF
}
