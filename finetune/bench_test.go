package finetune_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
	"testing/fstest"

	"github.com/lcnet/lcnet/finetune"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/train/dataset"
	"github.com/lcnet/lcnet/train/head"
)

// BenchmarkTenThousand fine-tunes the golden x1.0 checkpoint on 10,000
// synthetic 64x64 images of 4 classes (default options: 30 epochs, the
// 1280-wide features) and reports where the time goes:
//
//	go test -run '^$' -bench TenThousand -benchtime 1x ./finetune/
func BenchmarkTenThousand(b *testing.B) {
	z := importZoo(b, "x1", fixtures.Path(b, "golden", "PPLCNet_x1_0.pdparams"))
	files := fstest.MapFS{}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 10_000 {
		class := i % 4
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		for y := range 64 {
			for x := range 64 {
				// Noise over a texture of the class's own: the global
				// pool keeps what a texture is, not where it is.
				v := uint8(rng.IntN(96))
				var on bool
				switch class {
				case 0:
					on = x%8 < 4 // vertical stripes
				case 1:
					on = y%8 < 4 // horizontal stripes
				case 2:
					on = (x/8+y/8)%2 == 0 // a checkerboard
				}
				if on {
					v += 150
				}
				img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
			}
		}
		png, err := testimage.PNG(img)
		if err != nil {
			b.Fatal(err)
		}
		files[fmt.Sprintf("c%d/%05d.png", class, i)] = &fstest.MapFile{Data: png}
	}
	set, err := dataset.Open(files)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		res, err := finetune.Run(context.Background(), z, "x1", set, nil, finetune.Options{
			Name: fmt.Sprintf("bench%d", i), ValSplit: 0.1, Head: head.Options{Seed: 1},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.ExtractTime.Seconds(), "extract-s")
		b.ReportMetric(res.DecodeTime.Seconds(), "decode-s")
		b.ReportMetric(res.BackboneTime.Seconds(), "backbone-s")
		b.ReportMetric(res.TrainTime.Seconds(), "train-s")
		b.ReportMetric(float64(res.TrainImages+res.ValImages)/res.ExtractTime.Seconds(), "images/s")
		b.ReportMetric(res.Head.Best.ValAccuracy, "val-acc")
	}
}
