package jpeg

import (
	"fmt"
	"os"
	"testing"
)

// BenchmarkSplit times the photos of Debian's plasma-workspace-wallpapers
// (when installed) decoded serially, pipelined, and split with the second
// reader started at several places (in 64ths of the scan; "parallel" is
// Options.Parallel's default), for the rows and columns PaddleClas'
// preprocessing reads (the short side resized to 256, the center 224x224
// cropped), at full scale (exact) and at the scale ScaleFor picks (fast).
func BenchmarkSplit(b *testing.B) {
	for _, path := range []string{
		"/usr/share/wallpapers/SafeLanding/contents/images/5120x2880.jpg",
		"/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg",
		"/usr/share/wallpapers/Honeywave/contents/images/1080x1920.jpg",
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Skip(err)
		}
		c, err := DecodeConfig(data)
		if err != nil {
			b.Fatal(err)
		}
		short := min(c.Width, c.Height)
		w, h := 256*c.Width/short, 256*c.Height/short
		for _, scale := range []int{1, ScaleFor(c.Width, c.Height, w, h)} {
			ow, oh := (c.Width+scale-1)/scale, (c.Height+scale-1)/scale
			rows := cropTaps(oh, h, (h-224)/2, (h+224)/2)
			cols := cropTaps(ow, w, (w-224)/2, (w+224)/2)
			modes := []struct {
				name string
				opt  Options
			}{
				{"serial", Options{}},
				{"pipeline", Options{Parallel: true, splitMin: noSplit}},
				{"parallel", Options{Parallel: true}},
			}
			for _, at := range []int{8, 12, 16, 20, 24, 28, 32} {
				modes = append(modes, struct {
					name string
					opt  Options
				}{fmt.Sprintf("split%d", at), Options{Parallel: true, splitAt: at}})
			}
			for _, mode := range modes {
				b.Run(fmt.Sprintf("%dx%d/scale%d/%s", c.Width, c.Height, scale, mode.name), func(b *testing.B) {
					opt := mode.opt
					opt.Scale, opt.Rows, opt.Cols = scale, rows, cols
					defer startCPU().report(b)
					for b.Loop() {
						if _, err := Decode(data, opt); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// cropTaps is taps for the outputs lo to hi-1 only.
func cropTaps(n, m, lo, hi int) []int {
	return taps(n, m)[2*lo : 2*hi]
}
