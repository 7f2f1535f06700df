package convert

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

func newZoo(t *testing.T) (*zoo.Zoo, storage.Store) {
	t.Helper()
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return zoo.New(st), st
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	z, _ := newZoo(t)
	ck, err := Read(ctx, fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Import(ctx, z, ck, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "PP-LCNet_x0_25_textline_ori" || m.Version != "1" || m.WeightsSHA256 == "" ||
		!slices.Equal(m.Labels, []string{"0_degree", "180_degree"}) || m.Arch.InputWidth != 160 || m.Source.Format != "pir" {
		t.Errorf("manifest %+v", m)
	}
	got, err := z.Resolve(ctx, m.Name, "")
	if err != nil {
		t.Fatal(err)
	}
	w, err := z.Weights(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range ck.Tensors {
		if !slices.Equal(w[n].Data, want.Data) || !slices.Equal(w[n].Shape, want.Shape) {
			t.Fatalf("tensor %s changed in the zoo", n)
		}
	}
	// The same version again is refused; no version means the next one.
	if _, err := Import(ctx, z, ck, ImportOptions{Version: "1"}); !errors.Is(err, zoo.ErrVersionExists) {
		t.Errorf("re-import of version 1: %v", err)
	}
	m2, err := Import(ctx, z, ck, ImportOptions{DType: zoo.FP16})
	if err != nil || m2.Version != "2" || m2.DType != zoo.FP16 {
		t.Errorf("second import: %+v, %v", m2, err)
	}
}

// Bad input fails with a message naming the source and what is wrong, and
// leaves the zoo empty.
func TestImportRefusedLeavesZooEmpty(t *testing.T) {
	ctx := context.Background()
	ck, err := Read(ctx, fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	drop := func(name string) *Checkpoint {
		c := *ck
		c.Tensors = map[string]arch.Tensor{}
		for k, v := range ck.Tensors {
			if k != name {
				c.Tensors[k] = v
			}
		}
		return &c
	}
	reshape := func(name string, shape []int) *Checkpoint {
		c := drop(name)
		n := 1
		for _, d := range shape {
			n *= d
		}
		c.Tensors[name] = arch.Tensor{Shape: shape, Data: make([]float32, n)}
		return c
	}
	tests := []struct {
		name string
		ck   *Checkpoint
		opts ImportOptions
		want string
	}{
		{"missing tensor", drop("blocks4.1.pw_conv.bn._variance"), ImportOptions{}, "blocks4.1.pw_conv.bn._variance"},
		{"wrong shape", reshape("blocks6.0.se.conv2.bias", []int{7}), ImportOptions{}, "blocks6.0.se.conv2.bias"},
		{"labels", ck, ImportOptions{Labels: []string{"a"}}, "1 labels, the model has 1000 classes"},
		{"bad name", ck, ImportOptions{Name: "../x"}, "model name"},
		{"bad version", ck, ImportOptions{Version: "a/b"}, "version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, st := newZoo(t)
			_, err := Import(ctx, z, tc.ck, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "PPLCNet_x0_25.pdparams") {
				t.Fatalf("err = %v, want one naming the source and %q", err, tc.want)
			}
			keys, err := st.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 0 {
				t.Errorf("the zoo was touched: %v", keys)
			}
		})
	}
}
