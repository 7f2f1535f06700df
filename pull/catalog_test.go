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
			if e.File() != e.Name+"_infer.tar" || e.ImageNet {
				t.Errorf("%s: %+v is not a PaddleX inference tar", e.Name, e)
			}
		default:
			t.Errorf("%s: kind %q", e.Name, e.Kind)
		}
	}
	// 8 ImageNet scales + 3 SSLD, and the PaddleX special-purpose models.
	if kinds[Pdparams] != 11 || kinds[InferenceTar] != 4 {
		t.Errorf("catalog has %v, want 11 pdparams and 4 inference tars", kinds)
	}
	e, _ := Lookup("PPLCNet_x1_0")
	if got := e.URLFrom("http://127.0.0.1:8000/mirror/"); got != "http://127.0.0.1:8000/mirror/PPLCNet_x1_0_pretrained.pdparams" {
		t.Errorf("URLFrom mirror = %q", got)
	}
	if e.URLFrom("") != e.URL {
		t.Errorf("URLFrom without a mirror = %q, want the official URL", e.URLFrom(""))
	}
}
