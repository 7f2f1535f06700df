package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/storage/storagetest"
)

func TestLocal(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := storage.NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestLocalRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "models", ".tmp-weights-dead")
	young := filepath.Join(dir, "models", ".tmp-weights-live")
	if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(young, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("stale temp file survived: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("a young temp file (maybe a live writer's) was removed: %v", err)
	}
	keys, _ := s.List(context.Background(), "")
	if len(keys) != 0 {
		t.Fatalf("temp files listed as keys: %v", keys)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, spec := range []string{dir, "file://" + dir} {
		if _, err := storage.Open(ctx, spec); err != nil {
			t.Errorf("Open(%q): %v", spec, err)
		}
	}
	_, err := storage.Open(ctx, "gs://bucket/x")
	if err == nil || !strings.Contains(err.Error(), "gs://") {
		t.Errorf("Open of an unknown scheme: %v", err)
	}
}
