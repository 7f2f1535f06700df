package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/testimage"
)

// allocated is what decoding data allocates in total (runtime TotalAlloc),
// an upper bound on its peak.
func allocated(t *testing.T, data []byte) uint64 {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := Decode(data, 0); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeCost checks the header estimate against what the decoders
// really allocate: never below, and not so far above that honest images
// are refused.
func TestDecodeCost(t *testing.T) {
	rgb := image.NewRGBA(image.Rect(0, 0, 600, 400))
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 7)
	}
	enc := func(format string, img image.Image) []byte {
		b, err := testimage.Encode(format, img)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gray := image.NewGray(rgb.Rect)
	webp, err := os.ReadFile("testdata/quadrants_alpha.webp")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"png 16-bit interlaced": testimage.PNG16Bomb(1000, 800, true),
		"png 16-bit":            testimage.PNG16Bomb(1000, 800, false),
		"tiff 16-bit deflate":   testimage.TIFF16Bomb(1000, 800),
		"tiff 8-bit":            testimage.TIFF(rgb, binary.BigEndian, 0),
		"png rgb":               enc("png", rgb),
		"png gray":              enc("png", gray),
		"jpeg":                  enc("jpeg", rgb),
		"jpeg gray":             enc("jpeg", gray),
		"gif":                   enc("gif", rgb),
		"bmp":                   enc("bmp", rgb),
		"webp lossless alpha":   webp,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if raceEnabled {
				t.Skip("the race detector's sync.Pool drops buffers at random, so decoders allocate more")
			}
			cost, err := DecodeCost(data)
			if err != nil {
				t.Fatal(err)
			}
			got := allocated(t, data)
			t.Logf("estimate %d B, allocated %d B (%.2fx)", cost, got, float64(cost)/float64(got))
			// TotalAlloc counts garbage too (freed pass images, outgrown
			// buffers), so the estimate of the peak may be somewhat below it.
			if float64(cost) < 0.6*float64(got) {
				t.Errorf("estimate %d B is far below the %d B decoding allocated", cost, got)
			}
			if float64(cost) > 4*float64(got)+1<<20 {
				t.Errorf("estimate %d B is over 4x the %d B decoding allocated", cost, got)
			}
		})
	}
}

// TestDecodeCostPerPixel pins the bytes per pixel of the cases the server
// budget is about: equal pixel counts, eightfold different costs.
func TestDecodeCostPerPixel(t *testing.T) {
	const w, h = 400, 300
	for _, c := range []struct {
		name string
		data []byte
		min  float64
	}{
		{"png 16-bit interlaced", testimage.PNG16Bomb(w, h, true), 16},
		{"png 16-bit", testimage.PNG16Bomb(w, h, false), 8},
		{"tiff 16-bit one strip", testimage.TIFF16Bomb(w, h), 8 + 3*6},
	} {
		cost, err := DecodeCost(c.data)
		if err != nil {
			t.Fatal(err)
		}
		if per := float64(cost) / (w * h); per < c.min {
			t.Errorf("%s: %.1f B/px, want at least %.0f", c.name, per, c.min)
		}
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	if cost, _ := DecodeCost(jb.Bytes()); cost > 2*w*h {
		t.Errorf("grayscale baseline JPEG: %d B for %d px", cost, w*h)
	}
}

func TestDecodeCostErrors(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not image": []byte("hello, world, this is text"),
		"truncated": testimage.PNG16Bomb(10, 10, false)[:20],
	} {
		if _, err := DecodeCost(data); !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrUnsupported or ErrCorrupt", name, err)
		}
	}
}

// TestDecodeContextAbandons checks that a decode stops soon after its
// context ends instead of inflating the rest of the file.
func TestDecodeContextAbandons(t *testing.T) {
	for name, data := range map[string][]byte{
		"png":  testimage.PNG16Bomb(2000, 2000, true),
		"tiff": testimage.TIFF16Bomb(2000, 2000),
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			if _, err := Decode(data, 0); err != nil {
				t.Fatal(err)
			}
			full := time.Since(start)
			ctx, cancel := context.WithTimeout(context.Background(), full/10)
			defer cancel()
			start = time.Now()
			_, err := DecodeContext(ctx, data, 0)
			took := time.Since(start)
			t.Logf("full decode %v, abandoned after %v", full, took)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err %v, want context.DeadlineExceeded", err)
			}
			if took > full/2 {
				t.Errorf("abandoning took %v of the full decode's %v", took, full)
			}
		})
	}
}
