package dataset

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/fstest"
)

func folder(counts ...int) fstest.MapFS {
	fsys := fstest.MapFS{}
	for c, n := range counts {
		for i := 0; i < n; i++ {
			fsys[fmt.Sprintf("class%d/%03d.jpg", c, i)] = file(fmt.Sprint(c, i))
		}
	}
	return fsys
}

func TestSplit(t *testing.T) {
	s, err := ImageFolder(folder(10, 20, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	train, val, err := Split(s, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	perClass := func(set *Set) []int {
		n := make([]int, len(s.Classes))
		for _, it := range set.Items {
			n[it.Label]++
		}
		return n
	}
	if got, want := perClass(val), []int{2, 4, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("validation per class %v, want %v", got, want)
	}
	if got, want := perClass(train), []int{8, 16, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("training per class %v, want %v", got, want)
	}
	_, again, _ := Split(s, 0.2, 7)
	_, other, _ := Split(s, 0.2, 8)
	if !slices.EqualFunc(val.Items, again.Items, func(a, b Item) bool { return a.Path == b.Path }) {
		t.Error("same seed, different split")
	}
	if slices.EqualFunc(val.Items, other.Items, func(a, b Item) bool { return a.Path == b.Path }) {
		t.Error("seeds 7 and 8 split alike")
	}
	for _, frac := range []float64{0, 1, -0.5} {
		if _, _, err := Split(s, frac, 1); !errors.Is(err, ErrSplit) {
			t.Errorf("fraction %g: error %v", frac, err)
		}
	}
}

func TestAlign(t *testing.T) {
	train, _ := ImageFolder(folder(1, 1, 1))
	val, _ := ImageFolder(fstest.MapFS{"class2/x.jpg": file("x")})
	got, err := Align(train, val)
	if err != nil {
		t.Fatal(err)
	}
	if got.Items[0].Label != 2 || len(got.Classes) != 3 {
		t.Errorf("aligned %+v classes %v", got.Items, got.Classes)
	}
	stranger, _ := ImageFolder(fstest.MapFS{"zebra/x.jpg": file("x")})
	if _, err := Align(train, stranger); !errors.Is(err, ErrSplit) {
		t.Errorf("unknown class: error %v", err)
	}
}

func TestDigest(t *testing.T) {
	digest := func(fsys fstest.MapFS) string {
		s, err := Open(fsys)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Digest(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := digest(folder(2, 2))
	if digest(folder(2, 2)) != base {
		t.Error("digest is not stable")
	}
	changed := folder(2, 2)
	changed["class0/000.jpg"] = file("other bytes")
	renamed := folder(2, 2)
	renamed["class1/zzz.jpg"] = renamed["class1/001.jpg"]
	delete(renamed, "class1/001.jpg")
	relabelled := fstest.MapFS{}
	for k, v := range folder(2, 2) {
		relabelled["x"+k] = v
	}
	for name, fsys := range map[string]fstest.MapFS{"content": changed, "path": renamed, "class name": relabelled} {
		if digest(fsys) == base {
			t.Errorf("changing the %s kept the digest", name)
		}
	}
}
