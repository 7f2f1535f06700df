package e2e

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/lcnet/lcnet/internal/testimage"
)

// TestTextLineOrientation converts the real Paddle 3 text-line orientation
// model with the CLI and classifies an upright line of printed text and the
// same line rotated by 180 degrees through curl, as the convert issue asks.
func TestTextLineOrientation(t *testing.T) {
	store := t.TempDir()
	convertFixture(t, store, "textline", "paddle3", "PP-LCNet_x0_25_textline_ori")
	srv := startServer(t, store)
	dir := t.TempDir()
	upright := testimage.TextLine(640, 64, "The quick brown fox jumps over the lazy dog 0123")
	for _, tc := range []struct {
		name  string
		img   image.Image
		label string
	}{
		{"upright", upright, "0_degree"},
		{"rotated", testimage.Rotate180(upright), "180_degree"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".png")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, tc.img); err != nil {
				t.Fatal(err)
			}
			f.Close()
			r := curl(t, "-F", "image=@"+p, srv.URL+"/v1/models/textline/classify")
			if r.Status != 200 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			c := decode[classifyResponse](t, r.Body)
			checkPredictions(t, c.Results[0].Predictions, 2, 2)
			top := c.Results[0].Predictions[0]
			if top.Label != tc.label || top.Score <= 0.99 {
				t.Fatalf("top-1 %s %.4f, want %s above 0.99", top.Label, top.Score, tc.label)
			}
			t.Logf("%s: %s %.5f", tc.name, top.Label, top.Score)
		})
	}
}
