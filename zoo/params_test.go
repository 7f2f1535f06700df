package zoo_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/internal/fixtures"
)

// TestParamCountMatchesPaper checks the parameter count the manifest records against
// the fixtures' counts, which match the paper (1.52M ... 9.02M).
func TestParamCountMatchesPaper(t *testing.T) {
	for _, s := range []string{"0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5"} {
		name := "PPLCNet_x" + s
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(fixtures.Path(t, "golden", name+".pdparams"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tensors, err := convert.ReadPdparams(f)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(strings.TrimSuffix(f.Name(), ".pdparams") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var meta struct{ Params int }
			if err := json.Unmarshal(b, &meta); err != nil {
				t.Fatal(err)
			}
			if got := arch.ParamCount(tensors); got != meta.Params {
				t.Fatalf("ParamCount = %d, the reference says %d", got, meta.Params)
			}
		})
	}
}
