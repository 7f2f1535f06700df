package convert

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/fixtures"
)

func TestParseYMLDocOri(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(fixtures.Path(t, "structure", "PP-LCNet_x1_0_doc_ori"), "inference.yml"))
	if err != nil {
		t.Fatal(err)
	}
	p, labels, err := parseYML(b)
	if err != nil {
		t.Fatal(err)
	}
	want := arch.DefaultPreprocess()
	want.Scale = 0.00392156862745098
	if *p != want {
		t.Errorf("preprocess %+v, want %+v", *p, want)
	}
	if !slices.Equal(labels, []string{"0", "90", "180", "270"}) {
		t.Errorf("labels %q", labels)
	}
}

func TestParseYML(t *testing.T) {
	head := "PreProcess:\n  transform_ops:\n"
	tests := []struct {
		name, in string
		check    func(p *arch.Preprocess) bool
		err      string
	}{
		{"ratio scale and WH crop", head + "  - ResizeImage: {resize_short: 256, interpolation: BICUBIC}\n  - CropImage: {size: [200, 100]}\n  - NormalizeImage: {scale: 1.0/255.0, order: hwc}\n",
			func(p *arch.Preprocess) bool {
				return p.ResizeShort == 256 && p.CropWidth == 200 && p.CropHeight == 100 && p.Scale == 1.0/255 && p.Interpolation == "bicubic"
			}, ""},
		{"bgr", head + "  - DecodeImage: {to_rgb: false}\n  - ResizeImage: {size: 224}\n", func(p *arch.Preprocess) bool { return p.ChannelOrder == "BGR" && p.ResizeWidth == 224 }, ""},
		{"no transforms", "PostProcess:\n  Topk:\n    label_list: [a]\n", func(p *arch.Preprocess) bool { return p == nil }, ""},
		{"no resize", head + "  - NormalizeImage: {}\n", nil, "no ResizeImage"},
		{"unknown op", head + "  - RandomFlip: {}\n", nil, "unsupported transform RandomFlip"},
		{"bad mean", head + "  - ResizeImage: {size: 224}\n  - NormalizeImage: {mean: [1, 2]}\n", nil, "mean has 2 values"},
		{"zero std", head + "  - ResizeImage: {size: 224}\n  - NormalizeImage: {std: [1, 0, 1]}\n", nil, "std has a zero"},
		{"huge size", head + "  - ResizeImage: {size: [100000, 2]}\n", nil, "out of range"},
		{"bad scale", head + "  - ResizeImage: {size: 2}\n  - NormalizeImage: {scale: 1/0}\n", nil, "bad ratio"},
		{"not yaml", "{", nil, "inference.yml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _, err := parseYML([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(p) {
				t.Errorf("preprocess %+v", p)
			}
		})
	}
}
