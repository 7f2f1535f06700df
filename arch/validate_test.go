package arch

import (
	"strings"
	"testing"
)

// TestValidateInputSize: the input size is what a model without resize
// sizes preprocesses to, so it has the same bound as those sizes.
func TestValidateInputSize(t *testing.T) {
	for _, tc := range []struct {
		h, w int
		want string // "" accepted
	}{
		{224, 224, ""},
		{0, 0, ""},
		{MaxPreprocessSide, MaxPreprocessSide, ""},
		{4096, 224, "input size must be 0 to 2048 a side, got 4096x224"},
		{224, MaxPreprocessSide + 1, "got 224x2049"},
		{-1, 224, "got -1x224"},
	} {
		a := DefaultArch(0.25, 10)
		a.InputHeight, a.InputWidth = tc.h, tc.w
		err := a.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%dx%d: %v, want %q", tc.h, tc.w, err, tc.want)
		}
	}
}
