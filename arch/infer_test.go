package arch

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestInferArch(t *testing.T) {
	cases := []struct {
		name string
		arch Arch
	}{
		{"x0_25", DefaultArch(0.25, 1000)},
		{"x2_5", DefaultArch(2.5, 1000)},
		{"x1_3 unreleased scale", DefaultArch(1.3, 7)},
		{"x0_6", DefaultArch(0.6, 3)},
		{"no last_conv, 2 classes", variant(0.25, 2, func(a *Arch) { a.UseLastConv = false })},
		{"class_expand 640", variant(0.5, 4, func(a *Arch) { a.ClassExpand = 640 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := InferArch(randomTensors(tc.arch, 1))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.arch
			if !want.UseLastConv {
				// Not visible without last_conv; InferArch keeps the default.
				want.ClassExpand = 1280
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("InferArch =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestInferArchErrors(t *testing.T) {
	a := DefaultArch(0.25, 10)
	for _, tc := range []struct {
		name string
		edit func(map[string]Tensor)
		want string
	}{
		{"no stem", func(m map[string]Tensor) { delete(m, "conv1.conv.weight") }, "tensor conv1.conv.weight: missing"},
		{"no blocks4", func(m map[string]Tensor) { delete(m, "blocks4.0.dw_conv.conv.weight") }, "tensor blocks4.0.dw_conv.conv.weight: missing"},
		{"fc width", func(m map[string]Tensor) {
			m["fc.weight"] = Tensor{Shape: []int{100, 10}, Data: make([]float32, 1000)}
		}, "tensor fc.weight: shape [100 10], want 1280 inputs"},
		{"non-square depthwise", func(m map[string]Tensor) {
			m["blocks2.0.dw_conv.conv.weight"] = Tensor{Shape: []int{8, 1, 3, 5}, Data: make([]float32, 120)}
		}, "tensor blocks2.0.dw_conv.conv.weight: shape [8 1 3 5]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := randomTensors(a, 1)
			tc.edit(m)
			_, err := InferArch(m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestWithStrides(t *testing.T) {
	list := []Stride{Square(2), {2, 1}, {2, 1}, {2, 1}, {2, 1}}
	got := DefaultArch(0.25, 2).WithStrides(list)
	want := DefaultArch(0.25, 2)
	want.StrideList = list
	want.FillBlocks()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WithStrides =\n%+v\nwant\n%+v", got, want)
	}
}

func variant(scale float64, classes int, f func(*Arch)) Arch {
	a := DefaultArch(scale, classes)
	if f != nil {
		f(&a)
		a.FillBlocks()
	}
	return a
}

// randomTensors returns a checkpoint for a with the table's shapes and
// seeded random values; InferArch reads only the shapes.
func randomTensors(a Arch, seed uint64) map[string]Tensor {
	r := rand.New(rand.NewPCG(seed, 7))
	t := map[string]Tensor{}
	for _, sp := range a.Tensors() {
		n := 1
		for _, d := range sp.Shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(r.NormFloat64())
		}
		if strings.HasSuffix(sp.Name, "._variance") {
			for i := range data {
				data[i] = 0.3 + r.Float32()
			}
		}
		t[sp.Name] = Tensor{Shape: append([]int(nil), sp.Shape...), Data: data}
	}
	return t
}
