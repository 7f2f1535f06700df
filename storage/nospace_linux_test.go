//go:build linux

package storage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/internal/testdisk"
)

// TestLocalFullDisk fills a 1 MiB tmpfs: the write must fail with
// ErrNoSpace and leave no temp file behind. Skipped where mounting is not
// allowed (not root, no tmpfs, containers without CAP_SYS_ADMIN).
func TestLocalFullDisk(t *testing.T) {
	dir := testdisk.Tmpfs(t, "1m")
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = l.Put(ctx, "models/m/1/weights.safetensors", bytes.NewReader(make([]byte, 4<<20)))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Put of 4 MiB on a 1 MiB disk: %v, want ErrNoSpace", err)
	}
	err = l.PutIfAbsent(ctx, "models/m/2/claim", bytes.NewReader(make([]byte, 4<<20)))
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("PutIfAbsent of 4 MiB on a 1 MiB disk: %v, want ErrNoSpace", err)
	}
	entries, _ := os.ReadDir(dir + "/models/m/1")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tempPrefix) {
			t.Errorf("temp file %s left behind", e.Name())
		}
	}
}
