package api

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/api/client"
)

func TestClient(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, func(c *Config) { c.APIKey = "k" })
	c, err := client.New(ts.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	redPNG, bluePNG := solid(t, "png", red, 20, 20), solid(t, "png", blue, 20, 20)

	if l, err := c.Models(ctx); err != nil || len(l.Models) != 1 || l.Default != "m" {
		t.Fatalf("Models: %+v, %v", l, err)
	}
	cl, err := c.Classify(ctx, "m", "1", [][]byte{redPNG, bluePNG}, 1)
	if err != nil || len(cl.Results) != 2 || cl.Results[1].Predictions[0].Label != "blue" || len(cl.Results[0].Predictions) != 1 {
		t.Fatalf("Classify: %+v, %v", cl, err)
	}
	if cl, err := c.Classify(ctx, "", "", [][]byte{redPNG}, 0); err != nil || cl.Model != "m" || len(cl.Results[0].Predictions) != 3 {
		t.Fatalf("Classify default: %+v, %v", cl, err)
	}
	if fe, err := c.Features(ctx, "m", "", [][]byte{redPNG}, "pooled", true); err != nil || fe.Dim != 2 {
		t.Fatalf("Features: %+v, %v", fe, err)
	}
	if _, err := c.Upload(ctx, "n", "", "", client.UploadFile{Name: "x.pdparams", Data: strings.NewReader("x")}); !isProblem(err, 401) {
		t.Fatalf("Upload without key: %v", err)
	}
	c.APIKey = "k"
	v, err := c.Upload(ctx, "n", "7", "fp16", client.UploadFile{Name: "x.pdparams", Data: strings.NewReader("x")})
	if err != nil || v.Version != "7" || v.DType != "fp16" {
		t.Fatalf("Upload: %+v, %v", v, err)
	}
	if m, err := c.Model(ctx, "n", "7"); err != nil || len(m.Versions) != 1 {
		t.Fatalf("Model: %+v, %v", m, err)
	}
	if err := c.Delete(ctx, "n", "7"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = c.Model(ctx, "n", "")
	var pe *client.ProblemError
	if !errors.As(err, &pe) || pe.Status != 404 || !strings.Contains(pe.Error(), `"n"`) {
		t.Fatalf("Model after delete: %v", err)
	}
	x := make([]float32, 3*32*32)
	out, err := c.Infer(ctx, "m", "", client.V2InferRequest{Inputs: []client.V2InferInput{{Name: "x", Shape: []int64{1, 3, 32, 32}, Datatype: "FP32", Data: x}},
		Outputs: []client.V2RequestedOutput{{Name: "probabilities"}}})
	if err != nil || len(out.Outputs) != 1 || len(out.Outputs[0].Data) != 3 {
		t.Fatalf("Infer: %+v, %v", out, err)
	}
	if _, err := client.New("localhost:8080", nil); err == nil {
		t.Error("client.New accepted a URL without a scheme")
	}
}

func isProblem(err error, status int) bool {
	var pe *client.ProblemError
	return errors.As(err, &pe) && pe.Status == status
}
