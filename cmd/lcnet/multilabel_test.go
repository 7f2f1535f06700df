package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/zoo"
)

// TestConvertRefusesProgram: a program with an op lcnet does not compute
// fails convert with exit 1 and one line naming the op, and the zoo is left
// as it was.
func TestConvertRefusesProgram(t *testing.T) {
	src := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
	pir := fixtures.ReadPIR(t, src)
	pir.Attr(t, pir.Find(t, "1.hardsigmoid", 0), "slope")["D"] = 0.2
	store := t.TempDir()
	_, stderr, code := lcnet(t, nil, "convert", pir.Dir(t, src), "--name", "bad", "--store", store)
	wantFailure(t, code, stderr, exitFail, "lcnet convert: ", "op 230 (hardsigmoid): slope: is 0.2; PP-LCNet computes with 0.1666667")
	if refs := zooRefs(t, store); len(refs) != 0 {
		t.Errorf("zoo holds %v after a refused convert", refs)
	}
}

// TestClassifyMultiLabel converts the real text-line program with a
// sigmoid head and checks classify's scores against the sigmoid of the
// logits lcnet infer writes for the same preprocessed image.
func TestClassifyMultiLabel(t *testing.T) {
	src := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
	pir := fixtures.ReadPIR(t, src)
	pir.SigmoidHead(t)
	store, tmp := t.TempDir(), t.TempDir()
	mustLcnet(t, "convert", pir.Dir(t, src), "--name", "ml", "--store", store)
	if show := mustLcnet(t, "zoo", "show", "ml", "--store", store); !strings.Contains(show, "multi-label (sigmoid per label, positive at 0.5)") || !strings.Contains(show, "Arch from:     program") {
		t.Errorf("zoo show of a sigmoid head:\n%s", show)
	}

	png := filepath.Join(tmp, "line.png")
	img := testimage.TextLine(320, 48, "The quick brown fox jumps over the lazy dog 0123")
	enc, err := testimage.PNG(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(png, enc, 0o644); err != nil {
		t.Fatal(err)
	}
	var out classifyOutput
	if err := json.Unmarshal([]byte(mustLcnet(t, "classify", png, "--model", "ml", "--store", store, "--json")), &out); err != nil {
		t.Fatal(err)
	}
	if !out.MultiLabel || out.Threshold != zoo.DefaultThreshold || len(out.Results[0].Predictions) != 2 {
		t.Fatalf("classify: %+v", out)
	}

	// The same image through lcnet infer: preprocess as the manifest says.
	raw, err := os.ReadFile(png)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := imaging.Decode(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	x, h, w, err := imaging.Preprocess(dec, textlinePreprocess(t, store), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(tmp, "x.npy")
	if err := npy.WriteFile(in, &npy.Array{Shape: []int{1, 3, h, w}, Data: x}); err != nil {
		t.Fatal(err)
	}
	mustLcnet(t, "infer", "--model", "ml", "--store", store, "--input", in, "--out", tmp)
	logits, err := npy.ReadFile(filepath.Join(tmp, "logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	probs, err := npy.ReadFile(filepath.Join(tmp, "probabilities.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range out.Results[0].Predictions {
		want := 1 / (1 + math.Exp(-float64(logits.Data[p.ClassID])))
		if math.Abs(p.Score-want) > 1e-4 || math.Abs(float64(probs.Data[p.ClassID])-want) > 1e-6 {
			t.Errorf("class %d: classify %g, infer probability %g, sigmoid of infer logit %g", p.ClassID, p.Score, probs.Data[p.ClassID], want)
		}
		if p.Positive == nil || *p.Positive != (p.Score >= 0.5) {
			t.Errorf("class %d: score %g positive %v", p.ClassID, p.Score, p.Positive)
		}
	}
}

func textlinePreprocess(t *testing.T, store string) arch.Preprocess {
	t.Helper()
	var m zoo.Manifest
	if err := json.Unmarshal([]byte(mustLcnet(t, "zoo", "show", "ml", "--store", store, "--json")), &m); err != nil {
		t.Fatal(err)
	}
	return m.Preprocess
}
