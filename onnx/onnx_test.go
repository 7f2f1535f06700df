package onnx

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/npy"
)

// randomWeights fills every tensor arch needs with deterministic random
// values scaled so that activations stay O(1) through the whole network,
// BN statistics included, so that the folding is exercised for real.
func randomWeights(a arch.Arch, seed uint64) map[string]arch.Tensor {
	rng := rand.New(rand.NewPCG(seed, 0x6c636e6574))
	ts := map[string]arch.Tensor{}
	uniform := func(lo, hi float64, shape ...int) arch.Tensor {
		t := arch.Tensor{Shape: shape}
		t.Data = make([]float32, t.NumElements())
		for i := range t.Data {
			t.Data[i] = float32(lo + (hi-lo)*rng.Float64())
		}
		return t
	}
	conv := func(name string, shape ...int) {
		fanIn := shape[1] * shape[2] * shape[3]
		lim := math.Sqrt(6 / float64(fanIn))
		ts[name] = uniform(-lim, lim, shape...)
	}
	convBN := func(p string, shape ...int) {
		conv(p+".conv.weight", shape...)
		c := shape[0]
		ts[p+".bn.weight"] = uniform(0.5, 1.5, c)
		ts[p+".bn.bias"] = uniform(-0.3, 0.3, c)
		ts[p+".bn._mean"] = uniform(-0.2, 0.2, c)
		ts[p+".bn._variance"] = uniform(0.3, 2, c)
	}
	convBN("conv1", a.StemOut, 3, 3, 3)
	for _, b := range a.Blocks {
		p := b.Name()
		convBN(p+".dw_conv", b.In, 1, b.Kernel, b.Kernel)
		if b.SE {
			r := b.In / 4
			conv(p+".se.conv1.weight", r, b.In, 1, 1)
			ts[p+".se.conv1.bias"] = uniform(-0.1, 0.1, r)
			conv(p+".se.conv2.weight", b.In, r, 1, 1)
			ts[p+".se.conv2.bias"] = uniform(-0.1, 0.1, b.In)
		}
		convBN(p+".pw_conv", b.Out, b.In, 1, 1)
	}
	in := a.LastChannels()
	if a.UseLastConv {
		conv("last_conv.weight", a.ClassExpand, in, 1, 1)
		in = a.ClassExpand
	}
	lim := math.Sqrt(6 / float64(in))
	ts["fc.weight"] = uniform(-lim, lim, in, a.ClassNum)
	ts["fc.bias"] = uniform(-0.1, 0.1, a.ClassNum)
	return ts
}

func randomInput(seed uint64, n, h, w int) *npy.Array {
	rng := rand.New(rand.NewPCG(seed, 7))
	x := &npy.Array{Shape: []int{n, 3, h, w}, Data: make([]float32, n*3*h*w)}
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	return x
}

// TestExportONNXRuntimeVariants runs exports of random-weight networks
// under ONNX Runtime and compares every output with the float64 reference,
// covering the variants of released models.
func TestExportONNXRuntimeVariants(t *testing.T) {
	textline := arch.DefaultArch(0.25, 2)
	textline.StrideList = []arch.Stride{arch.Square(2), {H: 2, W: 1}, {H: 2, W: 1}, {H: 2, W: 1}, {H: 2, W: 1}}
	textline.InputHeight, textline.InputWidth = 80, 160
	textline.FillBlocks()
	noLast := arch.DefaultArch(0.5, 10)
	noLast.UseLastConv = false
	textlineNoLast := textline
	textlineNoLast.UseLastConv = false
	cases := []struct {
		name    string
		arch    arch.Arch
		opset   int
		n, h, w int
	}{
		{"x0_25 1000 classes", arch.DefaultArch(0.25, 1000), 0, 2, 64, 64},
		{"x0_25 opset 13", arch.DefaultArch(0.25, 1000), 13, 1, 64, 64},
		{"x1_0 odd size", arch.DefaultArch(1.0, 4), 0, 1, 72, 100},
		{"use_last_conv false", noLast, 0, 2, 64, 64},
		{"textline (2,1) strides 2 classes", textline, 0, 2, 80, 160},
		{"textline without last conv", textlineNoLast, 17, 1, 80, 160},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := randomWeights(c.arch, uint64(i+1))
			model := exportFile(t, c.arch, ts, Options{Opset: c.opset})
			x := randomInput(uint64(100+i), c.n, c.h, c.w)
			got := runORT(t, model, x, onnxOutputs...)
			want := refForward(c.arch, ts, x)
			compare(t, Logits, got[Logits], want.logits, 1e-4)
			compare(t, Probabilities, got[Probabilities], want.probs, 1e-5)
			compare(t, Features, got[Features], want.features, 1e-4)
			compare(t, Pooled, got[Pooled], want.pooled, 1e-4)
		})
	}
}

func readGolden(t *testing.T, scale string) (arch.Arch, map[string]arch.Tensor) {
	t.Helper()
	f, err := os.Open(fixtures.Path(t, "golden", "PPLCNet_x"+scale+".pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts, err := convert.ReadPdparams(f)
	if err != nil {
		t.Fatalf("ReadPdparams: %v", err)
	}
	var s float64
	if _, err := fmt.Sscanf(strings.Replace(scale, "_", ".", 1), "%g", &s); err != nil {
		t.Fatal(err)
	}
	return arch.DefaultArch(s, 1000), ts
}

func readGoldenNpy(t *testing.T, scale, what string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x"+scale+"."+what+".npy"))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestExportONNXGolden exports the golden checkpoints and checks ONNX
// Runtime's outputs against the expected outputs written by the independent
// PyTorch implementation.
func TestExportONNXGolden(t *testing.T) {
	for _, scale := range []string{"0_25", "1_0", "2_5"} {
		t.Run("x"+scale, func(t *testing.T) {
			if testing.Short() && scale == "2_5" {
				t.Skip("x2_5 is slow to export and run; -short covers x0_25 and x1_0")
			}
			a, ts := readGolden(t, scale)
			model := exportFile(t, a, ts, Options{})
			x := readGoldenNpy(t, scale, "input")
			got := runORT(t, model, x, onnxOutputs...)
			compare(t, Logits, got[Logits], rows(readGoldenNpy(t, scale, "logits")), 1e-4)
			compare(t, Probabilities, got[Probabilities], rows(readGoldenNpy(t, scale, "probs")), 1e-5)
			compare(t, Features, got[Features], rows(readGoldenNpy(t, scale, "embedding")), 1e-4)
			compare(t, Pooled, got[Pooled], rows(readGoldenNpy(t, scale, "gap")), 1e-4)
		})
	}
}

// TestReferenceMatchesGolden validates the float64 reference that the
// variant tests trust, against the independent golden outputs.
func TestReferenceMatchesGolden(t *testing.T) {
	a, ts := readGolden(t, "0_25")
	x := readGoldenNpy(t, "0_25", "input")
	want := refForward(a, ts, x)
	for _, c := range []struct {
		file string
		got  [][]float64
	}{{"logits", want.logits}, {"probs", want.probs}, {"embedding", want.features}, {"gap", want.pooled}} {
		g := readGoldenNpy(t, "0_25", c.file)
		compare(t, "reference "+c.file, &npy.Array{Shape: g.Shape, Data: g.Data}, c.got, 1e-4)
	}
}

// TestThirdPartyTextlineONNX runs the third-party export of the real
// text-line orientation model under the same harness: it must load, take
// x [N,3,80,160] and give a softmax over the 2 classes.
func TestThirdPartyTextlineONNX(t *testing.T) {
	model := fixtures.Path(t, "onnx", "PP-LCNet_x0_25_textline_ori.onnx")
	x := randomInput(5, 3, 80, 160)
	out := runORT(t, model, x, "fetch_name_0")["fetch_name_0"]
	if len(out.Shape) != 2 || out.Shape[0] != 3 || out.Shape[1] != 2 {
		t.Fatalf("output shape %v, want [3 2]", out.Shape)
	}
	for i := 0; i < 3; i++ {
		p0, p1 := out.Data[2*i], out.Data[2*i+1]
		if p0 < 0 || p1 < 0 || math.Abs(float64(p0+p1)-1) > 1e-5 {
			t.Errorf("row %d = [%g %g] is not a distribution", i, p0, p1)
		}
	}
}

// pbFields decodes one protobuf message into its fields by number, enough
// to inspect an export without ONNX Runtime.
func pbFields(t *testing.T, b []byte) map[protowire.Number][]any {
	t.Helper()
	m := map[protowire.Number][]any{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v any
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			v, n = protowire.ConsumeFixed32(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			t.Fatalf("field %d: unexpected wire type %d", num, typ)
		}
		if n < 0 {
			t.Fatalf("field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		m[num] = append(m[num], v)
	}
	return m
}

// TestExportONNXStructure decodes an export and checks the parts that
// users rely on: versions, opset, the dynamic input, the output names,
// and that every initializer's raw data has the size its dims say.
func TestExportONNXStructure(t *testing.T) {
	a := arch.DefaultArch(0.25, 1000)
	ts := randomWeights(a, 1)
	var buf bytes.Buffer
	if err := Write(&buf, a, ts, Options{ProducerVersion: "test", Metadata: map[string]string{"labels": `["a"]`}}); err != nil {
		t.Fatal(err)
	}
	model := pbFields(t, buf.Bytes())
	if got := model[1][0].(uint64); got != 8 {
		t.Errorf("ir_version %d, want 8", got)
	}
	opset := pbFields(t, model[8][0].([]byte))
	if got := opset[2][0].(uint64); got != DefaultOpset {
		t.Errorf("opset %d, want %d", got, DefaultOpset)
	}
	meta := map[string]string{}
	for _, kv := range model[14] {
		f := pbFields(t, kv.([]byte))
		meta[string(f[1][0].([]byte))] = string(f[2][0].([]byte))
	}
	if meta["labels"] != `["a"]` || !strings.Contains(meta["lcnet.arch"], `"scale":0.25`) {
		t.Errorf("metadata_props = %v", meta)
	}
	if len(model[7]) != 1 {
		t.Fatalf("%d graphs", len(model[7]))
	}
	graph := pbFields(t, model[7][0].([]byte))
	valueName := func(vi any) (string, []string) {
		f := pbFields(t, vi.([]byte))
		typ := pbFields(t, f[2][0].([]byte))
		tensor := pbFields(t, typ[1][0].([]byte))
		shape := pbFields(t, tensor[2][0].([]byte))
		var dims []string
		for _, d := range shape[1] {
			df := pbFields(t, d.([]byte))
			if p, ok := df[2]; ok {
				dims = append(dims, string(p[0].([]byte)))
			} else {
				dims = append(dims, fmt.Sprint(df[1][0]))
			}
		}
		return string(f[1][0].([]byte)), dims
	}
	in, dims := valueName(graph[11][0])
	if in != "x" || strings.Join(dims, ",") != "batch,3,height,width" {
		t.Errorf("input %s %v", in, dims)
	}
	var outs []string
	for _, o := range graph[12] {
		n, d := valueName(o)
		outs = append(outs, fmt.Sprintf("%s%v", n, d))
	}
	if got, want := strings.Join(outs, " "), "logits[batch 1000] probabilities[batch 1000] features[batch 1280] pooled[batch 128]"; got != want {
		t.Errorf("outputs %q, want %q", got, want)
	}
	names := map[string]bool{}
	var params int
	for _, init := range graph[5] {
		f := pbFields(t, init.([]byte))
		name := string(f[8][0].([]byte))
		if names[name] {
			t.Errorf("initializer %s twice", name)
		}
		names[name] = true
		n := 1
		for _, d := range f[1] {
			n *= int(d.(uint64))
		}
		if f[2][0].(uint64) != onnxFloat || len(f[9][0].([]byte)) != 4*n {
			t.Errorf("initializer %s: type %d, %d raw bytes for %d values", name, f[2][0], len(f[9][0].([]byte)), n)
		}
		params += n
	}
	// BN folding leaves conv weights plus one bias per conv: the parameter
	// count is the checkpoint's minus the BN mean, variance and one of
	// gamma/beta per channel.
	var want int
	for name, tn := range ts {
		switch {
		case strings.HasSuffix(name, ".bn._mean"), strings.HasSuffix(name, ".bn._variance"), strings.HasSuffix(name, ".bn.weight"):
		default:
			want += tn.NumElements()
		}
	}
	if params != want {
		t.Errorf("initializers hold %d values, want %d", params, want)
	}
	var ops []string
	for _, nd := range graph[1] {
		ops = append(ops, string(pbFields(t, nd.([]byte))[4][0].([]byte)))
	}
	if got := strings.Count(strings.Join(ops, " "), "HardSwish"); got != 2+2*len(a.Blocks) {
		t.Errorf("%d HardSwish nodes, want %d", got, 2+2*len(a.Blocks))
	}
}

func TestExportONNXErrors(t *testing.T) {
	a := arch.DefaultArch(0.25, 10)
	good := randomWeights(a, 3)
	without := func(name string) map[string]arch.Tensor {
		m := map[string]arch.Tensor{}
		for k, v := range good {
			if k != name {
				m[k] = v
			}
		}
		return m
	}
	with := func(name string, tn arch.Tensor) map[string]arch.Tensor {
		m := without(name)
		m[name] = tn
		return m
	}
	bad := a
	bad.ClassNum = 0
	cases := []struct {
		name string
		arch arch.Arch
		ts   map[string]arch.Tensor
		opts Options
		want string
	}{
		{"missing BN variance", a, without("blocks4.1.pw_conv.bn._variance"), Options{}, "tensor blocks4.1.pw_conv.bn._variance is missing"},
		{"missing fc bias", a, without("fc.bias"), Options{}, "tensor fc.bias is missing"},
		{"transposed fc", a, with("fc.weight", arch.Tensor{Shape: []int{10, 1280}, Data: make([]float32, 12800)}), Options{}, "fc.weight has shape [10 1280], the architecture needs [1280 10]"},
		{"short data", a, with("last_conv.weight", arch.Tensor{Shape: []int{1280, 128, 1, 1}, Data: make([]float32, 3)}), Options{}, "tensor last_conv.weight: shape [1280 128 1 1] needs 163840 values, have 3"},
		{"negative variance", a, with("conv1.bn._variance", arch.Tensor{Shape: []int{8}, Data: []float32{1, 1, -1, 1, 1, 1, 1, 1}}), Options{}, "conv1.bn._variance[2]"},
		{"opset too old", a, good, Options{Opset: 11}, "opset 11 not supported"},
		{"invalid arch", bad, good, Options{}, "class_num must be at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, c.arch, c.ts, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// failWriter fails after n bytes, to check write errors come back.
type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, errors.New("disk full")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestExportONNXWriteError(t *testing.T) {
	a := arch.DefaultArch(0.25, 10)
	err := Write(&failWriter{n: 100000}, a, randomWeights(a, 1), Options{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the writer's error", err)
	}
}

func readCheckpoint(t *testing.T, elem ...string) *convert.Checkpoint {
	t.Helper()
	ck, err := convert.Read(t.Context(), fixtures.Path(t, elem...), convert.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ck.Arch == nil {
		t.Fatalf("%s: no architecture read from the program", filepath.Join(elem...))
	}
	return ck
}

// TestExportONNXInferenceModels exports checkpoints read from real Paddle
// inference models (architecture from the program, trained weights) and
// checks them three ways: the Paddle 2 program against its expected
// outputs, the Paddle 3 text-line model against the third-party ONNX
// export of the same checkpoint, and every one against the float64
// reference.
func TestExportONNXInferenceModels(t *testing.T) {
	cases := []struct {
		name       string
		dir        []string
		n, h, w    int
		golden     string // expected outputs beside the model, if any
		thirdParty []string
	}{
		{"paddle2 x0_75", []string{"legacy", "PPLCNet_x0_75_infer"}, 0, 0, 0, "golden", nil},
		{"paddle3 textline", []string{"paddle3", "PP-LCNet_x0_25_textline_ori"}, 3, 80, 160, "", []string{"onnx", "PP-LCNet_x0_25_textline_ori.onnx"}},
		{"paddle3 textline without last conv", []string{"paddle3", "PP-LCNet_x0_25_textline_ori_nolastconv"}, 3, 80, 160, "", nil},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ck := readCheckpoint(t, c.dir...)
			model := exportFile(t, *ck.Arch, ck.Tensors, Options{})
			var x *npy.Array
			if c.golden != "" {
				var err error
				if x, err = npy.ReadFile(fixtures.Path(t, append(c.dir, c.golden+".input.npy")...)); err != nil {
					t.Fatal(err)
				}
			} else {
				x = randomInput(uint64(200+i), c.n, c.h, c.w)
			}
			got := runORT(t, model, x, onnxOutputs...)
			want := refForward(*ck.Arch, ck.Tensors, x)
			compare(t, "logits vs reference", got[Logits], want.logits, 1e-4)
			compare(t, "features vs reference", got[Features], want.features, 1e-4)
			compare(t, "pooled vs reference", got[Pooled], want.pooled, 1e-4)
			if c.golden != "" {
				for _, o := range []struct{ file, name string }{{"logits", Logits}, {"probs", Probabilities}} {
					g, err := npy.ReadFile(fixtures.Path(t, append(c.dir, c.golden+"."+o.file+".npy")...))
					if err != nil {
						t.Fatal(err)
					}
					compare(t, o.name+" vs "+o.file+".npy", got[o.name], rows(g), 1e-4)
				}
			}
			if c.thirdParty != nil {
				theirs := runORT(t, fixtures.Path(t, c.thirdParty...), x, "fetch_name_0")["fetch_name_0"]
				compare(t, "probabilities vs third-party export", got[Probabilities], rows(theirs), 1e-5)
			}
		})
	}
}

// TestExportONNXMultiLabel converts the real text-line program with its
// softmax turned into a sigmoid, as PaddleClas exports a use_multilabel
// model, and checks the export's probabilities under ONNX Runtime: the
// sigmoid of its own logits and of the float64 reference's.
func TestExportONNXMultiLabel(t *testing.T) {
	src := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
	pir := fixtures.ReadPIR(t, src)
	pir.SigmoidHead(t)
	ck, err := convert.Read(t.Context(), pir.Dir(t, src), convert.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ck.Arch.MultiLabel {
		t.Fatal("a sigmoid head was not read as multi-label")
	}
	model := exportFile(t, *ck.Arch, ck.Tensors, Options{})
	x := randomInput(300, 2, 80, 160)
	got := runORT(t, model, x, onnxOutputs...)
	want := refForward(*ck.Arch, ck.Tensors, x)
	compare(t, "logits vs reference", got[Logits], want.logits, 1e-4)
	compare(t, "probabilities vs reference sigmoid", got[Probabilities], want.probs, 1e-5)
	var own [][]float64
	for r := range want.logits {
		row := make([]float64, len(want.logits[r]))
		for j := range row {
			row[j] = 1 / (1 + math.Exp(-float64(got[Logits].Data[r*len(row)+j])))
		}
		own = append(own, row)
	}
	compare(t, "probabilities vs sigmoid of ORT logits", got[Probabilities], own, 1e-6)
}

func BenchmarkExportONNX(b *testing.B) {
	a := arch.DefaultArch(1.0, 1000)
	ts := randomWeights(a, 1)
	var n countWriter
	for b.Loop() {
		if err := Write(&n, a, ts, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(n) / int64(b.N))
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
