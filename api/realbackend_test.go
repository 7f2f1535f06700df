package api

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// memBackend serves real converted checkpoints with the real network,
// kept in memory. TEMPORARY: replaced by a zoo on a temp-dir store when
// package zoo lands.
type memBackend struct {
	*fakeBackend
	tensors map[string]map[string]nn.Tensor
	threads int
}

func (b *memBackend) load(ctx context.Context, m zoo.Manifest) (runner, error) {
	model, err := nn.Load(m.Arch, b.tensors[m.Name], nn.Options{Threads: b.threads})
	if err != nil {
		return nil, err
	}
	return nnRunner{model}, nil
}

// realServer serves the checkpoints (name -> path) through the router.
func realServer(t testing.TB, paths map[string]string) (*httptest.Server, backend) {
	t.Helper()
	b := &memBackend{fakeBackend: newFake(), tensors: map[string]map[string]nn.Tensor{}}
	for name, path := range paths {
		ck, err := convert.Read(context.Background(), path, convert.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var arch nn.Arch
		if ck.Arch != nil {
			arch = *ck.Arch
		} else {
			arch, err = nn.InferArch(ck.Tensors)
			if err != nil {
				t.Fatal(err)
			}
		}
		pre := zoo.DefaultPreprocess()
		if ck.Preprocess != nil {
			pre = *ck.Preprocess
		}
		b.versions[name] = []zoo.Manifest{{Name: name, Version: "1", Arch: arch, Labels: ck.Labels, Preprocess: pre, DType: zoo.FP32}}
		b.tensors[name] = ck.Tensors
	}
	s, err := New(Config{backend: b, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts, b
}

func realTensors(t testing.TB, be backend, m zoo.Manifest) map[string]nn.Tensor {
	return be.(*memBackend).tensors[m.Name]
}
