package pull

import (
	"errors"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"PPLCNet_x1_0", "PPLCNet_x1_0"},
		{"pplcnet_x0_25", "PPLCNet_x0_25"},
		{"PP-LCNet_x2_5", "PPLCNet_x2_5"},
		{"PPLCNet_x2_5_ssld", "PPLCNet_x2_5_ssld"},
		{"PP-LCNet_x1_0_doc_ori", "PP-LCNet_x1_0_doc_ori"},
		{"pplcnet_x0_25_textline_ori", "PP-LCNet_x0_25_textline_ori"},
	} {
		e, err := Lookup(tc.in)
		if err != nil || e.Name != tc.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tc.in, e.Name, err, tc.want)
		}
	}
	_, err := Lookup("PPLCNet_x0_75_ssld")
	if !errors.Is(err, ErrUnknownModel) {
		t.Fatalf("unknown name: err = %v, want ErrUnknownModel", err)
	}
	// The error must help: it lists what can be pulled.
	for _, name := range []string{"PPLCNet_x0_25", "PPLCNet_x1_0_ssld", "PP-LCNet_x1_0_table_cls"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}

func TestCatalog(t *testing.T) {
	es := Catalog()
	kinds := map[Kind]int{}
	seen := map[string]bool{}
	for _, e := range es {
		kinds[e.Kind]++
		if seen[normalize(e.Name)] {
			t.Errorf("%s: two entries normalize to the same name", e.Name)
		}
		seen[normalize(e.Name)] = true
		if !strings.HasPrefix(e.URL, "https://") {
			t.Errorf("%s: URL %q is not https", e.Name, e.URL)
		}
		switch e.Kind {
		case Pdparams:
			if !strings.HasSuffix(e.File(), "_pretrained.pdparams") || !e.ImageNet || e.Classes != 1000 {
				t.Errorf("%s: %+v is not a PaddleClas ImageNet checkpoint", e.Name, e)
			}
		case InferenceTar:
			if e.File() != e.Name+"_infer.tar" || e.ImageNet || !strings.HasPrefix(e.URL, paddleXBase) {
				t.Errorf("%s: %+v is not a PaddleX inference tar", e.Name, e)
			}
		case PULCTar:
			if "PULC_"+strings.TrimSuffix(e.File(), "_infer.tar") != e.Name || !strings.HasPrefix(e.URL, pulcBase) || e.Preprocess == nil {
				t.Errorf("%s: %+v is not a PULC inference tar with its pipeline", e.Name, e)
			}
		default:
			t.Errorf("%s: kind %q", e.Name, e.Kind)
		}
	}
	// 8 ImageNet scales + 3 SSLD, the PaddleX special-purpose models and
	// PaddleClas' nine PULC models.
	if kinds[Pdparams] != 11 || kinds[InferenceTar] != 6 || kinds[PULCTar] != 9 {
		t.Errorf("catalog has %v, want 11 pdparams, 6 inference tars and 9 PULC tars", kinds)
	}
	for _, e := range es {
		if e.InputHeight < 32 || e.InputWidth < 32 {
			t.Errorf("%s: input %dx%d", e.Name, e.InputHeight, e.InputWidth)
		}
		if len(e.Labels) > 0 && len(e.Labels) != e.Classes {
			t.Errorf("%s: %d labels for %d classes", e.Name, len(e.Labels), e.Classes)
		}
		if p := e.Preprocess; p != nil {
			if h, w := p.OutputSize(); h != e.InputHeight || w != e.InputWidth {
				t.Errorf("%s: pipeline gives %dx%d, entry says %dx%d", e.Name, h, w, e.InputHeight, e.InputWidth)
			}
		}
		if e.MultiLabel != strings.Contains(e.Name, "attribute") {
			t.Errorf("%s: multi-label %v", e.Name, e.MultiLabel)
		}
	}
	for name, want := range map[string]struct {
		classes int
		h, w    int
		first   string
		last    string
	}{
		"PULC_traffic_sign":                  {232, 224, 224, "pl80", "pw4"},
		"PULC_person_attribute":              {26, 256, 192, "Hat", "Back"},
		"PULC_vehicle_attribute":             {19, 192, 256, "yellow", "estate"},
		"PULC_textline_orientation":          {2, 80, 160, "0_degree", "180_degree"},
		"PULC_language_classification":       {10, 80, 160, "arabic", "latin"},
		"PP-LCNet_x1_0_pedestrian_attribute": {26, 256, 192, "Hat", "Back"},
	} {
		e, err := Lookup(name)
		if err != nil || e.Classes != want.classes || e.InputHeight != want.h || e.InputWidth != want.w ||
			e.Labels[0] != want.first || e.Labels[len(e.Labels)-1] != want.last {
			t.Errorf("%s: %+v %v", name, e, err)
		}
	}
	e, _ := Lookup("PPLCNet_x1_0")
	if got := e.URLFrom("http://127.0.0.1:8000/mirror/"); got != "http://127.0.0.1:8000/mirror/PPLCNet_x1_0_pretrained.pdparams" {
		t.Errorf("URLFrom mirror = %q", got)
	}
	if e.URLFrom("") != e.URL {
		t.Errorf("URLFrom without a mirror = %q, want the official URL", e.URLFrom(""))
	}
}
