package api

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

// realZoo imports checkpoints (name -> path) into a zoo on a temp-dir
// store, the way "lcnet convert" does.
func realZoo(t testing.TB, paths map[string]string) (*zoo.Zoo, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	z := zoo.New(st)
	for name, path := range paths {
		ck, err := convert.Read(context.Background(), path, convert.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := convert.Import(context.Background(), z, ck, convert.ImportOptions{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	return z, dir
}

// realServer serves a real zoo through the router.
func realServer(t testing.TB, paths map[string]string) (*httptest.Server, backend) {
	t.Helper()
	z, _ := realZoo(t, paths)
	return serveZoo(t, z, nil)
}

func serveZoo(t testing.TB, z *zoo.Zoo, mod func(*Config)) (*httptest.Server, backend) {
	t.Helper()
	cfg := Config{Zoo: z, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts, s.be
}

func realTensors(t testing.TB, be backend, m zoo.Manifest) map[string]arch.Tensor {
	t.Helper()
	ts, err := be.(*zooBackend).z.Weights(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}
