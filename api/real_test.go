package api

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/internal/fixtures"
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

// directInfer is what "lcnet infer" computes for one image: the same
// decode and preprocessing, then the network with no server in between.
func directInfer(t testing.TB, m zoo.Manifest, tensors map[string]arch.Tensor, img []byte) *nn.Output {
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
	return out
}

// directProbs is directInfer's probabilities.
func directProbs(t testing.TB, m zoo.Manifest, tensors map[string]arch.Tensor, img []byte) []float32 {
	t.Helper()
	return directInfer(t, m, tensors, img).Probabilities
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
			resp := decode[client.ClassifyResponse](t, r)
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

func TestRealFeatures(t *testing.T) {
	ts, be := realServer(t, map[string]string{textlineName: textlinePath(t)})
	m, err := be.resolve(context.Background(), textlineName, "")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(ts.URL, nil)
	img := mustEncode(t, "png", testimage.TextLine(320, 48, "Hello, world"))
	for layer, dim := range map[string]int{"features": m.Arch.FeatureDim(), "pooled": m.Arch.LastChannels()} {
		res, err := c.Features(context.Background(), textlineName, "", [][]byte{img, img}, layer, true)
		if err != nil {
			t.Fatal(err)
		}
		if res.Dim != dim || len(res.Results) != 2 || len(res.Results[0].Features) != dim {
			t.Fatalf("%s: dim %d, want %d", layer, res.Dim, dim)
		}
		for i, v := range res.Results[0].Features {
			if math.Abs(float64(v-res.Results[1].Features[i])) > 1e-6 {
				t.Fatalf("%s: the same image gave different features at %d", layer, i)
			}
		}
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
	resp := decode[client.V2InferResponse](t, r)
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

// TestRealManagement uploads checkpoints through POST /v1/models into a
// real zoo, serves them, corrupts one version's weights, and deletes.
func TestRealManagement(t *testing.T) {
	z, dir := realZoo(t, nil)
	ts, _ := serveZoo(t, z, func(c *Config) { c.APIKey = "key" })
	c, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.APIKey = "key"
	ctx := context.Background()
	open := func(path string) client.UploadFile {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return client.UploadFile{Name: filepath.Base(path), Data: f}
	}
	// An inference directory sent as its files.
	tl := textlinePath(t)
	v1, err := c.Upload(ctx, "tl", "", "", open(filepath.Join(tl, "inference.json")), open(filepath.Join(tl, "inference.pdiparams")), open(filepath.Join(tl, "inference.yml")))
	if err != nil {
		t.Fatalf("upload inference dir: %v", err)
	}
	if v1.Version != "1" || v1.InputHeight != 80 || v1.InputWidth != 160 || v1.LabelCount != 2 || v1.SourceFormat != "pir" {
		t.Errorf("uploaded %+v", v1)
	}
	// The same model again, as fp16: version 2.
	v2, err := c.Upload(ctx, "tl", "", "fp16", open(filepath.Join(tl, "inference.json")), open(filepath.Join(tl, "inference.pdiparams")), open(filepath.Join(tl, "inference.yml")))
	if err != nil || v2.Version != "2" || v2.DType != "fp16" {
		t.Fatalf("upload fp16: %+v %v", v2, err)
	}
	// A dygraph checkpoint.
	if v, err := c.Upload(ctx, "x025", "", "", open(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"))); err != nil || v.LabelCount != 1000 || v.Architecture != "PPLCNet_x0_25" {
		t.Fatalf("upload pdparams: %+v %v", v, err)
	}
	// With its training config; a config of another network is refused
	// naming the first tensor, and one lcnet cannot follow naming the key.
	cfg := func(scale string) client.UploadFile {
		doc := "Arch:\n  name: PPLCNet_x" + scale + "\n  class_num: 1000\n  stride_list: [2, 2, 2, 2, 2]\n"
		return client.UploadFile{Name: "PPLCNet.yaml", Data: strings.NewReader(doc), Field: "config"}
	}
	if v, err := c.Upload(ctx, "x025", "", "", open(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams")), cfg("0_25")); err != nil || v.Version != "2" || v.ArchSource != "config" {
		t.Fatalf("upload pdparams with its config: %+v %v", v, err)
	}
	if _, err := c.Upload(ctx, "x025", "", "", open(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams")), cfg("1_0")); !isProblem(err, 422) || !strings.Contains(err.Error(), "conv1.conv.weight") {
		t.Errorf("upload with another network's config: %v", err)
	}
	if _, err := c.Upload(ctx, "x025", "", "", open(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams")),
		client.UploadFile{Name: "c.yaml", Data: strings.NewReader("Arch:\n  name: PPLCNet_x0_25\n  act: relu\n"), Field: "config"}); !isProblem(err, 422) || !strings.Contains(err.Error(), "Arch.act") {
		t.Errorf("upload with a relu config: %v", err)
	}
	if _, err := c.Upload(ctx, "junk", "", "", client.UploadFile{Name: "x.pdparams", Data: strings.NewReader("not a checkpoint")}); !isProblem(err, 422) {
		t.Errorf("junk upload: %v", err)
	}
	if _, err := c.Upload(ctx, "tl", "1", "", open(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"))); !isProblem(err, 409) {
		t.Errorf("existing version: %v", err)
	}

	up := mustEncode(t, "png", testimage.TextLine(320, 48, "Hello, world"))
	for _, v := range []string{"1", "2"} {
		res, err := c.Classify(ctx, "tl", v, [][]byte{up}, 2)
		if err != nil || res.Version != v || res.Results[0].Predictions[0].Label != "0_degree" {
			t.Fatalf("classify tl:%s: %+v %v", v, res, err)
		}
	}
	// Corrupt version 1's weights on disk: it is refused with a detail
	// naming it, and version 2 keeps serving. Version 1 is not loaded yet
	// in a fresh server, so start one.
	weights := filepath.Join(dir, "models", "tl", "1", "weights.safetensors")
	data, err := os.ReadFile(weights)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(weights, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ts2, _ := serveZoo(t, z, nil)
	c2, _ := client.New(ts2.URL, nil)
	_, err = c2.Classify(ctx, "tl", "1", [][]byte{up}, 1)
	var pe *client.ProblemError
	if !errors.As(err, &pe) || pe.Status != 500 || !strings.Contains(pe.Detail, "tl") || !strings.Contains(pe.Detail, "1") {
		t.Errorf("corrupt version: %v", err)
	}
	if _, err := c2.Classify(ctx, "tl", "2", [][]byte{up}, 1); err != nil {
		t.Errorf("version 2 beside a corrupt version 1: %v", err)
	}

	if err := c.Delete(ctx, "tl", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Classify(ctx, "tl", "2", [][]byte{up}, 1); !isProblem(err, 404) {
		t.Errorf("classify a deleted version: %v", err)
	}
	if err := c.Delete(ctx, "tl", "2"); !isProblem(err, 404) {
		t.Errorf("delete twice: %v", err)
	}
}

// TestRealConcurrent has many clients classify upright and rotated lines
// at once through the real network (run with -race).
func TestRealConcurrent(t *testing.T) {
	ts, _ := realServer(t, map[string]string{textlineName: textlinePath(t)})
	c, _ := client.New(ts.URL, nil)
	up := testimage.TextLine(320, 48, "Invoice total: 1,234.56 EUR")
	imgs := map[string][]byte{"0_degree": mustEncode(t, "png", up), "180_degree": mustEncode(t, "png", testimage.Rotate180(up))}
	// Kept small: under -race the network runs some 50 times slower;
	// TestConcurrentClientsBatch covers batching at scale.
	const clients, each = 8, 2
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for j := range each {
				want := "0_degree"
				if (i+j)%2 == 1 {
					want = "180_degree"
				}
				res, err := c.Classify(context.Background(), "", "", [][]byte{imgs[want]}, 1)
				if err != nil {
					t.Error(err)
					return
				}
				if got := res.Results[0].Predictions[0].Label; got != want {
					t.Errorf("got %s, want %s", got, want)
				}
			}
		})
	}
	wg.Wait()
}
