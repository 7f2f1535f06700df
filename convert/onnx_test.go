package convert

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lcnet/lcnet/arch"
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

// refOutputs is the float64 reference forward pass, written straight from
// PaddleClas' pp_lcnet.py with BatchNorm applied unfolded, so that it
// shares no code and no folding with the exporter.
type refOutputs struct {
	logits, probs, features, pooled [][]float64
}

type fmap struct {
	c, h, w int
	v       []float64
}

func refConv(x fmap, wt arch.Tensor, bias []float32, stride arch.Stride, groups int) fmap {
	co, cig, k := wt.Shape[0], wt.Shape[1], wt.Shape[2]
	p := (k - 1) / 2
	oh := (x.h+2*p-k)/stride.H + 1
	ow := (x.w+2*p-k)/stride.W + 1
	out := fmap{c: co, h: oh, w: ow, v: make([]float64, co*oh*ow)}
	coPerGroup := co / groups
	for o := 0; o < co; o++ {
		g := o / coPerGroup
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				var s float64
				if bias != nil {
					s = float64(bias[o])
				}
				for ci := 0; ci < cig; ci++ {
					ic := g*cig + ci
					for ky := 0; ky < k; ky++ {
						iy := y*stride.H - p + ky
						if iy < 0 || iy >= x.h {
							continue
						}
						for kx := 0; kx < k; kx++ {
							ix := xx*stride.W - p + kx
							if ix < 0 || ix >= x.w {
								continue
							}
							s += x.v[(ic*x.h+iy)*x.w+ix] * float64(wt.Data[((o*cig+ci)*k+ky)*k+kx])
						}
					}
				}
				out.v[(o*oh+y)*ow+xx] = s
			}
		}
	}
	return out
}

func hardswish64(v float64) float64 { return v * math.Min(math.Max(v+3, 0), 6) / 6 }

func refConvBN(ts map[string]arch.Tensor, p string, x fmap, stride arch.Stride, groups int) fmap {
	y := refConv(x, ts[p+".conv.weight"], nil, stride, groups)
	g, b, m, v := ts[p+".bn.weight"].Data, ts[p+".bn.bias"].Data, ts[p+".bn._mean"].Data, ts[p+".bn._variance"].Data
	hw := y.h * y.w
	for c := 0; c < y.c; c++ {
		for i := c * hw; i < (c+1)*hw; i++ {
			y.v[i] = hardswish64((y.v[i]-float64(m[c]))/math.Sqrt(float64(v[c])+1e-5)*float64(g[c]) + float64(b[c]))
		}
	}
	return y
}

func refGAP(x fmap) fmap {
	out := fmap{c: x.c, h: 1, w: 1, v: make([]float64, x.c)}
	hw := x.h * x.w
	for c := 0; c < x.c; c++ {
		var s float64
		for _, v := range x.v[c*hw : (c+1)*hw] {
			s += v
		}
		out.v[c] = s / float64(hw)
	}
	return out
}

func refForward(a arch.Arch, ts map[string]arch.Tensor, x *npy.Array) refOutputs {
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	var out refOutputs
	for i := 0; i < n; i++ {
		f := fmap{c: 3, h: h, w: w, v: make([]float64, 3*h*w)}
		for j := range f.v {
			f.v[j] = float64(x.Data[i*3*h*w+j])
		}
		f = refConvBN(ts, "conv1", f, a.StemStride(), 1)
		for _, b := range a.Blocks {
			p := b.Name()
			f = refConvBN(ts, p+".dw_conv", f, b.Stride, b.In)
			if b.SE {
				s := refConv(refGAP(f), ts[p+".se.conv1.weight"], ts[p+".se.conv1.bias"].Data, arch.Square(1), 1)
				for j := range s.v {
					s.v[j] = math.Max(s.v[j], 0)
				}
				s = refConv(s, ts[p+".se.conv2.weight"], ts[p+".se.conv2.bias"].Data, arch.Square(1), 1)
				hw := f.h * f.w
				for c := 0; c < f.c; c++ {
					gate := math.Min(math.Max(s.v[c]/6+0.5, 0), 1)
					for j := c * hw; j < (c+1)*hw; j++ {
						f.v[j] *= gate
					}
				}
			}
			f = refConvBN(ts, p+".pw_conv", f, arch.Square(1), 1)
		}
		gap := refGAP(f)
		pooled := append([]float64(nil), gap.v...)
		features := pooled
		head := pooled
		if a.UseLastConv {
			e := refConv(gap, ts["last_conv.weight"], nil, arch.Square(1), 1)
			features = make([]float64, len(e.v))
			head = make([]float64, len(e.v))
			for j, v := range e.v {
				features[j] = hardswish64(v)
				head[j] = features[j] * (1 - a.DropoutProb)
			}
		}
		fw, fb := ts["fc.weight"].Data, ts["fc.bias"].Data
		logits := make([]float64, a.ClassNum)
		for o := range logits {
			s := float64(fb[o])
			for j, v := range head {
				s += v * float64(fw[j*a.ClassNum+o])
			}
			logits[o] = s
		}
		mx := math.Inf(-1)
		for _, v := range logits {
			mx = math.Max(mx, v)
		}
		probs := make([]float64, len(logits))
		var sum float64
		for j, v := range logits {
			probs[j] = math.Exp(v - mx)
			sum += probs[j]
		}
		for j := range probs {
			probs[j] /= sum
		}
		out.logits = append(out.logits, logits)
		out.probs = append(out.probs, probs)
		out.features = append(out.features, features)
		out.pooled = append(out.pooled, pooled)
	}
	return out
}

// ortScript finds e2e/bench/ort_infer.mjs and checks that node and
// onnxruntime-node are installed; outside CI their absence skips the test.
func ortScript(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
	bench := filepath.Join(dir, "e2e", "bench")
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(bench, "node_modules", "onnxruntime-node")); err != nil {
		missing = "onnxruntime-node is not installed (cd e2e/bench && npm ci --ignore-scripts)"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s, and CI must run the ONNX Runtime checks", missing)
		}
		t.Skipf("%s; skipping the ONNX Runtime check", missing)
	}
	return filepath.Join(bench, "ort_infer.mjs")
}

// runORT runs model on x under ONNX Runtime and returns its outputs by name.
func runORT(t *testing.T, model string, x *npy.Array, names ...string) map[string]*npy.Array {
	t.Helper()
	script := ortScript(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "input.npy")
	if err := npy.WriteFile(in, x); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	cmd := exec.CommandContext(t.Context(), "node", script, model, in, outDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ort_infer.mjs %s: %v\n%s", model, err, out)
	}
	res := map[string]*npy.Array{}
	for _, n := range names {
		a, err := npy.ReadFile(filepath.Join(outDir, n+".npy"))
		if err != nil {
			t.Fatalf("output %s: %v", n, err)
		}
		res[n] = a
	}
	return res
}

func exportFile(t *testing.T, a arch.Arch, ts map[string]arch.Tensor, opts ONNXOptions) string {
	t.Helper()
	var buf bytes.Buffer
	if err := ExportONNX(&buf, a, ts, opts); err != nil {
		t.Fatalf("ExportONNX: %v", err)
	}
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// compare checks got [N, dim] against want within tol*max(1, max|want|).
func compare(t *testing.T, what string, got *npy.Array, want [][]float64, tol float64) {
	t.Helper()
	if len(got.Shape) != 2 || got.Shape[0] != len(want) || got.Shape[1] != len(want[0]) {
		t.Fatalf("%s: shape %v, want [%d %d]", what, got.Shape, len(want), len(want[0]))
	}
	scale := 1.0
	for _, row := range want {
		for _, v := range row {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	worst, at := 0.0, 0
	for i, row := range want {
		for j, v := range row {
			if d := math.Abs(float64(got.Data[i*len(row)+j]) - v); d > worst {
				worst, at = d, i*len(row)+j
			}
		}
	}
	t.Logf("%s: max |diff| %.3g (scale %.3g)", what, worst, scale)
	if worst > tol*scale {
		t.Errorf("%s: max |diff| %.3g at flat index %d exceeds %.3g", what, worst, at, tol*scale)
	}
}

func rows(a *npy.Array) [][]float64 {
	n, d := a.Shape[0], a.Shape[1]
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
		for j := range out[i] {
			out[i][j] = float64(a.Data[i*d+j])
		}
	}
	return out
}

var onnxOutputs = []string{ONNXLogits, ONNXProbabilities, ONNXFeatures, ONNXPooled}

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
			model := exportFile(t, c.arch, ts, ONNXOptions{Opset: c.opset})
			x := randomInput(uint64(100+i), c.n, c.h, c.w)
			got := runORT(t, model, x, onnxOutputs...)
			want := refForward(c.arch, ts, x)
			compare(t, ONNXLogits, got[ONNXLogits], want.logits, 1e-4)
			compare(t, ONNXProbabilities, got[ONNXProbabilities], want.probs, 1e-5)
			compare(t, ONNXFeatures, got[ONNXFeatures], want.features, 1e-4)
			compare(t, ONNXPooled, got[ONNXPooled], want.pooled, 1e-4)
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
	ts, err := ReadPdparams(f)
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
			model := exportFile(t, a, ts, ONNXOptions{})
			x := readGoldenNpy(t, scale, "input")
			got := runORT(t, model, x, onnxOutputs...)
			compare(t, ONNXLogits, got[ONNXLogits], rows(readGoldenNpy(t, scale, "logits")), 1e-4)
			compare(t, ONNXProbabilities, got[ONNXProbabilities], rows(readGoldenNpy(t, scale, "probs")), 1e-5)
			compare(t, ONNXFeatures, got[ONNXFeatures], rows(readGoldenNpy(t, scale, "embedding")), 1e-4)
			compare(t, ONNXPooled, got[ONNXPooled], rows(readGoldenNpy(t, scale, "gap")), 1e-4)
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
	if err := ExportONNX(&buf, a, ts, ONNXOptions{ProducerVersion: "test", Metadata: map[string]string{"labels": `["a"]`}}); err != nil {
		t.Fatal(err)
	}
	model := pbFields(t, buf.Bytes())
	if got := model[1][0].(uint64); got != 8 {
		t.Errorf("ir_version %d, want 8", got)
	}
	opset := pbFields(t, model[8][0].([]byte))
	if got := opset[2][0].(uint64); got != DefaultONNXOpset {
		t.Errorf("opset %d, want %d", got, DefaultONNXOpset)
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
		opts ONNXOptions
		want string
	}{
		{"missing BN variance", a, without("blocks4.1.pw_conv.bn._variance"), ONNXOptions{}, "tensor blocks4.1.pw_conv.bn._variance is missing"},
		{"missing fc bias", a, without("fc.bias"), ONNXOptions{}, "tensor fc.bias is missing"},
		{"transposed fc", a, with("fc.weight", arch.Tensor{Shape: []int{10, 1280}, Data: make([]float32, 12800)}), ONNXOptions{}, "fc.weight has shape [10 1280], the architecture needs [1280 10]"},
		{"short data", a, with("last_conv.weight", arch.Tensor{Shape: []int{1280, 128, 1, 1}, Data: make([]float32, 3)}), ONNXOptions{}, "tensor last_conv.weight: shape [1280 128 1 1] needs 163840 values, have 3"},
		{"negative variance", a, with("conv1.bn._variance", arch.Tensor{Shape: []int{8}, Data: []float32{1, 1, -1, 1, 1, 1, 1, 1}}), ONNXOptions{}, "conv1.bn._variance[2]"},
		{"opset too old", a, good, ONNXOptions{Opset: 11}, "opset 11 not supported"},
		{"invalid arch", bad, good, ONNXOptions{}, "class_num must be at least 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ExportONNX(&bytes.Buffer{}, c.arch, c.ts, c.opts)
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
	err := ExportONNX(&failWriter{n: 100000}, a, randomWeights(a, 1), ONNXOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v, want the writer's error", err)
	}
}

func readCheckpoint(t *testing.T, elem ...string) *Checkpoint {
	t.Helper()
	ck, err := Read(t.Context(), fixtures.Path(t, elem...), ReadOptions{})
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
			model := exportFile(t, *ck.Arch, ck.Tensors, ONNXOptions{})
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
			compare(t, "logits vs reference", got[ONNXLogits], want.logits, 1e-4)
			compare(t, "features vs reference", got[ONNXFeatures], want.features, 1e-4)
			compare(t, "pooled vs reference", got[ONNXPooled], want.pooled, 1e-4)
			if c.golden != "" {
				for _, o := range []struct{ file, name string }{{"logits", ONNXLogits}, {"probs", ONNXProbabilities}} {
					g, err := npy.ReadFile(fixtures.Path(t, append(c.dir, c.golden+"."+o.file+".npy")...))
					if err != nil {
						t.Fatal(err)
					}
					compare(t, o.name+" vs "+o.file+".npy", got[o.name], rows(g), 1e-4)
				}
			}
			if c.thirdParty != nil {
				theirs := runORT(t, fixtures.Path(t, c.thirdParty...), x, "fetch_name_0")["fetch_name_0"]
				compare(t, "probabilities vs third-party export", got[ONNXProbabilities], rows(theirs), 1e-5)
			}
		})
	}
}

func BenchmarkExportONNX(b *testing.B) {
	a := arch.DefaultArch(1.0, 1000)
	ts := randomWeights(a, 1)
	var n countWriter
	for b.Loop() {
		if err := ExportONNX(&n, a, ts, ONNXOptions{}); err != nil {
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
