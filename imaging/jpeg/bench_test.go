package jpeg

import (
	"bytes"
	"fmt"
	stdjpeg "image/jpeg"
	"os"
	"syscall"
	"testing"
	"time"
)

// cpuTimer reports the process CPU time per op beside the wall time: on a
// shared machine the wall clock measures the neighbours as much as us.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuTimer { return cpuTimer{cpuNow()} }

func (c cpuTimer) report(b *testing.B) {
	b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N)/1e6, "cpu-ms/op")
}

// benchData is a 4032x3024 4:2:0 baseline JPEG (a 12 Mpx phone photo's
// size) from image/jpeg's encoder.
func benchData(b *testing.B) []byte {
	b.Helper()
	return encoded(b, synthetic(4032, 3024, 7), 90)
}

func BenchmarkDecode(b *testing.B) {
	data := benchData(b)
	for _, s := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprint("scale", s), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			defer startCPU().report(b)
			for b.Loop() {
				if _, err := Decode(data, Options{Scale: s}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStdlibDecode(b *testing.B) {
	data := benchData(b)
	b.SetBytes(int64(len(data)))
	defer startCPU().report(b)
	for b.Loop() {
		if _, err := stdjpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPhoto decodes the photos of Debian's plasma-workspace-wallpapers
// when installed: a 5120x2880 4:2:0 baseline and a 2560x1600 progressive.
func BenchmarkPhoto(b *testing.B) {
	for _, f := range []struct{ name, path string }{
		{"5120x2880_baseline", "/usr/share/wallpapers/SafeLanding/contents/images/5120x2880.jpg"},
		{"5120x2880_progressive", "/usr/share/wallpapers/Volna/contents/images/5120x2880.jpg"},
		{"2560x1600_progressive", "/usr/share/wallpapers/Autumn/contents/images/2560x1600.jpg"},
	} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			b.Logf("skipping %s: %v", f.name, err)
			continue
		}
		c, err := DecodeConfig(data)
		if err != nil {
			b.Fatal(err)
		}
		short := ScaleFor(c.Width, c.Height, 256*c.Width/min(c.Width, c.Height), 256)
		b.Run(f.name+"/stdlib", func(b *testing.B) {
			defer startCPU().report(b)
			for b.Loop() {
				if _, err := stdjpeg.Decode(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, s := range []int{1, short} {
			b.Run(fmt.Sprintf("%s/scale%d", f.name, s), func(b *testing.B) {
				defer startCPU().report(b)
				for b.Loop() {
					if _, err := Decode(data, Options{Scale: s}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
