package imaging

import (
	"image"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/ortrun"
	"github.com/lcnet/lcnet/internal/testimage"
)

// TestTextLineThroughONNXRuntime checks testimage.TextLine and Preprocess
// together against the real text-line orientation model, run by ONNX
// Runtime from the third-party ONNX export of the official checkpoint: an
// upright line must be 0_degree and the same line turned 180_degree, each
// above 0.99, which is what the e2e test asks of lcnet's own network.
func TestTextLineThroughONNXRuntime(t *testing.T) {
	model := fixtures.Path(t, "onnx", "PP-LCNet_x0_25_textline_ori.onnx")
	// The model's inference.yml: resize to 160x80, ImageNet mean/std.
	p := arch.Preprocess{ResizeWidth: 160, ResizeHeight: 80, Scale: 1.0 / 255,
		Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}, ChannelOrder: "RGB"}
	var batch []float32
	var names []string
	for _, text := range []string{
		"The quick brown fox jumps over the lazy dog 0123",
		"Invoice total: 1,234.56 EUR",
		"Hello, world",
	} {
		for _, size := range [][2]int{{640, 64}, {320, 48}, {160, 80}} {
			up := testimage.TextLine(size[0], size[1], text)
			for _, img := range []struct {
				name string
				img  image.Image
			}{{"upright", up}, {"rotated", testimage.Rotate180(up)}} {
				x, _, _, err := Preprocess(img.img, p, nil)
				if err != nil {
					t.Fatal(err)
				}
				batch = append(batch, x...)
				names = append(names, img.name+" "+text)
			}
		}
	}
	outs := ortrun.Run(t, model, &npy.Array{Shape: []int{len(names), 3, 80, 160}, Data: batch})
	if len(outs) != 1 {
		t.Fatalf("%d outputs, want one (the softmax)", len(outs))
	}
	var probs *npy.Array
	for _, a := range outs {
		probs = a
	}
	for i, n := range names {
		p0, p180 := probs.Data[2*i], probs.Data[2*i+1]
		want, score := 0, p0
		if n[:7] == "rotated" {
			want, score = 1, p180
		}
		t.Logf("%-60s 0_degree %.5f 180_degree %.5f", n, p0, p180)
		if score <= 0.99 {
			t.Errorf("%s: class %d scored %.4f, want above 0.99", n, want, score)
		}
	}
}
