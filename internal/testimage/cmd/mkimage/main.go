// Command mkimage writes one of testimage's synthetic images to a file, for
// the README quick start and for poking at the server by hand:
//
//	go run ./internal/testimage/cmd/mkimage -kind text -o line.png
//	go run ./internal/testimage/cmd/mkimage -kind text -rotate180 -o flipped.jpg
//	go run ./internal/testimage/cmd/mkimage -kind photo -w 1024 -h 768 -o photo.jpg
//
// The format follows the output file's extension (jpg, png, gif, bmp, tif).
package main

import (
	"flag"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/lcnet/lcnet/internal/testimage"
)

func main() {
	kind := flag.String("kind", "text", "text, quadrants or photo")
	text := flag.String("text", "The quick brown fox jumps over the lazy dog 0123", "text of -kind text")
	w := flag.Int("w", 640, "width in pixels")
	h := flag.Int("h", 64, "height in pixels")
	rot := flag.Bool("rotate180", false, "turn the image upside down")
	out := flag.String("o", "", "output file; its extension picks the format (required)")
	flag.Parse()
	if err := run(*kind, *text, *w, *h, *rot, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(kind, text string, w, h int, rot bool, out string) error {
	if out == "" {
		return fmt.Errorf("-o is required")
	}
	if w <= 0 || h <= 0 || w*h > 64<<20 {
		return fmt.Errorf("size %dx%d must be positive and at most 64 Mpx", w, h)
	}
	var img image.Image
	switch kind {
	case "text":
		img = testimage.TextLine(w, h, text)
	case "quadrants":
		img = testimage.Quadrants(w, h)
	case "photo":
		img = testimage.Photo(w, h)
	default:
		return fmt.Errorf("unknown -kind %q (want text, quadrants or photo)", kind)
	}
	if rot {
		img = testimage.Rotate180(img)
	}
	data, err := testimage.Encode(strings.TrimPrefix(strings.ToLower(filepath.Ext(out)), "."), img)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}
