package main

import (
	"bytes"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"testing"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		kind, file, format string
	}{
		{"text", "line.png", "png"},
		{"photo", "photo.JPG", "jpeg"},
		{"quadrants", "q.gif", "gif"},
		{"text", "line.bmp", "bmp"},
		{"photo", "p.tif", "tiff"},
	} {
		out := filepath.Join(dir, c.file)
		if err := run(c.kind, "Hello", 96, 32, true, out); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil || format != c.format || cfg.Width != 96 || cfg.Height != 32 {
			t.Fatalf("%s: %s %dx%d %v", c.file, format, cfg.Width, cfg.Height, err)
		}
	}
	for _, bad := range []struct{ kind, out string }{{"text", ""}, {"circle", "x.png"}, {"text", filepath.Join(dir, "x.webp")}} {
		if err := run(bad.kind, "x", 10, 10, false, bad.out); err == nil {
			t.Errorf("run(%q, %q): no error", bad.kind, bad.out)
		}
	}
}
