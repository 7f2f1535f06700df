package jpeg

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"unsafe"
)

// schedOpts decodes progressive scans through the scheduler whatever the
// image's size, holding at most tables table copies (0: the default).
func schedOpts(o Options, tables int) Options {
	o.Parallel, o.parallelMin, o.schedTables, o.splitMin = true, 1, tables, noSplit
	return o
}

// progressiveImages are the progressive test files, plus the progressive
// photos of plasma-workspace-wallpapers when installed and the test isn't
// short.
func progressiveImages(t *testing.T) []testImage {
	var out []testImage
	for _, ti := range testImages(t) {
		if c, err := DecodeConfig(ti.data); err == nil && c.Progressive {
			out = append(out, ti)
		}
	}
	if testing.Short() {
		return out
	}
	for _, p := range []string{
		"/usr/share/wallpapers/Autumn/contents/images/1280x800.jpg",
		"/usr/share/wallpapers/Volna/contents/images/1280x800.jpg",
	} {
		if data, err := os.ReadFile(p); err == nil {
			out = append(out, testImage{p, data, data, ""})
		}
	}
	return out
}

// TestScansMatchSerial checks that decoding the scans of a progressive
// file on two goroutines writes every plane byte as the serial decode
// does, at every scale and with table copies run every few scans.
func TestScansMatchSerial(t *testing.T) {
	images := progressiveImages(t)
	if len(images) < 5 {
		t.Fatalf("only %d progressive test images", len(images))
	}
	for _, ti := range images {
		for _, s := range []int{1, 2, 4, 8} {
			want, err := Decode(ti.data, Options{Scale: s})
			if err != nil {
				t.Fatal(err)
			}
			for _, tables := range []int{0, 1, 3} {
				what := fmt.Sprintf("%s scale %d tables %d", ti.name, s, tables)
				got, d, err := decodeWith(ti.data, schedOpts(Options{Scale: s}, tables))
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if d.sched == nil {
					t.Fatalf("%s: the scans did not go through the scheduler", what)
				}
				samePlanes(t, what, got, want)
			}
		}
	}
}

// TestScansErrors checks that truncated and corrupted progressive files
// fail the same way through the scheduler as serially, with the same
// planes when they decode, and that no goroutine outlives a decode.
func TestScansErrors(t *testing.T) {
	damagedFail(t, progressiveImages(t), rand.New(rand.NewPCG(15, 19)), []int{30, 50, 70, 90, 99}, 16, 8, []int{1, 4},
		func(o Options) Options { return schedOpts(o, 2) })
}

// TestScansCancel checks that a scheduled decode canceled at any point
// returns the context's error and leaves no goroutine behind.
func TestScansCancel(t *testing.T) {
	data, err := os.ReadFile("testdata/prog444.jpg")
	if err != nil {
		t.Fatal(err)
	}
	cancels(t, data, []int64{0, 1, 3, 7, 12}, func(o Options) Options { return schedOpts(o, 0) })
}

// TestScansMemory checks that the scheduler's table copies are bounded by
// schedTables however many tables a file defines, and that a MaxBytes
// too small for them decodes serially.
func TestScansMemory(t *testing.T) {
	data, err := os.ReadFile("testdata/prog444.jpg")
	if err != nil {
		t.Fatal(err)
	}
	_, serial := allocated(t, data, Options{})
	for _, tables := range []int{1, 4} {
		opt := schedOpts(Options{}, tables)
		_, d, err := decodeWith(data, opt)
		if err != nil {
			t.Fatal(err)
		}
		// A scan reads at most 4 tables, added before the limit is
		// checked.
		if d.sched.peak >= tables+4 {
			t.Errorf("tables %d: %d table copies held at once", tables, d.sched.peak)
		}
		// Two worker decoders (the tables they hold included) and the
		// copies.
		bound := uint64(2*int(unsafe.Sizeof(decoder{})) + d.sched.made*huffTableSize + 64<<10)
		_, got := allocated(t, data, opt)
		t.Logf("tables %d: serial decode allocated %d bytes, scheduled %d, bound %d over (%d copies, at most %d at once)",
			tables, serial, got, bound, d.sched.made, d.sched.peak)
		if got > serial+bound {
			t.Errorf("tables %d: scheduled decode allocated %d bytes, serial %d, more than %d over", tables, got, serial, bound)
		}
	}
	// What the decode needs besides the table copies: then a budget
	// with room for half of them decodes serially, with the same planes.
	const huge = 1 << 40
	_, d, err := decodeWith(data, schedOpts(Options{MaxBytes: huge}, 0))
	if err != nil || d.sched == nil {
		t.Fatalf("scheduled %v, err %v", d != nil && d.sched != nil, err)
	}
	need := huge - d.spare - schedTables*huffTableSize
	want, err := Decode(data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, d, err := decodeWith(data, schedOpts(Options{MaxBytes: need + schedTables*huffTableSize/2}, 0))
	if err != nil || d.sched != nil {
		t.Fatalf("tight budget: scheduled %v, err %v; want a serial decode", d != nil && d.sched != nil, err)
	}
	samePlanes(t, "tight budget", got, want)
}

// BenchmarkScans times the progressive photos of
// plasma-workspace-wallpapers (when installed) decoded serially and with
// Parallel (scans scheduled on two goroutines, the final IDCT split).
func BenchmarkScans(b *testing.B) {
	benchDecodes(b, photoCases(b,
		"/usr/share/wallpapers/Autumn/contents/images/2560x1600.jpg",
		"/usr/share/wallpapers/Volna/contents/images/5120x2880.jpg",
	), []benchMode{{"serial", Options{}}, {"parallel", Options{Parallel: true}}})
}
