package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/internal/testimage"
)

// Stored quadrants of testimage.Quadrants.
const (
	qA = iota // top left
	qB        // top right
	qC        // bottom left
	qD        // bottom right
)

var quadColor = [4]color.RGBA{testimage.TopLeft, testimage.TopRight, testimage.BottomLeft, testimage.BottomRight}

// displayed lists, for each EXIF orientation, which stored quadrant must
// show at the displayed top-left, top-right, bottom-left and bottom-right,
// written from the EXIF specification's row/column wording, independently
// of orientMap.
var displayed = map[int][4]int{
	1: {qA, qB, qC, qD},
	2: {qB, qA, qD, qC}, // mirrored
	3: {qD, qC, qB, qA}, // rotated 180
	4: {qC, qD, qA, qB}, // flipped
	5: {qA, qC, qB, qD}, // row 0 at the left, column 0 at the top
	6: {qC, qA, qD, qB}, // row 0 at the right, column 0 at the top
	7: {qD, qB, qC, qA}, // row 0 at the right, column 0 at the bottom
	8: {qB, qD, qA, qC}, // row 0 at the left, column 0 at the bottom
}

// checkQuadrants checks img shows a stored 2w x w Quadrants image under
// orientation o, through both At and the sampler Preprocess uses.
func checkQuadrants(t *testing.T, img image.Image, w, h, o, tol int) {
	t.Helper()
	if swapsAxes(o) {
		w, h = h, w
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Fatalf("displayed size %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	corners := [4]image.Point{{w / 4, h / 4}, {3 * w / 4, h / 4}, {w / 4, 3 * h / 4}, {3 * w / 4, 3 * h / 4}}
	b := img.Bounds()
	for i, p := range corners {
		want := quadColor[displayed[o][i]]
		viaAt := toRGB(img.At(b.Min.X+p.X, b.Min.Y+p.Y))
		viaSampler := gather(img, []int{p.X}, []int{p.Y})
		for c := range 3 {
			wc := [3]uint8{want.R, want.G, want.B}[c]
			if absDiff(viaAt[c], wc) > tol || absDiff(viaSampler[c], wc) > tol {
				t.Fatalf("corner %d at %v: At %v, sampler %v, want %v (stored quadrant %d)", i, p, viaAt, viaSampler, want, displayed[o][i])
			}
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestDecodeFormatsAndOrientations(t *testing.T) {
	const w, h = 64, 32
	src := testimage.Quadrants(w, h)
	type tc struct {
		name   string
		format string
		o      int
		data   func() ([]byte, error)
		tol    int
	}
	var cases []tc
	for o := 1; o <= 8; o++ {
		for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
			ord := "II"
			if order == binary.BigEndian {
				ord = "MM"
			}
			cases = append(cases,
				tc{"jpeg/" + ord, "jpeg", o, func() ([]byte, error) { return testimage.JPEG(src, 90, testimage.EXIF(o, order)) }, 40},
				tc{"tiff/" + ord, "tiff", o, func() ([]byte, error) { return testimage.TIFF(src, order, o), nil }, 0},
			)
		}
	}
	cases = append(cases,
		tc{"jpeg/noexif", "jpeg", 1, func() ([]byte, error) { return testimage.JPEG(src, 90, nil) }, 40},
		tc{"png", "png", 1, func() ([]byte, error) { return testimage.PNG(src) }, 0},
		tc{"gif", "gif", 1, func() ([]byte, error) { return testimage.GIF(src) }, 0},
		tc{"bmp", "bmp", 1, func() ([]byte, error) { return testimage.BMP(src) }, 0},
	)
	for _, c := range cases {
		t.Run(c.name+"/"+string(rune('0'+c.o)), func(t *testing.T) {
			data, err := c.data()
			if err != nil {
				t.Fatal(err)
			}
			f, cw, ch, err := DecodeConfig(bytes.NewReader(data))
			if err != nil || f != c.format || cw != w || ch != h {
				t.Fatalf("DecodeConfig = %q %dx%d %v, want %q %dx%d", f, cw, ch, err, c.format, w, h)
			}
			img, err := Decode(data, 0)
			if err != nil {
				t.Fatal(err)
			}
			checkQuadrants(t, img, w, h, c.o, c.tol)
		})
	}
}

// TestDecodeTestdata covers files Go cannot write (see testdata/README.md).
func TestDecodeTestdata(t *testing.T) {
	for _, c := range []struct {
		file, format string
		tol          int
		alpha        bool
	}{
		{"quadrants_lossless.webp", "webp", 0, false},
		{"quadrants_lossy.webp", "webp", 40, false},
		{"quadrants_alpha.webp", "webp", 0, true},
		{"quadrants_ycck.jpg", "jpeg", 40, false},
		{"quadrants_progressive.jpg", "jpeg", 40, false},
		{"quadrants_lzw_msb.tif", "tiff", 0, false},
	} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			f, _, _, err := DecodeConfig(bytes.NewReader(data))
			if err != nil || f != c.format {
				t.Fatalf("DecodeConfig = %q, %v; want %q", f, err, c.format)
			}
			img, err := Decode(data, 0)
			if err != nil {
				t.Fatal(err)
			}
			if c.alpha {
				// The file really is half transparent, and the colours come
				// back unpremultiplied: alpha dropped, not composited.
				if _, _, _, a := img.At(0, 0).RGBA(); a>>8 != 127 {
					t.Fatalf("alpha %d, want 127", a>>8)
				}
			}
			checkQuadrants(t, img, 32, 16, 1, c.tol)
		})
	}
}

// TestDecodeColorModels checks every pixel layout becomes the RGB cv2's
// IMREAD_COLOR would give.
func TestDecodeColorModels(t *testing.T) {
	r := image.Rect(0, 0, 4, 2)
	gray := image.NewGray(r)
	gray.SetGray(1, 0, color.Gray{200})
	gray16 := image.NewGray16(r)
	gray16.SetGray16(1, 0, color.Gray16{0xc8ff})
	nrgba := image.NewNRGBA(r)
	nrgba.SetNRGBA(1, 0, color.NRGBA{200, 100, 50, 0}) // fully transparent keeps its colour
	nrgba64 := image.NewNRGBA64(r)
	nrgba64.SetNRGBA64(1, 0, color.NRGBA64{0xc800, 0x64ff, 0x3200, 0x8000})
	pal := image.NewPaletted(r, color.Palette{color.NRGBA{0, 0, 0, 255}, color.NRGBA{200, 100, 50, 10}})
	pal.SetColorIndex(1, 0, 1)
	for _, c := range []struct {
		name string
		img  image.Image
		want [3]uint8
	}{
		{"gray", gray, [3]uint8{200, 200, 200}},
		{"gray16 high byte", gray16, [3]uint8{200, 200, 200}},
		{"nrgba alpha dropped", nrgba, [3]uint8{200, 100, 50}},
		{"nrgba64 high bytes", nrgba64, [3]uint8{200, 100, 50}},
		{"paletted with alpha", pal, [3]uint8{200, 100, 50}},
	} {
		t.Run(c.name, func(t *testing.T) {
			data, err := testimage.PNG(c.img)
			if err != nil {
				t.Fatal(err)
			}
			img, err := Decode(data, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := gather(img, []int{1, 0}, []int{0, 0})
			if [3]uint8(got[:3]) != c.want {
				t.Fatalf("decoded %T pixel = %v, want %v", img, got[:3], c.want)
			}
			if [3]uint8(got[3:]) != [3]uint8{} {
				t.Fatalf("decoded %T background = %v, want black", img, got[3:])
			}
		})
	}
	// Grayscale JPEG decodes to *image.Gray.
	g := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range g.Pix {
		g.Pix[i] = 90
	}
	data, err := testimage.JPEG(g, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray); !ok {
		t.Fatalf("grayscale JPEG decoded to %T", img)
	}
	if got := gather(img, []int{5}, []int{5}); absDiff(got[0], 90) > 1 || got[0] != got[1] || got[1] != got[2] {
		t.Fatalf("grayscale JPEG pixel %v, want ~90 in all channels", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	src := testimage.Photo(48, 40)
	enc := map[string][]byte{}
	for _, f := range []string{"jpeg", "png", "gif", "bmp", "tiff"} {
		b, err := testimage.Encode(f, src)
		if err != nil {
			t.Fatal(err)
		}
		enc[f] = b
	}
	webp, err := os.ReadFile("testdata/quadrants_lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	enc["webp"] = webp

	type tc struct {
		name string
		data []byte
		want error
		msg  string
	}
	cases := []tc{
		{"empty", nil, ErrUnsupported, "empty input"},
		{"text", []byte("hello, this is not an image\n"), ErrUnsupported, "match none of"},
		{"html", []byte("<!DOCTYPE html><html>"), ErrUnsupported, ""},
		{"png signature only", []byte("\x89PNG\r\n\x1a\n"), ErrCorrupt, "truncated PNG"},
		{"jpeg SOI only", []byte("\xff\xd8\xff"), ErrCorrupt, "JPEG"},
		{"huge png", pngHeader(65000, 65000), ErrTooLarge, "PNG of 65000x65000 = 4225 Mpx exceeds the 64 Mpx limit"},
		{"zero-width png", pngHeader(0, 10), ErrCorrupt, "PNG"},
	}
	for f, b := range enc {
		cases = append(cases,
			tc{"truncated " + f, b[:len(b)*2/3], ErrCorrupt, ""},
			tc{"header only " + f, b[:20], ErrCorrupt, ""},
		)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img, err := Decode(c.data, 0)
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode = %v, %v; want %v", img, err, c.want)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %q does not say %q", err, c.msg)
			}
			t.Log(err)
		})
	}
}

// TestPixelLimitBeforeDecoding checks the limit applies to the header, so a
// bomb costs neither time nor memory.
func TestPixelLimitBeforeDecoding(t *testing.T) {
	data := pngHeader(65000, 65000)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(data, 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode = %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Fatalf("refusing the bomb allocated %d bytes", n)
	}
	// A real image just over a small limit is refused too, and one at the
	// limit is accepted.
	png, err := testimage.PNG(testimage.Photo(100, 50))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(png, 4999); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("100x50 with a 4999 px limit: %v", err)
	}
	if _, err := Decode(png, 5000); err != nil {
		t.Fatalf("100x50 with a 5000 px limit: %v", err)
	}
}

// pngHeader is a PNG signature and a valid IHDR declaring w x h RGB pixels,
// with no image data.
func pngHeader(w, h uint32) []byte {
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0) // 8-bit truecolour
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
}

func TestJPEGScanLimit(t *testing.T) {
	jpg, err := testimage.JPEG(testimage.Quadrants(16, 16), 90, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Extra SOS markers after EOI: counted before decoding starts.
	bomb := slices.Concat(jpg, bytes.Repeat([]byte{0xff, 0xda, 0, 2}, maxJPEGScans))
	if _, err := Decode(bomb, 0); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "scans") {
		t.Fatalf("Decode = %v, want ErrTooLarge for scans", err)
	}
	if _, err := Decode(jpg, 0); err != nil {
		t.Fatal(err)
	}
}

// TestGIFFrameSmallerThanScreen accepts a first frame that covers only part
// of the logical screen, which is legal GIF.
func TestGIFFrameSmallerThanScreen(t *testing.T) {
	frame := image.NewPaletted(image.Rect(4, 2, 12, 8), color.Palette{color.Black, color.White})
	frame.SetColorIndex(5, 3, 1)
	var buf bytes.Buffer
	err := gif.EncodeAll(&buf, &gif.GIF{
		Image:  []*image.Paletted{frame},
		Delay:  []int{0},
		Config: image.Config{ColorModel: frame.Palette, Width: 20, Height: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(buf.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds() != frame.Rect {
		t.Fatalf("bounds %v, want the frame's %v", img.Bounds(), frame.Rect)
	}
	if got := gather(img, []int{1}, []int{1}); [3]uint8(got) != [3]uint8{255, 255, 255} {
		t.Fatalf("pixel (5,3) = %v, want white", got)
	}
}

func TestAnimatedWebPUnsupported(t *testing.T) {
	data, err := os.ReadFile("testdata/animated.webp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data, 0); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "animated WebP") {
		t.Fatalf("Decode = %v, want ErrUnsupported for animation", err)
	}
}
