package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

// fakeBackend is an in-memory zoo with a network whose outputs are simple
// functions of each image's channel means, so tests can tell which image a
// result row belongs to (batching must not mix them up).
type fakeBackend struct {
	mu       sync.Mutex
	versions map[string][]zoo.Manifest
	badSum   map[string]bool // NAME:VERSION whose weights fail their checksum

	loads     atomic.Int32
	calls     atomic.Int32
	maxBatch  atomic.Int32
	loadDelay time.Duration
	// gate, when set, blocks every inference until it is closed.
	gate    chan struct{}
	imports atomic.Int32
	// importErr and loadErr, when set, are what importFile and load fail
	// with.
	importErr, loadErr error
	// nonFinite makes the last image's logits, probabilities and features
	// (not pooled) NaN or Inf, as an overflowing network would.
	nonFinite bool
}

func newFake(names ...string) *fakeBackend {
	f := &fakeBackend{versions: map[string][]zoo.Manifest{}, badSum: map[string]bool{}}
	for _, n := range names {
		f.add(n)
	}
	return f
}

// fakeManifest is a 3-class model on 32x32 inputs, pixels scaled to 0..1.
func fakeManifest(name, version string) zoo.Manifest {
	a := arch.DefaultArch(0.25, 3)
	a.InputHeight, a.InputWidth = 32, 32
	return zoo.Manifest{
		Name: name, Version: version, Arch: a,
		Labels: []string{"red", "green", "blue"},
		Preprocess: arch.Preprocess{ResizeWidth: 32, ResizeHeight: 32, Scale: 1.0 / 255,
			Std: [3]float64{1, 1, 1}, ChannelOrder: "RGB"},
		DType:     zoo.FP32,
		CreatedAt: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
	}
}

func (f *fakeBackend) add(name string) zoo.Manifest {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := fakeManifest(name, fmt.Sprint(len(f.versions[name])+1))
	f.versions[name] = append(f.versions[name], m)
	return m
}

func (f *fakeBackend) models(ctx context.Context) ([]modelVersions, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []modelVersions
	for name, vs := range f.versions {
		if len(vs) == 0 {
			continue
		}
		out = append(out, modelVersions{Name: name, Versions: append([]zoo.Manifest(nil), vs...), Latest: vs[len(vs)-1].Version})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeBackend) resolve(ctx context.Context, name, version string) (zoo.Manifest, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.versions[name]
	if len(vs) == 0 {
		return zoo.Manifest{}, fmt.Errorf("model %q: %w", name, zoo.ErrNotFound)
	}
	if version == "" || version == "latest" {
		return vs[len(vs)-1], nil
	}
	for _, m := range vs {
		if m.Version == version {
			return m, nil
		}
	}
	return zoo.Manifest{}, fmt.Errorf("model %s version %q: %w", name, version, zoo.ErrNotFound)
}

func (f *fakeBackend) load(ctx context.Context, m zoo.Manifest) (runner, error) {
	f.loads.Add(1)
	// As in the zoo, which reads a version's weights before it builds the
	// network: a deleted version's weights are gone.
	f.mu.Lock()
	exists := slices.ContainsFunc(f.versions[m.Name], func(v zoo.Manifest) bool { return v.Version == m.Version })
	f.mu.Unlock()
	if !exists {
		return nil, fmt.Errorf("weights of %s:%s: %w", m.Name, m.Version, storage.ErrNotExist)
	}
	time.Sleep(f.loadDelay)
	f.mu.Lock()
	bad := f.badSum[cacheKey(m.Name, m.Version)]
	f.mu.Unlock()
	if bad {
		return nil, fmt.Errorf("%s version %s: weights sha256 differs from the manifest: %w", m.Name, m.Version, zoo.ErrChecksum)
	}
	if f.loadErr != nil {
		return nil, f.loadErr
	}
	return &fakeRunner{f: f}, nil
}

func (f *fakeBackend) remove(ctx context.Context, name, version string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := f.versions[name]
	for i, m := range vs {
		if m.Version == version {
			f.versions[name] = append(vs[:i:i], vs[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("model %s version %q: %w", name, version, zoo.ErrNotFound)
}

func (f *fakeBackend) importFile(ctx context.Context, path string, opts importOptions) (zoo.Manifest, error) {
	f.imports.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.importErr != nil {
		return zoo.Manifest{}, f.importErr
	}
	v := opts.Version
	if v == "" {
		// The next number after the highest, as the zoo's claims give.
		next := 1
		for _, m := range f.versions[opts.Name] {
			if n, err := strconv.Atoi(m.Version); err == nil && n >= next {
				next = n + 1
			}
		}
		v = strconv.Itoa(next)
	}
	for _, m := range f.versions[opts.Name] {
		if m.Version == v {
			return zoo.Manifest{}, fmt.Errorf("%s:%s: %w", opts.Name, v, zoo.ErrVersionExists)
		}
	}
	m := fakeManifest(opts.Name, v)
	m.DType = opts.DType
	f.versions[opts.Name] = append(f.versions[opts.Name], m)
	return m, nil
}

type fakeRunner struct{ f *fakeBackend }

func (r *fakeRunner) close() {}

func (r *fakeRunner) infer(ctx context.Context, imgs [][]float32, h, w int, _ bool) (*output, error) {
	n := len(imgs)
	r.f.calls.Add(1)
	for {
		old := r.f.maxBatch.Load()
		if int32(n) <= old || r.f.maxBatch.CompareAndSwap(old, int32(n)) {
			break
		}
	}
	if g := r.f.gate; g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for i, x := range imgs {
		if len(x) != 3*h*w {
			return nil, fmt.Errorf("fake: image %d has %d values for 3x%dx%d", i, len(x), h, w)
		}
	}
	o := &output{N: n, Classes: 3, FeatureDim: 4, PooledDim: 2}
	for i := range n {
		var mean [3]float64
		for c := range 3 {
			for _, v := range imgs[i][c*h*w : (c+1)*h*w] {
				mean[c] += float64(v)
			}
			mean[c] /= float64(h * w)
		}
		var sum float64
		for c := range 3 {
			o.Logits = append(o.Logits, float32(10*mean[c]))
			sum += math.Exp(10 * mean[c])
		}
		for c := range 3 {
			o.Probabilities = append(o.Probabilities, float32(math.Exp(10*mean[c])/sum))
		}
		o.Features = append(o.Features, float32(mean[0]), float32(mean[1]), float32(mean[2]), 1)
		o.Pooled = append(o.Pooled, float32(mean[0]+mean[1]), float32(mean[2]))
	}
	if r.f.nonFinite {
		o.Logits[len(o.Logits)-1] = float32(math.Inf(1))
		o.Probabilities[len(o.Probabilities)-1] = float32(math.NaN())
		o.Features[len(o.Features)-2] = float32(math.Inf(-1))
	}
	return o, nil
}

// newTestServer serves be through the real router.
func newTestServer(t *testing.T, be backend, mod func(*Config)) (*Server, *httptest.Server) {
	t.Helper()
	cfg := Config{backend: be, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}
