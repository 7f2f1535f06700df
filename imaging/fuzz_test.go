package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/testimage"
)

// fuzzMaxPixels keeps fuzzed images small enough to decode quickly.
const fuzzMaxPixels = 1 << 16

// FuzzDecode feeds arbitrary bytes to Decode and whatever decodes to
// Preprocess: neither may panic, errors must carry one of the three kinds,
// and nothing larger than the limit may come back. The committed corpus in
// testdata/fuzz/FuzzDecode holds one small file of each format.
func FuzzDecode(f *testing.F) {
	small := testimage.Quadrants(8, 6)
	for _, format := range []string{"jpeg", "png", "gif", "bmp", "tiff"} {
		b, err := testimage.Encode(format, small)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	jpg, err := testimage.JPEG(small, 80, testimage.EXIF(6, binary.BigEndian))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(jpg)
	f.Add(testimage.TIFF(small, binary.BigEndian, 8))
	if files, err := filepath.Glob("testdata/*.*"); err == nil {
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil && filepath.Ext(p) != ".md" {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data, fuzzMaxPixels)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		b := img.Bounds()
		if b.Dx()*b.Dy() > fuzzMaxPixels || b.Empty() {
			t.Fatalf("decoded %v past the limit", b)
		}
		if _, _, _, err := DecodeConfig(bytes.NewReader(data)); err != nil {
			t.Fatalf("Decode succeeded but DecodeConfig failed: %v", err)
		}
		for _, p := range []arch.Preprocess{arch.DefaultPreprocess(), {ResizeWidth: 16, ResizeHeight: 8, Std: [3]float64{1, 1, 1}}} {
			if _, _, _, err := Preprocess(img, p, nil); err != nil {
				t.Fatalf("preprocess %v: %v", b, err)
			}
		}
	})
}

// FuzzPreprocessFast feeds arbitrary bytes to PreprocessEncoded in fast
// mode with a 16x8 resize, so any JPEG of 32x16 or more takes the reduced
// decode: no panic, only typed errors; and in exact mode, which decodes
// only the pixels the resize reads, the tensor of a whole decode. The committed corpus in
// testdata/fuzz/FuzzPreprocessFast holds baseline, progressive, restart
// and EXIF-rotated JPEGs large enough for 1/2, 1/4 and 1/8 decodes.
func FuzzPreprocessFast(f *testing.F) {
	for _, name := range []string{"prog420.jpg", "restart420.jpg", "prog422_restart.jpg", "base444.jpg", "gray_prog.jpg", "ycck_prog.jpg"} {
		if b, err := os.ReadFile(filepath.Join("jpeg", "testdata", name)); err == nil {
			f.Add(b)
		}
	}
	jpg, err := testimage.JPEG(testimage.Photo(130, 70), 80, testimage.EXIF(6, binary.BigEndian))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(jpg)
	pps := make([]*Preprocessor, 0, 2)
	for _, p := range []arch.Preprocess{{ResizeWidth: 16, ResizeHeight: 8, Std: [3]float64{1, 1, 1}}, {ResizeShort: 8, CropWidth: 8, CropHeight: 8, Std: [3]float64{1, 1, 1}}} {
		pp, err := NewPreprocessor(p)
		if err != nil {
			f.Fatal(err)
		}
		pps = append(pps, pp)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, pp := range pps {
			x, h, w, err := pp.PreprocessEncoded(t.Context(), data, DecodeOptions{MaxPixels: fuzzMaxPixels, Mode: DecodeFast}, nil)
			if err != nil {
				if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			if len(x) != 3*h*w {
				t.Fatalf("%d values for %dx%d", len(x), w, h)
			}
		}
		// Exact mode decodes only the pixels the resize reads; the
		// tensor must be the one a whole decode gives.
		for _, pp := range pps {
			got, _, _, err := pp.PreprocessEncoded(t.Context(), data, DecodeOptions{MaxPixels: fuzzMaxPixels, Mode: DecodeExact}, nil)
			img, derr := Decode(data, fuzzMaxPixels)
			var want []float32
			if derr == nil {
				want, _, _, derr = pp.Preprocess(img, nil)
			}
			if (err == nil) != (derr == nil) {
				t.Fatalf("exact mode: error %v, whole decode and preprocess: %v", err, derr)
			}
			if err == nil && !slices.Equal(got, want) {
				t.Fatalf("exact mode: the tensor differs from a whole decode's")
			}
		}
	})
}

// FuzzEXIF checks the EXIF reader on arbitrary TIFF-structured blocks and
// on arbitrary JPEG segment chains.
func FuzzEXIF(f *testing.F) {
	for o := 1; o <= 8; o++ {
		f.Add(testimage.EXIF(o, binary.LittleEndian))
		f.Add(testimage.EXIF(o, binary.BigEndian))
	}
	f.Add([]byte("II\x2a\x00\x08\x00\x00\x00\xff\xff"))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x20Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if o, err := exifOrientation(data); err == nil && (o < 1 || o > 8) {
			t.Fatalf("orientation %d without an error", o)
		}
		if o := jpegOrientation(data); o < 1 || o > 8 {
			t.Fatalf("JPEG orientation %d", o)
		}
		if e := jpegEXIF(data); e != nil && !bytes.Contains(data, e) {
			t.Fatal("EXIF block not from the input")
		}
	})
}
