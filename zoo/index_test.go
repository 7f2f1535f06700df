package zoo

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// plantVersions writes n complete numbered versions of name straight into
// a local store's directory: Create fsyncs, and 500 of those would make
// the test about the disk rather than the zoo.
func plantVersions(t *testing.T, dir, name string, n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		v := strconv.Itoa(i)
		m := sampleManifest(name)
		m.Version = v
		m.WeightsFile = weightsFile
		m.CreatedAt = time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		vdir := filepath.Join(dir, "models", name, v)
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			t.Fatal(err)
		}
		for file, data := range map[string][]byte{manifestFile: b, claimFile: nil, weightsFile: []byte("w")} {
			if err := os.WriteFile(filepath.Join(vdir, file), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestMissingVersionIsCheap asks for a version a model with 500 versions
// lacks: the answer must come from a key listing, not from reading every
// manifest, and name only the newest few.
func TestMissingVersionIsCheap(t *testing.T) {
	z, dir := newZoo(t)
	plantVersions(t, dir, "m", 500)
	ctx := context.Background()
	if _, err := z.Resolve(ctx, "m", "1"); err != nil { // warm the page cache
		t.Fatal(err)
	}
	var best time.Duration
	var err error
	// The best of ten: the machine running the tests is shared.
	for range 10 {
		start := time.Now()
		_, err = z.Resolve(ctx, "m", "nope")
		if d := time.Since(start); best == 0 || d < best {
			best = d
		}
	}
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
	t.Logf("missing version among 500: %v, %d-byte error", best, len(err.Error()))
	// Reading the 500 manifests took 163 ms here; listing the keys 11-44
	// ms, depending on how busy the shared machine was.
	if limit := raceSlowdown * 80 * time.Millisecond; best > limit {
		t.Errorf("a missing version took %v among 500 versions, want < %v", best, limit)
	}
	if len(err.Error()) > 200 {
		t.Errorf("error of %d bytes: %s", len(err.Error()), err)
	}
	if want := "newest: 500, 499, 498, 497, 496 … and 495 more"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestVersionNamesOrder(t *testing.T) {
	z, dir := newZoo(t)
	for _, v := range []string{"10", "2", "beta", "1", "alpha"} {
		vdir := filepath.Join(dir, "models", "m", v)
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vdir, manifestFile), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A claim without a manifest is not a version.
	if err := os.MkdirAll(filepath.Join(dir, "models", "m", "11"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "models", "m", "11", claimFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := z.VersionNames(context.Background(), "m")
	if err != nil {
		t.Fatal(err)
	}
	if want := "1 2 10 alpha beta"; strings.Join(got, " ") != want {
		t.Errorf("VersionNames %v, want %s", got, want)
	}
}

// TestReservedVersion checks that "latest", which the resolver reads as
// the newest version, cannot be created, and that a version stored under
// it before it was reserved can still be deleted.
func TestReservedVersion(t *testing.T) {
	ctx := context.Background()
	z, dir := newZoo(t)
	for _, v := range []string{"latest", "LATEST"} {
		m := sampleManifest("m")
		m.Version = v
		if _, err := z.Create(ctx, m, sampleTensors()); !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("create version %s: %v, want ErrInvalidName saying reserved", v, err)
		}
	}
	if err := ValidateVersion("latest"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("ValidateVersion(latest) = %v", err)
	}
	if _, err := z.Create(ctx, sampleManifest("m"), sampleTensors()); err != nil {
		t.Fatal(err)
	}
	// Delete takes its version literally: with no version named
	// "latest" it is a not-found, never a delete of the newest.
	if err := z.Delete(ctx, "m", "latest"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete m:latest with no such version: %v, want ErrNotFound", err)
	}
	if _, err := z.Resolve(ctx, "m", "1"); err != nil {
		t.Fatalf("version 1 gone after deleting latest: %v", err)
	}
	plantLegacy := func() {
		m := sampleManifest("m")
		m.Version = "latest"
		m.CreatedAt = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
		b, _ := json.Marshal(m)
		vdir := filepath.Join(dir, "models", "m", "latest")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vdir, manifestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plantLegacy()
	if err := z.Delete(ctx, "m", "latest"); err != nil {
		t.Fatalf("deleting the legacy version latest: %v", err)
	}
	if names, _ := z.VersionNames(ctx, "m"); strings.Join(names, " ") != "1" {
		t.Errorf("versions after deleting latest: %v, want [1]", names)
	}
	if err := z.Delete(ctx, "m", ""); !errors.Is(err, ErrInvalidName) {
		t.Errorf("delete without a version: %v, want ErrInvalidName", err)
	}
}
