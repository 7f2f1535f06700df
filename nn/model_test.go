package nn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	spago "github.com/nlpodyssey/spago/nn"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/vecs"
)

func randomInput(n, h, w int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	x := make([]float32, n*3*h*w)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// closeTo reports the first element of got that differs from want by more
// than tol*max(1, max|want|), the acceptance tolerance of the issue.
func closeTo(got []float32, want []float64, tol float64) (int, bool) {
	scale := 1.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > tol*scale {
			return i, false
		}
	}
	return -1, true
}

func variant(scale float64, classes int, f func(*arch.Arch)) arch.Arch {
	a := arch.DefaultArch(scale, classes)
	if f != nil {
		f(&a)
		a.FillBlocks()
	}
	return a
}

func TestInferMatchesReference(t *testing.T) {
	textline := []arch.Stride{arch.Square(2), {H: 2, W: 1}, {H: 2, W: 1}, {H: 2, W: 1}, {H: 2, W: 1}}
	cases := []struct {
		name    string
		arch    arch.Arch
		n, h, w int
	}{
		{"x0_25 224 batch1", variant(0.25, 10, nil), 1, 224, 224},
		{"x0_25 80x160 batch3", variant(0.25, 10, nil), 3, 80, 160},
		{"x0_25 256x192 batch1", variant(0.25, 10, nil), 1, 256, 192},
		{"x0_35 32x32 batch8", variant(0.35, 10, nil), 8, 32, 32},
		{"x0_5 no last_conv", variant(0.5, 10, func(a *arch.Arch) { a.UseLastConv = false }), 3, 64, 96},
		{"x0_25 2 classes", variant(0.25, 2, nil), 3, 48, 48},
		{"x0_75 4 classes", variant(0.75, 4, nil), 1, 64, 64},
		{"x0_25 (2,1) strides 80x160", variant(0.25, 2, func(a *arch.Arch) { a.StrideList = textline }), 3, 80, 160},
		{"x1_3 odd scale, no dropout", variant(1.3, 5, func(a *arch.Arch) { a.DropoutProb = 0 }), 1, 40, 36},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tensors := randomTensors(tc.arch, uint64(i+1))
			x := randomInput(tc.n, tc.h, tc.w, uint64(i+100))
			refs := make([]refOut, tc.n)
			for k := range refs {
				chw := 3 * tc.h * tc.w
				refs[k] = reference(tc.arch, tensors, x[k*chw:(k+1)*chw], tc.h, tc.w)
			}
			for _, half := range []bool{false, true} {
				m, err := Load(tc.arch, tensors, Options{Half: half, Threads: 2})
				if err != nil {
					t.Fatal(err)
				}
				out, err := m.Infer(context.Background(), x, tc.n, tc.h, tc.w)
				m.Close()
				if err != nil {
					t.Fatal(err)
				}
				if out.N != tc.n || out.Classes != tc.arch.ClassNum || out.FeatureDim != tc.arch.FeatureDim() || out.PooledDim != tc.arch.LastChannels() {
					t.Fatalf("half=%v: output dims %d/%d/%d/%d", half, out.N, out.Classes, out.FeatureDim, out.PooledDim)
				}
				for k, ref := range refs {
					for _, o := range []struct {
						name string
						got  []float32
						want []float64
					}{
						{"logits", out.Logits[k*out.Classes : (k+1)*out.Classes], ref.logits},
						{"probabilities", out.Probabilities[k*out.Classes : (k+1)*out.Classes], ref.probs},
						{"features", out.Features[k*out.FeatureDim : (k+1)*out.FeatureDim], ref.features},
						{"pooled", out.Pooled[k*out.PooledDim : (k+1)*out.PooledDim], ref.pooled},
					} {
						if !half {
							if j, ok := closeTo(o.got, o.want, 1e-4); !ok {
								t.Errorf("fp32 image %d %s[%d] = %g, reference %g", k, o.name, j, o.got[j], o.want[j])
							}
						} else if o.name == "logits" || o.name == "features" {
							if c := vecs.Cosine(o.got, o.want); c < 0.9999 {
								t.Errorf("fp16 image %d %s: cosine %.6f < 0.9999", k, o.name, c)
							}
						}
					}
					if half && vecs.Argmax(out.Logits[k*out.Classes:(k+1)*out.Classes]) != vecs.Argmax(ref.logits) {
						t.Errorf("fp16 image %d: top-1 differs from the reference", k)
					}
				}
			}
		})
	}
}

func TestFP16HalvesWeightBytes(t *testing.T) {
	a := arch.DefaultArch(1, 1000)
	tensors := randomTensors(a, 3)
	m32, err := Load(a, tensors, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m32.Close()
	m16, err := Load(a, tensors, Options{Half: true, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m16.Close()
	// fp32 holds one float32 per learned value (BN folded away), plus the
	// zero padding of output channels to a multiple of 16 (fc's 1000
	// classes become 1008, for one).
	if learned := 4 * (arch.ParamCount(tensors) - bnChannels(a)); m32.WeightBytes() < learned || float64(m32.WeightBytes()) > 1.01*float64(learned) {
		t.Errorf("fp32 WeightBytes = %d, want %d plus at most 1%% padding", m32.WeightBytes(), learned)
	}
	ratio := float64(m16.WeightBytes()) / float64(m32.WeightBytes())
	if ratio > 0.52 {
		t.Errorf("fp16 WeightBytes %d is %.3f of fp32 %d, want about half", m16.WeightBytes(), ratio, m32.WeightBytes())
	}
	t.Logf("x1_0 weights: fp32 %d bytes, fp16 %d bytes (%.3f)", m32.WeightBytes(), m16.WeightBytes(), ratio)

	// spago's Params and the packed matrices are all the weight memory:
	// nothing is held twice.
	account := func(m *Model) (params, packed int) {
		spago.ForEachParam(m.net, func(p *spago.Param) { params += 4 * p.Size() })
		for _, l := range m.layers() {
			if l.w != nil {
				packed += l.w.SizeBytes()
			}
		}
		return params, packed
	}
	for _, m := range []*Model{m32, m16} {
		params, packed := account(m)
		if params+packed != m.WeightBytes() {
			t.Errorf("half=%v: spago params %d + packed %d bytes != WeightBytes %d", m.Half(), params, packed, m.WeightBytes())
		}
	}
	if params, _ := account(m16); params >= m32.WeightBytes()/20 {
		t.Errorf("fp16: spago params hold %d bytes of float32", params)
	}
}

// bnChannels is the number of channels with BatchNorm (each has a weight and
// bias that folding merges into one bias).
func bnChannels(a arch.Arch) int {
	n := a.StemOut
	for _, b := range a.Blocks {
		n += b.In + b.Out
	}
	return n
}

func TestConcurrentCallers(t *testing.T) {
	a := arch.DefaultArch(0.25, 10)
	tensors := randomTensors(a, 9)
	m, err := Load(a, tensors, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const h, w = 48, 64
	inputs := make([][]float32, 4)
	wants := make([]*Output, len(inputs))
	for i := range inputs {
		inputs[i] = randomInput(i%3+1, h, w, uint64(i))
		if wants[i], err = m.Infer(context.Background(), inputs[i], i%3+1, h, w); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			var out Output
			for r := range 3 {
				i := (g + r) % len(inputs)
				if err := m.InferInto(context.Background(), inputs[i], i%3+1, h, w, &out); err != nil {
					errs <- err
					return
				}
				for k, v := range wants[i].Logits {
					if out.Logits[k] != v {
						errs <- errors.New("concurrent result differs from the serial one")
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestInferValidatesAndCancels(t *testing.T) {
	a := arch.DefaultArch(0.25, 3)
	m, err := Load(a, randomTensors(a, 1), Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		n, h, w, len int
		want         string
	}{
		{1, 31, 64, 3 * 31 * 64, "at least 32x32"},
		{0, 32, 32, 0, "batch size"},
		{2, 32, 32, 3 * 32 * 32, "want 6144"},
		{1, 1 << 20, 1 << 20, 0, "the limits"},
	} {
		if _, err := m.Infer(ctx, make([]float32, tc.len), tc.n, tc.h, tc.w); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("n=%d %dx%d: error %v, want it to mention %q", tc.n, tc.h, tc.w, err, tc.want)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Infer(cctx, make([]float32, 3*32*32), 1, 32, 32); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: error %v", err)
	}
	// Cancelled while a long batch runs: the call stops early.
	// The batch is sized from one image's time so that it runs for about
	// 100x the deadline on any machine.
	one := time.Now()
	if _, err := m.Infer(ctx, randomInput(1, 96, 96, 1), 1, 96, 96); err != nil {
		t.Fatal(err)
	}
	const deadline = 5 * time.Millisecond
	n := min(300, max(16, int(100*deadline/max(time.Since(one), time.Microsecond))))
	x := randomInput(n, 96, 96, 1)
	cctx, cancel = context.WithTimeout(ctx, deadline)
	start := time.Now()
	_, err = m.Infer(cctx, x, n, 96, 96)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline during a batch: error %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled batch took %v to return", d)
	}
	m.Close()
	m.Close()
	if _, err := m.Infer(ctx, make([]float32, 3*32*32), 1, 32, 32); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: error %v", err)
	}
}

func TestInferIntoDoesNotAllocate(t *testing.T) {
	a := arch.DefaultArch(0.25, 10)
	m, err := Load(a, randomTensors(a, 2), Options{Threads: 2, Half: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := randomInput(3, 32, 48, 1)
	var out Output
	ctx := context.Background()
	if err := m.InferInto(ctx, x, 3, 32, 48, &out); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := m.InferInto(ctx, x, 3, 32, 48, &out); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("InferInto allocates %.1f times per call in steady state", allocs)
	}
}

func TestLoadRefusesTinySE(t *testing.T) {
	a := arch.DefaultArch(0.25, 2)
	last := len(a.Blocks) - 1
	a.Blocks[last-1].Out, a.Blocks[last].In, a.Blocks[last].Out = 2, 2, 2
	_, err := Load(a, randomTensors(a, 1), Options{Threads: 1})
	if err == nil || !strings.Contains(err.Error(), "blocks6.1: squeeze-excitation needs at least 4 channels") {
		t.Fatalf("error %v", err)
	}
}

// TestMultiLabelSigmoid: a multi-label head scores each class with the
// sigmoid of its logit, and the same weights as single-label give the
// same logits.
func TestMultiLabelSigmoid(t *testing.T) {
	ctx := context.Background()
	single := arch.DefaultArch(0.25, 5)
	multi := single
	multi.MultiLabel = true
	x := randomInput(2, 64, 64, 3)
	var outs [2]*Output
	for i, a := range []arch.Arch{single, multi} {
		m, err := Load(a, randomTensors(a, 7), Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		if outs[i], err = m.Infer(ctx, x, 2, 64, 64); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
	for i, l := range outs[1].Logits {
		if l != outs[0].Logits[i] {
			t.Fatalf("logit %d: %g multi-label, %g single", i, l, outs[0].Logits[i])
		}
		want := 1 / (1 + math.Exp(-float64(l)))
		if got := float64(outs[1].Probabilities[i]); math.Abs(got-want) > 1e-7 {
			t.Errorf("class %d: probability %g, want sigmoid %g", i, got, want)
		}
	}
}

// TestInferImagesAndSerial: images passed one slice each, and calls kept
// on one thread, give exactly the contiguous, split call's outputs.
func TestInferImagesAndSerial(t *testing.T) {
	a := arch.DefaultArch(0.25, 10)
	m, err := Load(a, randomTensors(a, 5), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const h, w = 40, 56
	ctx := context.Background()
	for _, n := range []int{1, 3} {
		x := randomInput(n, h, w, uint64(n))
		want, err := m.Infer(ctx, x, n, h, w)
		if err != nil {
			t.Fatal(err)
		}
		imgs := make([][]float32, n)
		for i := range imgs {
			imgs[i] = slices.Clone(x[i*3*h*w : (i+1)*3*h*w])
		}
		for _, serial := range []bool{false, true} {
			var viaImages, viaWith Output
			if err := m.InferImages(ctx, imgs, h, w, &viaImages, CallOptions{Serial: serial}); err != nil {
				t.Fatal(err)
			}
			if err := m.InferWith(ctx, x, n, h, w, &viaWith, CallOptions{Serial: serial}); err != nil {
				t.Fatal(err)
			}
			for _, got := range []*Output{&viaImages, &viaWith} {
				if !slices.Equal(got.Logits, want.Logits) || !slices.Equal(got.Features, want.Features) || !slices.Equal(got.Pooled, want.Pooled) {
					t.Errorf("batch %d, serial %v: outputs differ from Infer's", n, serial)
				}
			}
		}
	}
	var out Output
	if err := m.InferImages(ctx, [][]float32{make([]float32, 3*h*w), make([]float32, 5)}, h, w, &out, CallOptions{}); err == nil {
		t.Error("InferImages took an image of the wrong size")
	}
}
