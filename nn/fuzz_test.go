package nn

import (
	"context"
	"slices"
	"testing"

	"github.com/lcnet/lcnet/arch"
)

// FuzzLoad feeds InferArch and Load checkpoints with tensors dropped or
// reshaped (tensor shapes come from untrusted files): each must either be
// refused with an error or load and run without panicking.
func FuzzLoad(f *testing.F) {
	base := randomTensors(variant(0.25, 3, func(a *arch.Arch) { a.ClassExpand = 16 }), 1)
	names := make([]string, 0, len(base))
	for n := range base {
		names = append(names, n)
	}
	slices.Sort(names)
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0})      // drop the first tensor
	f.Add([]byte{5, 1, 0, 7})   // reshape one dimension
	f.Add([]byte{200, 2, 3, 1}) // another tensor, another dimension
	f.Add([]byte{77, 1, 1, 0})  // zero dimension
	f.Fuzz(func(t *testing.T, edits []byte) {
		tensors := make(map[string]arch.Tensor, len(base))
		for k, v := range base {
			tensors[k] = v
		}
		// Each edit is 4 bytes: tensor index, op, dimension, value.
		for i := 0; i+3 < len(edits) && i < 16; i += 4 {
			name := names[int(edits[i])%len(names)]
			t0 := tensors[name]
			switch edits[i+1] % 3 {
			case 0:
				delete(tensors, name)
			case 1, 2:
				shape := slices.Clone(t0.Shape)
				if len(shape) == 0 {
					continue
				}
				shape[int(edits[i+2])%len(shape)] = int(edits[i+3] % 40)
				n := 1
				for _, d := range shape {
					n *= d
				}
				tensors[name] = arch.Tensor{Shape: shape, Data: make([]float32, n)}
			}
		}
		a, err := arch.InferArch(tensors)
		if err != nil {
			return
		}
		m, err := Load(a, tensors, Options{Threads: 1})
		if err != nil {
			return
		}
		defer m.Close()
		if _, err := m.Infer(context.Background(), make([]float32, 3*32*32), 1, 32, 32); err != nil {
			t.Fatalf("loaded but failed to run: %v", err)
		}
	})
}
