package convert

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/nn"
)

// The legacy fixture carries expected logits: the walk's name mapping and
// the .pdiparams order are right only if the network reproduces them.
func TestLegacyNumerics(t *testing.T) {
	dir := fixtures.Path(t, "legacy", "PPLCNet_x0_75_infer")
	ck, err := Read(context.Background(), dir, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Load(*ck.Arch, ck.Tensors, nn.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	in, err := npy.ReadFile(filepath.Join(dir, "golden.input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(filepath.Join(dir, "golden.logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Infer(context.Background(), in.Data, in.Shape[0], in.Shape[2], in.Shape[3])
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Logits) != len(want.Data) {
		t.Fatalf("%d logits, want %d", len(out.Logits), len(want.Data))
	}
	for i := range want.Data {
		if d := math.Abs(float64(out.Logits[i] - want.Data[i])); d > 1e-4 {
			t.Fatalf("logit %d: %g, want %g", i, out.Logits[i], want.Data[i])
		}
	}
}

// Both Paddle 3 releases must build into a network that takes their
// 80x160 input and gives two classes.
func TestPaddle3Builds(t *testing.T) {
	for _, d := range []string{"PP-LCNet_x0_25_textline_ori", "PP-LCNet_x0_25_textline_ori_nolastconv"} {
		t.Run(d, func(t *testing.T) {
			ck, err := Read(context.Background(), fixtures.Path(t, "paddle3", d), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			m, err := nn.Load(*ck.Arch, ck.Tensors, nn.Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			x := make([]float32, 3*80*160)
			out, err := m.Infer(context.Background(), x, 1, 80, 160)
			if err != nil {
				t.Fatal(err)
			}
			if out.Classes != 2 || math.Abs(float64(out.Probabilities[0]+out.Probabilities[1])-1) > 1e-5 {
				t.Errorf("output %+v", out)
			}
		})
	}
}
