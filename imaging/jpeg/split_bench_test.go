package jpeg

import (
	"fmt"
	"os"
	"testing"
)

// BenchmarkSplit times the photos of Debian's plasma-workspace-wallpapers
// (when installed) decoded serially, with Options.Parallel (split at scale
// 8, pipelined otherwise), pipelined only, and split at any scale, for the
// rows and columns a resize to 256 on the short side reads, at full scale
// (exact) and at the scale ScaleFor picks (fast).
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
			rows, cols := taps(oh, h), taps(ow, w)
			for _, mode := range []struct {
				name string
				opt  Options
			}{
				{"serial", Options{}},
				{"pipeline", Options{Parallel: true, splitMin: 1 << 62}},
				{"parallel", Options{Parallel: true}},
				{"split", Options{Parallel: true, splitMin: 1}},
			} {
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
