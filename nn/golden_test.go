package nn_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/kernel"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/vecs"
	"github.com/lcnet/lcnet/nn"
)

var goldenNames = []string{
	"PPLCNet_x0_25", "PPLCNet_x0_35", "PPLCNet_x0_5", "PPLCNet_x0_75",
	"PPLCNet_x1_0", "PPLCNet_x1_5", "PPLCNet_x2_0", "PPLCNet_x2_5",
}

type goldenMeta struct {
	Scale    float64 `json:"scale"`
	ClassNum int     `json:"class_num"`
	Params   int     `json:"params"`
	Top1     []int   `json:"top1"`
}

func readTensors(t *testing.T, name string) map[string]arch.Tensor {
	t.Helper()
	f, err := os.Open(fixtures.Path(t, "golden", name+".pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tensors, err := convert.ReadPdparams(f)
	if err != nil {
		t.Fatal(err)
	}
	return tensors
}

func readNpy(t *testing.T, name, kind string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(fixtures.Path(t, "golden", name+"."+kind+".npy"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestGolden checks every released scale against the outputs an independent
// PyTorch implementation wrote for the same checkpoints.
func TestGolden(t *testing.T) {
	for _, name := range goldenNames {
		t.Run(name, func(t *testing.T) {
			if testing.Short() && name != "PPLCNet_x0_25" && name != "PPLCNet_x1_0" {
				t.Skip("-short: two scales only")
			}
			var meta goldenMeta
			b, err := os.ReadFile(fixtures.Path(t, "golden", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &meta); err != nil {
				t.Fatal(err)
			}
			tensors := readTensors(t, name)
			if got := arch.ParamCount(tensors); got != meta.Params {
				t.Errorf("ParamCount = %d, %s.json says %d", got, name, meta.Params)
			}
			got, err := arch.InferArch(tensors)
			if err != nil {
				t.Fatal(err)
			}
			want := arch.DefaultArch(meta.Scale, meta.ClassNum)
			if got.Scale != want.Scale || got.ClassNum != want.ClassNum || got.StemOut != want.StemOut || len(got.Blocks) != len(want.Blocks) {
				t.Fatalf("InferArch = scale %g, %d classes, stem %d, %d blocks; want %g, %d, %d, %d",
					got.Scale, got.ClassNum, got.StemOut, len(got.Blocks), want.Scale, want.ClassNum, want.StemOut, len(want.Blocks))
			}
			for i := range want.Blocks {
				if got.Blocks[i] != want.Blocks[i] {
					t.Fatalf("InferArch block %d = %+v, want %+v", i, got.Blocks[i], want.Blocks[i])
				}
			}
			x := readNpy(t, name, "input")
			n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
			golden := map[string]*npy.Array{
				"logits":        readNpy(t, name, "logits"),
				"probabilities": readNpy(t, name, "probs"),
				"features":      readNpy(t, name, "embedding"),
				"pooled":        readNpy(t, name, "gap"),
			}
			for _, half := range []bool{false, true} {
				m, err := nn.Load(got, tensors, nn.Options{Half: half})
				if err != nil {
					t.Fatal(err)
				}
				out, err := m.Infer(context.Background(), x.Data, n, h, w)
				m.Close()
				if err != nil {
					t.Fatal(err)
				}
				got := map[string][]float32{
					"logits": out.Logits, "probabilities": out.Probabilities,
					"features": out.Features, "pooled": out.Pooled,
				}
				for kind, g := range golden {
					dim := g.Shape[1]
					for k := range n {
						gw := g.Data[k*dim : (k+1)*dim]
						gg := got[kind][k*dim : (k+1)*dim]
						if !half {
							if i, ok := within(gg, gw, 1e-4); !ok {
								t.Errorf("fp32 image %d %s[%d] = %g, golden %g", k, kind, i, gg[i], gw[i])
							}
						} else if kind == "logits" || kind == "features" {
							if c := vecs.Cosine(gg, gw); c < 0.9999 {
								t.Errorf("fp16 image %d %s: cosine %.6f < 0.9999", k, kind, c)
							}
						}
					}
				}
				for k := range n {
					if top := vecs.Argmax(out.Logits[k*out.Classes : (k+1)*out.Classes]); k < len(meta.Top1) && top != meta.Top1[k] {
						t.Errorf("half=%v image %d: top-1 %d, golden %d", half, k, top, meta.Top1[k])
					}
				}
			}
		})
	}
}

// TestLoadNamesTheBadTensor checks that a broken checkpoint fails with the
// first offending tensor in network order.
func TestLoadNamesTheBadTensor(t *testing.T) {
	tensors := readTensors(t, "PPLCNet_x0_25")
	a := arch.DefaultArch(0.25, 1000)
	clone := func() map[string]arch.Tensor {
		c := make(map[string]arch.Tensor, len(tensors))
		for k, v := range tensors {
			c[k] = v
		}
		return c
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]arch.Tensor)
		want string
	}{
		{"missing", func(m map[string]arch.Tensor) {
			delete(m, "blocks5.3.pw_conv.bn._variance")
			delete(m, "fc.bias")
		}, "tensor blocks5.3.pw_conv.bn._variance: missing"},
		{"mis-shaped", func(m map[string]arch.Tensor) {
			m["blocks6.0.se.conv1.weight"] = arch.Tensor{Shape: []int{32, 128, 1, 1}, Data: make([]float32, 32*128)}
		}, "tensor blocks6.0.se.conv1.weight: shape [32 128 1 1]"},
		{"unexpected", func(m map[string]arch.Tensor) {
			m["head.extra"] = arch.Tensor{Shape: []int{1}, Data: []float32{0}}
			m["zz.extra"] = arch.Tensor{Shape: []int{1}, Data: []float32{0}}
		}, "tensor head.extra: unexpected"},
		{"short data", func(m map[string]arch.Tensor) {
			m["fc.bias"] = arch.Tensor{Shape: []int{1000}, Data: make([]float32, 999)}
		}, "tensor fc.bias: shape [1000] needs 1000 values, have 999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := clone()
			tc.edit(m)
			_, err := nn.Load(a, m, nn.Options{Threads: 1})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func within(got, want []float32, tol float64) (int, bool) {
	scale := 1.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		if math.Abs(float64(got[i])-float64(want[i])) > tol*scale {
			return i, false
		}
	}
	return -1, true
}

// TestGoldenEveryKernel reruns TestGolden in a child process for each
// kernel implementation other than the one this process chose (the pure-Go
// fallback always, AVX2 on AVX-512 machines), since the choice is made
// once at start-up from LCNET_KERNEL.
func TestGoldenEveryKernel(t *testing.T) {
	if os.Getenv("LCNET_KERNEL") != "" {
		t.Skip("child run: LCNET_KERNEL is set")
	}
	impls := []string{"generic"}
	if kernel.Impl() == "avx512" {
		impls = append(impls, "avx2")
	}
	for _, impl := range impls {
		t.Run(impl, func(t *testing.T) {
			args := []string{"-test.run=^TestGolden$", "-test.count=1"}
			if testing.Short() {
				args = append(args, "-test.short")
			}
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), "LCNET_KERNEL="+impl)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "PASS") {
				t.Fatalf("TestGolden with LCNET_KERNEL=%s: %v\n%s", impl, err, out)
			}
		})
	}
}
