package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/nn"
)

// TestDecodeAgreement measures what fast decoding costs in answers, run on
// demand (it decodes some 40 images of up to 15 Mpx twice per model):
//
//	LCNET_AGREEMENT=1 go test -run TestDecodeAgreement -v ./api
//
// For the real text-line model and two golden checkpoints (synthetic
// weights, ImageNet preprocessing) it classifies varied JPEGs with exact
// and with fast decoding and logs, per model and image set, how often the
// top-1 class agrees and the largest difference of any class's
// probability. The images: Go-encoded baseline 4:2:0 synthetic photos and
// text lines from 640x480 to 5120x2880 at qualities 60 and 92; with cjpeg
// installed, 4:4:4 and progressive encodings of the same; with Debian's
// plasma-workspace-wallpapers installed, its photographs (2560x1600 and
// 5120x2880, some progressive). It fails only if fast decoding errs where
// exact does not.
func TestDecodeAgreement(t *testing.T) {
	if os.Getenv("LCNET_AGREEMENT") == "" {
		t.Skip("set LCNET_AGREEMENT=1 to measure fast-vs-exact agreement")
	}
	sets := agreementImages(t)
	models := map[string]string{
		"textline": textlinePath(t),
		"x1_0":     fixtures.Path(t, "golden", "PPLCNet_x1_0.pdparams"),
		"x0_25":    fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"),
	}
	z, _ := realZoo(t, models)
	_, be := serveZoo(t, z, nil)
	for _, name := range []string{"textline", "x1_0", "x0_25"} {
		m, err := be.resolve(context.Background(), name, "")
		if err != nil {
			t.Fatal(err)
		}
		model, err := nn.Load(m.Arch, realTensors(t, be, m), nn.Options{})
		if err != nil {
			t.Fatal(err)
		}
		pre, err := imaging.NewPreprocessor(m.Preprocess)
		if err != nil {
			t.Fatal(err)
		}
		probs := func(data []byte, mode imaging.DecodeMode) []float32 {
			x, h, w, err := pre.PreprocessEncoded(t.Context(), data, imaging.DecodeOptions{Mode: mode}, nil)
			if err != nil {
				t.Fatalf("%s decode: %v", mode, err)
			}
			out, err := model.Infer(context.Background(), x, 1, h, w)
			if err != nil {
				t.Fatal(err)
			}
			return out.Probabilities
		}
		for _, set := range sets {
			agree, worst, sum := 0, 0.0, 0.0
			for _, data := range set.images {
				e, f := probs(data, imaging.DecodeExact), probs(data, imaging.DecodeFast)
				if argmax(e) == argmax(f) {
					agree++
				}
				d := 0.0
				for i := range e {
					d = math.Max(d, math.Abs(float64(e[i]-f[i])))
				}
				worst, sum = math.Max(worst, d), sum+d
			}
			n := len(set.images)
			t.Logf("%-8s %-28s top-1 agree %d/%d, max |dp| %.4f, mean max |dp| %.4f", name, set.name, agree, n, worst, sum/float64(n))
		}
		model.Close()
	}
}

func argmax(p []float32) int {
	return slices.Index(p, slices.Max(p))
}

type imageSet struct {
	name   string
	images [][]byte
}

func agreementImages(t *testing.T) []imageSet {
	sizes := [][2]int{{640, 480}, {1280, 960}, {1920, 1080}, {2560, 1600}, {4000, 3000}, {5120, 2880}}
	var base, text imageSet
	base.name, text.name = "synthetic baseline 4:2:0", "text lines baseline 4:2:0"
	var raws []image.Image
	for _, s := range sizes {
		photo := testimage.Photo(s[0], s[1])
		raws = append(raws, photo)
		line := testimage.TextLine(s[0], s[0]/6, "Invoice total: 1,234.56 EUR")
		for _, q := range []int{60, 92} {
			for _, img := range []image.Image{photo, line, testimage.Rotate180(line)} {
				b, err := testimage.JPEG(img, q, nil)
				if err != nil {
					t.Fatal(err)
				}
				if img == image.Image(photo) {
					base.images = append(base.images, b)
				} else {
					text.images = append(text.images, b)
				}
			}
		}
	}
	sets := []imageSet{base, text}
	if _, err := exec.LookPath("cjpeg"); err == nil {
		s444 := imageSet{name: "synthetic cjpeg 4:4:4"}
		prog := imageSet{name: "synthetic cjpeg progressive"}
		for _, img := range raws {
			ppm := toPPM(img)
			s444.images = append(s444.images, cjpeg(t, ppm, "-quality", "90", "-sample", "1x1"))
			prog.images = append(prog.images, cjpeg(t, ppm, "-quality", "85", "-progressive"))
		}
		sets = append(sets, s444, prog)
	} else {
		t.Log("cjpeg not installed (apt-get install libjpeg-turbo-progs): no 4:4:4 or progressive synthetic images")
	}
	files, _ := filepath.Glob("/usr/share/wallpapers/*/contents/images/*.jpg")
	if len(files) > 0 {
		// The package ships many pictures in several directories.
		seen := map[[32]byte]bool{}
		var walls imageSet
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if k := sha256.Sum256(b); !seen[k] {
				seen[k] = true
				walls.images = append(walls.images, b)
			}
		}
		walls.name = fmt.Sprintf("%d wallpaper photos", len(walls.images))
		sets = append(sets, walls)
	} else {
		t.Log("no /usr/share/wallpapers (apt-get install plasma-workspace-wallpapers): no photographs")
	}
	return sets
}

func toPPM(img image.Image) []byte {
	b := img.Bounds()
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "P6\n%d %d\n255\n", b.Dx(), b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			buf.Write([]byte{byte(r >> 8), byte(g >> 8), byte(bl >> 8)})
		}
	}
	return buf.Bytes()
}

func cjpeg(t *testing.T, ppm []byte, args ...string) []byte {
	cmd := exec.Command("cjpeg", args...)
	cmd.Stdin = bytes.NewReader(ppm)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cjpeg %v: %v", args, err)
	}
	return out
}
