package api

import (
	"context"
	"fmt"
	"image"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/imaging"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

const textlineName = "textline"

// textlinePath is the real Paddle 3 text-line orientation model.
func textlinePath(t testing.TB) string {
	return fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
}

// directProbs is what "lcnet infer" computes for one image: the same
// decode and preprocessing, then the network with no server in between.
func directProbs(t testing.TB, m zoo.Manifest, tensors map[string]nn.Tensor, img []byte) []float32 {
	t.Helper()
	model, err := nn.Load(m.Arch, tensors, nn.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer model.Close()
	dec, err := imaging.Decode(img, 0)
	if err != nil {
		t.Fatal(err)
	}
	x, h, w, err := imaging.Preprocess(dec, m.Preprocess, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := model.Infer(context.Background(), x, 1, h, w)
	if err != nil {
		t.Fatal(err)
	}
	return out.Probabilities
}

func TestRealTextLine(t *testing.T) {
	ts, be := realServer(t, map[string]string{textlineName: textlinePath(t)})
	m, err := be.resolve(context.Background(), textlineName, "")
	if err != nil {
		t.Fatal(err)
	}
	tensors := realTensors(t, be, m)
	up := testimage.TextLine(320, 48, "The quick brown fox jumps over the lazy dog 0123")
	for _, tt := range []struct {
		name  string
		img   []byte
		label string
	}{
		{"upright", mustEncode(t, "png", up), "0_degree"},
		{"rotated", mustEncode(t, "jpeg", testimage.Rotate180(up)), "180_degree"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, nil, tt.img)
			r := do(t, "POST", ts.URL+"/v1/models/"+textlineName+"/classify", ct, body)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			resp := decode[ClassifyResponse](t, r)
			p := resp.Results[0].Predictions
			if p[0].Label != tt.label || p[0].Score < 0.99 {
				t.Fatalf("top-1 %+v, want %s above 0.99", p[0], tt.label)
			}
			want := directProbs(t, m, tensors, tt.img)
			for _, pr := range p {
				if d := math.Abs(pr.Score - float64(want[pr.ClassID])); d > 1e-4 {
					t.Errorf("class %d: server %g, direct %g", pr.ClassID, pr.Score, want[pr.ClassID])
				}
			}
		})
	}
}

// TestRealV2Golden runs the fixtures' input tensors through the v2
// endpoint and compares every output with the independent implementation's.
func TestRealV2Golden(t *testing.T) {
	const name = "PPLCNet_x0_25"
	dir := filepath.Dir(fixtures.Path(t, "golden", name+".pdparams"))
	ts, _ := realServer(t, map[string]string{name: filepath.Join(dir, name+".pdparams")})
	in, err := npy.ReadFile(filepath.Join(dir, name+".input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	var data strings.Builder
	data.WriteString("[")
	for i, v := range in.Data {
		if i > 0 {
			data.WriteString(",")
		}
		fmt.Fprint(&data, v)
	}
	data.WriteString("]")
	r := do(t, "POST", ts.URL+"/v2/models/"+name+"/infer", "application/json",
		strings.NewReader(inferBody("x", in.Shape, data.String())))
	if r.status != 200 {
		t.Fatalf("%d %.500s", r.status, r.body)
	}
	resp := decode[V2InferResponse](t, r)
	golden := map[string]string{"logits": "logits", "probabilities": "probs", "features": "embedding", "pooled": "gap"}
	for _, o := range resp.Outputs {
		want, err := npy.ReadFile(filepath.Join(dir, name+"."+golden[o.Name]+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(o.Shape) != fmt.Sprint(want.Shape) {
			t.Errorf("%s: shape %v, golden %v", o.Name, o.Shape, want.Shape)
			continue
		}
		var worst float64
		for i, v := range o.Data {
			worst = max(worst, math.Abs(float64(v-want.Data[i]))/max(1, math.Abs(float64(want.Data[i]))))
		}
		if worst > 1e-4 {
			t.Errorf("%s: largest error %g", o.Name, worst)
		}
	}
}

func mustEncode(t testing.TB, format string, img image.Image) []byte {
	t.Helper()
	b, err := testimage.Encode(format, img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
