// Command jpegresize writes a smaller baseline JPEG of a photograph, for
// photo_side_by_side.sh when a size it wants is missing from the wallpaper
// package and neither libjpeg's cjpeg/djpeg nor ImageMagick is installed.
// It decodes with lcnet's own decoder (imaging/jpeg), resizes with a
// Catmull-Rom filter and encodes with the standard library, which writes
// baseline 4:2:0 only: it cannot stand in for a progressive photo.
//
// usage: go run ./e2e/bench/jpegresize -size WxH [-quality 90] IN OUT
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"

	"golang.org/x/image/draw"

	"github.com/lcnet/lcnet/imaging/jpeg"
)

func main() {
	size := flag.String("size", "", "output size WxH (required)")
	quality := flag.Int("quality", 90, "JPEG quality, 1-100")
	flag.Parse()
	if err := run(*size, *quality, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "jpegresize:", err)
		os.Exit(1)
	}
}

func run(size string, quality int, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("want IN and OUT, got %d arguments", len(args))
	}
	var w, h int
	if _, err := fmt.Sscanf(size, "%dx%d", &w, &h); err != nil || w <= 0 || h <= 0 {
		return fmt.Errorf("-size %q: want WxH with positive sides", size)
	}
	if quality < 1 || quality > 100 {
		return fmt.Errorf("-quality %d: want 1-100", quality)
	}
	in, out := args[0], args[1]
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	src, err := jpeg.Decode(data, jpeg.Options{})
	if err != nil {
		return fmt.Errorf("decode %s: %w", in, err)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, dst, &stdjpeg.Options{Quality: quality}); err != nil {
		return fmt.Errorf("encode %s: %w", out, err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}
