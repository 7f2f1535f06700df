package jpeg

import (
	"fmt"
	"testing"
)

// BenchmarkSplit times the baseline photos of Debian's
// plasma-workspace-wallpapers (when installed) decoded serially,
// pipelined, and split with the second reader started at several places
// (in 64ths of the scan; "parallel" is Options.Parallel's default).
func BenchmarkSplit(b *testing.B) {
	modes := []benchMode{
		{"serial", Options{}},
		{"pipeline", Options{Parallel: true, splitMin: noSplit}},
		{"parallel", Options{Parallel: true}},
	}
	for _, at := range []int{8, 12, 16, 20, 24, 28, 32} {
		modes = append(modes, benchMode{fmt.Sprintf("split%d", at), Options{Parallel: true, splitAt: at}})
	}
	benchDecodes(b, photoCases(b,
		"/usr/share/wallpapers/SafeLanding/contents/images/5120x2880.jpg",
		"/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg",
		"/usr/share/wallpapers/Honeywave/contents/images/1080x1920.jpg",
	), modes)
}
