package imaging

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
)

// cv2Cases is testdata/cv2/cases.json, written by gen.py.
type cv2Cases struct {
	OpenCV string `json:"opencv"`
	Cases  []struct {
		Name        string `json:"name"`
		Input       string `json:"input"`
		ResizeShort int    `json:"resize_short"`
		Size        [2]int `json:"size"`
		Crop        [2]int `json:"crop"`
	} `json:"cases"`
}

// TestMatchesCV2 compares Decode + Preprocess with what PaddleClas' own
// pipeline produced under OpenCV (testdata/cv2/gen.py): for lossless inputs
// and YCbCr JPEG the result must be bit-exact (imaging/jpeg's IDCT,
// chroma upsampling and colour conversion are libjpeg's). The EXIF
// cases check orientations 2-8 land where cv2.imdecode puts them.
func TestMatchesCV2(t *testing.T) {
	dir := filepath.Join("testdata", "cv2")
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases cv2Cases
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases.Cases {
		t.Run(c.Name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, c.Input))
			if err != nil {
				t.Fatal(err)
			}
			img, err := Decode(data, 0)
			if err != nil {
				t.Fatal(err)
			}
			p := raw(arch.Preprocess{ResizeShort: c.ResizeShort, ResizeWidth: c.Size[0], ResizeHeight: c.Size[1], CropWidth: c.Crop[0], CropHeight: c.Crop[1]})
			got, h, w, err := Preprocess(img, p, nil)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(filepath.Join(dir, c.Name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			gold, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if gb := gold.Bounds(); gb.Dx() != w || gb.Dy() != h {
				t.Fatalf("output %dx%d, cv2 %dx%d", w, h, gb.Dx(), gb.Dy())
			}
			exact, worst, sum := 0, 0, 0
			for y := range h {
				for x := range w {
					g := toRGB(gold.At(x, y))
					for ch := range 3 {
						d := absDiff(uint8(got[ch*h*w+y*w+x]), g[ch])
						if d == 0 {
							exact++
						}
						worst = max(worst, d)
						sum += d
					}
				}
			}
			n := 3 * h * w
			t.Logf("OpenCV %s: %.2f%% of %d values identical, max |diff| %d, mean %.3f", cases.OpenCV, 100*float64(exact)/float64(n), n, worst, float64(sum)/float64(n))
			maxDiff, minExact := 0, 1.0
			switch {
			case strings.Contains(c.Input, "ycck"):
				// YCCK becomes CMYK with imaging/jpeg's rounding before
				// OpenCV's CMYK formula applies.
				maxDiff, minExact = 1, 0.85
			}
			if worst > maxDiff || float64(exact) < minExact*float64(n) {
				t.Errorf("max |diff| %d (allowed %d), %d of %d identical (want %.0f%%)", worst, maxDiff, exact, n, 100*minExact)
			}
		})
	}
}
