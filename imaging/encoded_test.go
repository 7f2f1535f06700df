package imaging

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/imaging/jpeg"
	"github.com/lcnet/lcnet/internal/testimage"
)

// TestPreprocessEncoded checks the fast path against what it replaces:
// where no reduced decode applies (small images, non-JPEG, exact mode) the
// tensor is Decode + Preprocess bit for bit, and where one does it is
// PreprocessScaled on imaging/jpeg's reduced decode, EXIF included.
func TestPreprocessEncoded(t *testing.T) {
	photo := testimage.Photo(1203, 901)
	jpg := func(q, o int) []byte {
		var exif []byte
		if o > 1 {
			exif = testimage.EXIF(o, binary.BigEndian)
		}
		b, err := testimage.JPEG(photo, q, exif)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	small, err := testimage.JPEG(testimage.Photo(300, 200), 90, nil)
	if err != nil {
		t.Fatal(err)
	}
	png, err := testimage.PNG(photo)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := os.ReadFile(filepath.Join("jpeg", "testdata", "prog420.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	def := arch.DefaultPreprocess()
	text := arch.Preprocess{ResizeWidth: 160, ResizeHeight: 80, Scale: 1.0 / 255, Std: [3]float64{1, 1, 1}}
	for _, c := range []struct {
		name  string
		data  []byte
		p     arch.Preprocess
		mode  DecodeMode
		scale int // the reduced decode fast mode must use; 1 the exact path, 0 ScaleFor's
	}{
		{"exact", jpg(90, 1), def, DecodeExact, 1},
		{"default is exact", jpg(90, 1), def, DecodeDefault, 1},
		{"fast 1/2", jpg(90, 1), def, DecodeFast, 2},
		{"fast exif6", jpg(90, 6), def, DecodeFast, 2},
		{"fast exif3", jpg(75, 3), def, DecodeFast, 2},
		{"fast fixed size 1/4", jpg(90, 1), text, DecodeFast, 4},
		{"fast small image", small, def, DecodeFast, 1},
		{"fast png", png, def, DecodeFast, 1},
		{"fast progressive", prog, text, DecodeFast, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			pp, err := NewPreprocessor(c.p)
			if err != nil {
				t.Fatal(err)
			}
			got, h, w, err := pp.PreprocessEncoded(t.Context(), c.data, DecodeOptions{Mode: c.mode}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var want []float32
			if c.scale == 1 {
				img, err := Decode(c.data, 0)
				if err != nil {
					t.Fatal(err)
				}
				want, _, _, err = pp.Preprocess(img, nil)
				if err != nil {
					t.Fatal(err)
				}
			} else {
				full, err := Decode(c.data, 0)
				if err != nil {
					t.Fatal(err)
				}
				b := full.Bounds()
				s := c.scale
				if s == 0 {
					rw, rh, _, _, _, _, _ := pp.geometry(b.Dx(), b.Dy())
					s = jpeg.ScaleFor(b.Dx(), b.Dy(), rw, rh)
				}
				red, err := jpeg.Decode(c.data, jpeg.Options{Scale: s})
				if err != nil {
					t.Fatal(err)
				}
				want, _, _, err = pp.PreprocessScaled(Orient(red, jpegOrientation(c.data)), b.Dx(), b.Dy(), nil)
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(got) != 3*h*w || !slices.Equal(got, want) {
				t.Errorf("%dx%d tensor differs from the reference path", w, h)
			}
		})
	}
}

// TestPreprocessEncodedErrors checks that the fast path keeps Decode's
// limits and error kinds.
func TestPreprocessEncodedErrors(t *testing.T) {
	data, err := testimage.JPEG(testimage.Photo(1000, 800), 90, nil)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := NewPreprocessor(arch.DefaultPreprocess())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		data      []byte
		maxPixels int
		want      error
	}{
		{"pixel limit", data, 500_000, ErrTooLarge},
		{"truncated", data[:len(data)/2], 0, ErrCorrupt},
		{"header only", data[:200], 0, ErrCorrupt},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []DecodeMode{DecodeExact, DecodeFast} {
				_, _, _, err := pp.PreprocessEncoded(t.Context(), c.data, DecodeOptions{MaxPixels: c.maxPixels, Mode: mode}, nil)
				if !errors.Is(err, c.want) {
					t.Errorf("%s: got %v, want %v", mode, err, c.want)
				}
			}
		})
	}
	if _, err := NewPreprocessor(arch.Preprocess{Std: [3]float64{1, 1, 1}, Decode: "quick"}); !errors.Is(err, ErrDecodeMode) {
		t.Errorf("decode mode quick: got %v", err)
	}
}

// TestPreprocessEncodedReadsOnlyTaps checks that decoding only the pixels
// the resize reads (jpeg.Options.Rows and Cols) changes no tensor: for
// every sampling layout, progressive or not, every EXIF orientation and
// both modes, PreprocessEncoded equals preprocessing a whole decode, with
// the decode pipelined (DecodeOptions.Parallel; the 1203x901 photo is
// large enough) or not.
func TestPreprocessEncodedReadsOnlyTaps(t *testing.T) {
	photo, err := testimage.JPEG(testimage.Photo(1203, 901), 90, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"photo_1203x901": photo}
	for _, f := range []string{"base420.jpg", "base422.jpg", "base440.jpg", "base411.jpg", "base444.jpg",
		"prog420.jpg", "prog444.jpg", "prog422_restart.jpg", "restart420.jpg", "gray.jpg", "gray_prog.jpg",
		"rgb.jpg", "cmyk.jpg", "ycck_sub.jpg"} {
		b, err := os.ReadFile(filepath.Join("jpeg", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	preprocesses := map[string]arch.Preprocess{
		"default": arch.DefaultPreprocess(),
		"text":    {ResizeWidth: 160, ResizeHeight: 80, Scale: 1.0 / 255, Std: [3]float64{1, 1, 1}},
		"nearest": {ResizeShort: 40, CropWidth: 32, CropHeight: 32, Interpolation: "nearest", Scale: 1.0 / 255, Std: [3]float64{1, 1, 1}},
	}
	for name, data := range files {
		for o := 1; o <= 8; o++ {
			oriented := withEXIF(data, o)
			full, err := Decode(oriented, 0)
			if err != nil {
				t.Fatal(err)
			}
			b := full.Bounds()
			for pname, p := range preprocesses {
				pp, err := NewPreprocessor(p)
				if err != nil {
					t.Fatal(err)
				}
				for _, mode := range []DecodeMode{DecodeExact, DecodeFast} {
					got, _, _, err := pp.PreprocessEncoded(t.Context(), oriented, DecodeOptions{Mode: mode}, nil)
					if err != nil {
						t.Fatalf("%s exif %d %s %s: %v", name, o, pname, mode, err)
					}
					par, _, _, err := pp.PreprocessEncoded(t.Context(), oriented, DecodeOptions{Mode: mode, Parallel: true}, nil)
					if err != nil {
						t.Fatalf("%s exif %d %s %s parallel: %v", name, o, pname, mode, err)
					}
					if !slices.Equal(par, got) {
						t.Errorf("%s exif %d %s %s: the tensor differs when decoded in parallel", name, o, pname, mode)
					}
					want, _, _, err := pp.Preprocess(full, nil)
					if err != nil {
						t.Fatal(err)
					}
					rw, rh, _, _, _, _, _ := pp.geometry(b.Dx(), b.Dy())
					if s := jpeg.ScaleFor(b.Dx(), b.Dy(), rw, rh); mode == DecodeFast && s > 1 {
						red, err := jpeg.Decode(oriented, jpeg.Options{Scale: s})
						if err != nil {
							t.Fatal(err)
						}
						if want, _, _, err = pp.PreprocessScaled(Orient(red, o), b.Dx(), b.Dy(), nil); err != nil {
							t.Fatal(err)
						}
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s exif %d %s %s: the tensor differs from a whole decode's", name, o, pname, mode)
					}
				}
			}
		}
	}
}

// withEXIF inserts an APP1 segment giving orientation o after the SOI.
func withEXIF(data []byte, o int) []byte {
	seg := append([]byte("Exif\x00\x00"), testimage.EXIF(o, binary.BigEndian)...)
	out := append([]byte{}, data[:2]...)
	out = append(out, 0xff, 0xe1)
	out = binary.BigEndian.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, data[2:]...)
}
