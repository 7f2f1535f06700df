package contract

import (
	"archive/tar"
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/lcnet/lcnet/internal/testimage"
)

// writeDataset writes a .tar ImageFolder of two classes, upright and
// turned text lines, six images each: what the fine-tuning transactions
// upload.
func writeDataset(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, img image.Image) {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(b.Len()), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		up := testimage.TextLine(320, 48, fmt.Sprintf("Contract line %d: 42.%d EUR", i, i))
		add(fmt.Sprintf("upright/%d.png", i), up)
		add(fmt.Sprintf("turned/%d.png", i), testimage.Rotate180(up))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "dataset.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
