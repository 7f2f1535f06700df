package testimage

import (
	"archive/zip"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// TextClasses are the classes TextFolder renders, in sorted order: a line
// of noise without text, white text on black, text turned 180 degrees and
// upright text. (Text mirrored left-right is a harder class: the text-line
// model's last_conv features tell it from upright text only about 93% of
// the time on held-out lines, its pooled features 97%; white text on black, 82% and 98%.)
var TextClasses = []string{"blank", "inverted", "rotated", "upright"}

// TextImage classes beyond TextClasses.
const Mirrored = "mirrored"

var words = strings.Fields(`the quick brown fox jumps over a lazy dog while seven
wizards box and quiz jackdaws pack my bottle with five dozen liquor jugs
invoice total amount paid date number street city order receipt item
price tax change cash card thank you visit again`)

// TextImage renders image i of class (one of TextClasses) from a stream
// seeded with seed: 3 to 6 random words on a line 160 to 320 pixels wide
// and 32 to 48 high.
func TextImage(class string, seed uint64, i int) image.Image {
	rng := rand.New(rand.NewPCG(seed, uint64(i)*4+uint64(len(class))))
	w, h := 160+rng.IntN(161), 32+rng.IntN(17)
	if class == "blank" {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		base := 200 + rng.IntN(56)
		for y := range h {
			for x := range w {
				v := uint8(max(0, base-rng.IntN(60)))
				img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
			}
		}
		return img
	}
	n := 3 + rng.IntN(4)
	line := make([]string, n)
	for j := range line {
		line[j] = words[rng.IntN(len(words))]
	}
	img := TextLine(w, h, strings.Join(line, " "))
	switch class {
	case "rotated":
		return Rotate180(img)
	case "inverted":
		out := image.NewRGBA(img.Rect)
		for k, v := range img.Pix {
			out.Pix[k] = v
			if k%4 != 3 {
				out.Pix[k] = 255 - v
			}
		}
		return out
	case Mirrored:
		out := image.NewRGBA(img.Rect)
		for y := range h {
			for x := range w {
				out.Set(w-1-x, y, img.At(x, y))
			}
		}
		return out
	}
	return img
}

// TextFolder writes an ImageFolder of TextClasses under dir, perClass PNG
// files per class (images first .. first+perClass-1 of each class's
// stream), and returns dir.
func TextFolder(dir string, perClass, first int, seed uint64) (string, error) {
	for _, c := range TextClasses {
		if err := os.MkdirAll(filepath.Join(dir, c), 0o755); err != nil {
			return "", err
		}
		for i := first; i < first+perClass; i++ {
			b, err := PNG(TextImage(c, seed, i))
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(filepath.Join(dir, c, fmt.Sprintf("%03d.png", i)), b, 0o644); err != nil {
				return "", err
			}
		}
	}
	return dir, nil
}

// Zip packs the files under dir into a zip archive, each named by its path
// below dir after prefix ("set/" puts the folder one level down, as an
// archive a user zipped from the parent directory would).
func Zip(dir, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(prefix + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("zipping %s: %w", dir, err)
	}
	return buf.Bytes(), nil
}
