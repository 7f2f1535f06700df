package jpeg

import (
	"bytes"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"math/rand/v2"
	"os"
	"testing"
)

// withRestarts encodes img (4:2:0, as image/jpeg writes it) with a
// restart marker every rows MCU rows. image/jpeg writes no restart
// markers, but it encodes each strip of the image as a restart interval
// would be: DC predictions from zero, the data padded to a byte. So the
// strips' data, joined by RSTn markers under the whole image's headers
// and a DRI segment, is the file an encoder with restarts would write.
func withRestarts(t testing.TB, img *image.RGBA, q, rows int) []byte {
	t.Helper()
	entropy := func(data []byte) (head, body []byte) {
		i := bytes.Index(data, []byte{0xff, 0xda})
		if i < 0 {
			t.Fatal("no SOS")
		}
		n := int(data[i+2])<<8 | int(data[i+3])
		end := bytes.LastIndex(data, []byte{0xff, 0xd9})
		return data[:i+2+n], data[i+2+n : end]
	}
	whole := encoded(t, img, q)
	head, _ := entropy(whole)
	b := img.Bounds()
	mcusX := (b.Dx() + 15) / 16
	ri := rows * mcusX
	sos := bytes.Index(head, []byte{0xff, 0xda})
	var out bytes.Buffer
	out.Write(head[:sos])
	out.Write([]byte{0xff, 0xdd, 0, 4, byte(ri >> 8), byte(ri)})
	out.Write(head[sos:])
	for k, y := 0, b.Min.Y; y < b.Max.Y; k, y = k+1, y+16*rows {
		if k > 0 {
			out.Write([]byte{0xff, byte(mRST0 + (k-1)%8)})
		}
		strip := img.SubImage(image.Rect(b.Min.X, y, b.Max.X, min(y+16*rows, b.Max.Y)))
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, strip, &stdjpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		_, body := entropy(buf.Bytes())
		out.Write(body)
	}
	out.Write([]byte{0xff, 0xd9})
	return out.Bytes()
}

// restartImages are baseline files with restart markers: the test files
// and, made by withRestarts, a photo-sized one and one with more
// intervals than the goroutines share groups.
func restartImages(t *testing.T) []testImage {
	var out []testImage
	for _, name := range []string{"restart420.jpg", "restart3b_opt.jpg"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, testImage{name, data, data, ""})
	}
	for _, c := range []struct{ w, h, rows int }{{1600, 1200, 2}, {333, 517, 1}} {
		img := synthetic(c.w, c.h, uint64(c.w))
		data := withRestarts(t, img, 90, c.rows)
		out = append(out, testImage{fmt.Sprintf("restarts_%dx%d_every%d", c.w, c.h, c.rows), data, encoded(t, img, 90), ""})
	}
	return out
}

// restartOpts decodes the intervals of any baseline scan with restart
// markers on two goroutines.
func restartOpts(o Options) Options {
	o.Parallel, o.parallelMin = true, 1
	return o
}

// TestRestartMatchesSerial checks that decoding a scan's restart
// intervals on two goroutines writes every plane byte as the serial
// decode does, at every scale and for a sparse region, and that the
// files made by withRestarts decode as image/jpeg decodes them.
func TestRestartMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 20))
	for _, ti := range restartImages(t) {
		if _, err := stdjpeg.Decode(bytes.NewReader(ti.data)); err != nil {
			t.Fatalf("%s: image/jpeg: %v", ti.name, err)
		}
		if !bytes.Equal(ti.ref, ti.data) {
			// Made by withRestarts: the same blocks as the file
			// without restarts.
			want, err := Decode(ti.ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(ti.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			samePlanes(t, ti.name+" against the file without restarts", got, want)
		}
		cfg, err := DecodeConfig(ti.data)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range decodeCases(rng, cfg.Width, cfg.Height) {
			what := ti.name + " " + c.name
			want, err := Decode(ti.data, c.opt)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			got, d, err := decodeWith(ti.data, restartOpts(c.opt))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if !d.restarted {
				t.Fatalf("%s: the intervals were not decoded in parallel", what)
			}
			samePlanes(t, what, got, want)
		}
	}
}

// TestRestartErrors checks that truncated and corrupted files with
// restart markers fail the same way in parallel as serially, with the
// same planes when they decode, and that no goroutine outlives a decode.
func TestRestartErrors(t *testing.T) {
	damagedFail(t, restartImages(t), rand.New(rand.NewPCG(15, 21)), []int{40, 70, 95, 99}, 24, 4, []int{1, 8}, restartOpts)
}

// TestRestartCancel checks that a parallel decode of restart intervals
// canceled at any point returns the context's error and leaves no
// goroutine behind.
func TestRestartCancel(t *testing.T) {
	cancels(t, withRestarts(t, synthetic(640, 480, 5), 90, 1), []int64{0, 1, 5, 12, 20, 29}, restartOpts)
}

// BenchmarkRestart times a 4000x3000 photo-like file with a restart
// marker every MCU row decoded serially and with its intervals on two
// goroutines, for the rows and columns PaddleClas' preprocessing reads
// (exact) and at 1/8 (fast).
func BenchmarkRestart(b *testing.B) {
	data := withRestarts(b, synthetic(4000, 3000, 7), 90, 1)
	var cases []photoCase
	for _, scale := range []int{1, 8} {
		ow, oh := (4000+scale-1)/scale, (3000+scale-1)/scale
		w, h := 256*4000/3000, 256
		cases = append(cases, photoCase{fmt.Sprintf("scale%d", scale), data, scale,
			cropTaps(oh, h, (h-224)/2, (h+224)/2), cropTaps(ow, w, (w-224)/2, (w+224)/2)})
	}
	benchDecodes(b, cases, []benchMode{{"serial", Options{}}, {"parallel", Options{Parallel: true}}})
}
