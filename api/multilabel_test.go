package api

import (
	"context"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/testimage"
)

// TestRealMultiLabel serves the real text-line model with its softmax
// edited into a sigmoid: classify answers every label with the sigmoid of
// the logit the network computes, marks labels positive at the threshold,
// and the model info says multi-label.
func TestRealMultiLabel(t *testing.T) {
	src := textlinePath(t)
	pir := fixtures.ReadPIR(t, src)
	pir.SigmoidHead(t)
	ts, be := realServer(t, map[string]string{"ml": pir.Dir(t, src)})
	m, err := be.resolve(context.Background(), "ml", "")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Arch.MultiLabel {
		t.Fatal("manifest: not multi-label")
	}
	img := mustEncode(t, "png", testimage.TextLine(320, 48, "The quick brown fox jumps over the lazy dog 0123"))

	// lcnet infer's logits for the same image, and their sigmoids.
	out := directInfer(t, m, realTensors(t, be, m), img)
	want := make([]float64, out.Classes)
	for c, l := range out.Logits {
		want[c] = 1 / (1 + math.Exp(-float64(l)))
	}

	for _, tt := range []struct {
		query     string
		n         int
		threshold float64
	}{
		{"", 2, 0.5},
		{"?threshold=0.999999", 2, 0.999999},
		{"?top_k=1&threshold=0", 1, 0},
	} {
		t.Run(tt.query, func(t *testing.T) {
			body, ct := multipartBody(t, nil, img)
			r := do(t, "POST", ts.URL+"/v1/models/ml/classify"+tt.query, ct, body)
			if r.status != http.StatusOK {
				t.Fatalf("%d %s", r.status, r.body)
			}
			resp := decode[client.ClassifyResponse](t, r)
			if !resp.MultiLabel || resp.Threshold != tt.threshold {
				t.Errorf("multi_label %t threshold %g, want true %g", resp.MultiLabel, resp.Threshold, tt.threshold)
			}
			p := resp.Results[0].Predictions
			if len(p) != tt.n {
				t.Fatalf("%d predictions, want %d", len(p), tt.n)
			}
			for i, pr := range p {
				if d := math.Abs(pr.Score - want[pr.ClassID]); d > 1e-6 {
					t.Errorf("class %d: score %g, sigmoid of logit %g", pr.ClassID, pr.Score, want[pr.ClassID])
				}
				if pr.Positive == nil || *pr.Positive != (pr.Score >= tt.threshold) {
					t.Errorf("class %d: score %g positive %v at threshold %g", pr.ClassID, pr.Score, pr.Positive, tt.threshold)
				}
				if i > 0 && pr.Score > p[i-1].Score {
					t.Errorf("not sorted: %+v", p)
				}
			}
			t.Logf("%s: %s %.6f positive=%t", tt.query, p[0].Label, p[0].Score, *p[0].Positive)
		})
	}
	r := do(t, "GET", ts.URL+"/v1/models/ml", "", nil)
	info := decode[client.Model](t, r)
	if v := info.Versions[0]; !v.MultiLabel || v.Threshold != 0.5 {
		t.Errorf("model info multi_label %t threshold %g", v.MultiLabel, v.Threshold)
	}
	body, ct := multipartBody(t, nil, img)
	if r := do(t, "POST", ts.URL+"/v1/models/ml/classify?threshold=2", ct, body); r.status != http.StatusBadRequest {
		t.Errorf("threshold=2: %d %s", r.status, r.body)
	}
}

// TestRealUploadRefusesProgram: POST /v1/models with a program lcnet does
// not compute answers 422 naming the op.
func TestRealUploadRefusesProgram(t *testing.T) {
	z, _ := realZoo(t, nil)
	ts, _ := serveZoo(t, z, nil)
	c, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := textlinePath(t)
	pir := fixtures.ReadPIR(t, src)
	pir.Op(pir.Find(t, "1.hardswish", 0))["#"] = "1.swish"
	dir := pir.Dir(t, src)
	var files []client.UploadFile
	for _, name := range []string{"inference.json", "inference.pdiparams", "inference.yml"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, client.UploadFile{Name: name, Data: f})
	}
	_, err = c.Upload(context.Background(), "bad", "", "", files...)
	if !isProblem(err, http.StatusUnprocessableEntity) || !strings.Contains(err.Error(), "op 149 (swish): not supported; PP-LCNet uses hardswish here") {
		t.Fatalf("upload: %v", err)
	}
}

// TestTopPredictionsNaN: the ranking is total, NaN last, so no NaN takes a
// number's place (classify refuses NaN before ranking).
func TestTopPredictionsNaN(t *testing.T) {
	nan := float32(math.NaN())
	got := topPredictions([]float32{0.2, nan, 0.9, nan, 0.5}, nil, 5)
	want := []int{2, 4, 0, 1, 3}
	for i, p := range got {
		if p.ClassID != want[i] {
			t.Fatalf("order %+v, want classes %v", got, want)
		}
	}
}
