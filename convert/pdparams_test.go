package convert

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/fixtures"
)

var goldenScales = []string{"0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5"}

func TestReadPdparamsGolden(t *testing.T) {
	for _, s := range goldenScales {
		t.Run(s, func(t *testing.T) {
			name := "PPLCNet_x" + s
			path := fixtures.Path(t, "golden", name+".pdparams")
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ts, err := ReadPdparams(f)
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Scale    float64 `json:"scale"`
				ClassNum int     `json:"class_num"`
				Params   int     `json:"params"`
			}
			b, err := os.ReadFile(fixtures.Path(t, "golden", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &meta); err != nil {
				t.Fatal(err)
			}
			if got := arch.ParamCount(ts); got != meta.Params {
				t.Errorf("params = %d, want %d", got, meta.Params)
			}
			// Every tensor the default architecture names must be there
			// with its shape; nothing else may be.
			want := map[string][]int{}
			for _, sp := range arch.DefaultArch(meta.Scale, meta.ClassNum).Tensors() {
				want[sp.Name] = sp.Shape
			}
			if len(ts) != len(want) {
				t.Errorf("%d tensors, want %d", len(ts), len(want))
			}
			for n, shape := range want {
				got, ok := ts[n]
				if !ok {
					t.Errorf("missing %s", n)
					continue
				}
				if !slices.Equal(got.Shape, shape) {
					t.Errorf("%s: shape %v, want %v", n, got.Shape, shape)
				}
				if err := got.Check(); err != nil {
					t.Errorf("%s: %v", n, err)
				}
			}
			if _, ok := ts[structuredKey]; ok {
				t.Errorf("%s returned as a tensor", structuredKey)
			}
		})
	}
}
