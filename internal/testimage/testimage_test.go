package testimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"testing"

	"golang.org/x/image/tiff"
)

func TestTextLineInk(t *testing.T) {
	img := TextLine(640, 64, "The quick brown fox jumps over the lazy dog 0123")
	// Ink must span most of the width and a good part of the height, with
	// a white margin on every side, like a detector's crop of a line.
	minX, minY, maxX, maxY, dark := 640, 64, -1, -1, 0
	for y := range 64 {
		for x := range 640 {
			if img.RGBAAt(x, y).R < 128 {
				dark++
				minX, minY, maxX, maxY = min(minX, x), min(minY, y), max(maxX, x), max(maxY, y)
			}
		}
	}
	if maxX-minX < 500 || maxY-minY < 30 || minX == 0 || minY == 0 || maxX == 639 || maxY == 63 {
		t.Fatalf("ink box (%d,%d)-(%d,%d) does not fill the line with margins", minX, minY, maxX, maxY)
	}
	if f := float64(dark) / (640 * 64); f < 0.05 || f > 0.4 {
		t.Fatalf("%.2f of pixels are ink, not like printed text", f)
	}
	// Long text shrinks to fit the width instead of being clipped.
	long := TextLine(200, 64, "The quick brown fox jumps over the lazy dog 0123")
	if long.RGBAAt(0, 32).R < 128 || long.RGBAAt(199, 32).R < 128 {
		t.Fatal("long text touches the edges")
	}
}

// TestDeterministic checks repeated calls give identical pixels (digests
// are not pinned: the rasteriser's float math may differ across CPUs).
func TestDeterministic(t *testing.T) {
	sum := func(img *image.RGBA) string { return fmt.Sprintf("%x", sha256.Sum256(img.Pix)) }
	for name, mk := range map[string]func() *image.RGBA{
		"TextLine": func() *image.RGBA { return TextLine(160, 80, "abc") },
		"Photo":    func() *image.RGBA { return Photo(64, 48) },
	} {
		if a, b := sum(mk()), sum(mk()); a != b {
			t.Errorf("%s: digests %s and %s", name, a, b)
		}
	}
}

func TestRotate180(t *testing.T) {
	q := Quadrants(10, 6)
	r := Rotate180(q)
	if r.RGBAAt(0, 0) != BottomRight || r.RGBAAt(9, 0) != BottomLeft || r.RGBAAt(0, 5) != TopRight || r.RGBAAt(9, 5) != TopLeft {
		t.Fatal("corners not swapped")
	}
	if !bytes.Equal(Rotate180(r).Pix, q.Pix) {
		t.Fatal("two half turns are not the identity")
	}
}

func TestJPEGEXIFSegment(t *testing.T) {
	exif := EXIF(6, binary.BigEndian)
	data, err := JPEG(Quadrants(16, 16), 90, exif)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0xff, 0xd8, 0xff, 0xe1, 0, byte(len(exif) + 8)}, "Exif\x00\x00"...)
	if !bytes.HasPrefix(data, append(want, exif...)) {
		t.Fatalf("APP1 segment not right after SOI: % x", data[:40])
	}
	if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("JPEG with EXIF does not decode: %v", err)
	}
}

// TestTIFFRoundTrip checks the hand-written TIFF encoder against
// x/image/tiff's decoder in both byte orders.
func TestTIFFRoundTrip(t *testing.T) {
	src := Photo(13, 7)
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, o := range []int{0, 6} {
			img, err := tiff.Decode(bytes.NewReader(TIFF(src, order, o)))
			if err != nil {
				t.Fatalf("%v orientation %d: %v", order, o, err)
			}
			for y := range 7 {
				for x := range 13 {
					if got := color.RGBAModel.Convert(img.At(x, y)); got != src.At(x, y) {
						t.Fatalf("%v (%d,%d) = %v, want %v", order, x, y, got, src.At(x, y))
					}
				}
			}
		}
	}
}

func TestEncodeFormats(t *testing.T) {
	src := Quadrants(8, 8)
	for _, f := range []string{"jpeg", "png", "gif", "bmp", "tiff"} {
		data, err := Encode(f, src)
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := image.DecodeConfig(bytes.NewReader(data))
		if err == nil && got != f {
			t.Errorf("%s encoded as %s", f, got)
		}
	}
	if _, err := Encode("webp", src); err == nil {
		t.Error("webp: no error")
	}
}
