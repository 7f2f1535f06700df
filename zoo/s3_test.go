package zoo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/storage/storagetest"
)

// TestOnS3 runs the zoo's claims, latest, checksum and delete over a real
// S3 server (SeaweedFS on loopback; skipped without the weed binary).
func TestOnS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a SeaweedFS server")
	}
	ctx := context.Background()
	spec := storagetest.StartS3(t)()
	var zoos []*Zoo
	for i := 0; i < 2; i++ {
		s, err := storage.Open(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		zoos = append(zoos, New(s))
	}
	const n = 10
	var wg sync.WaitGroup
	versions := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := zoos[i%2].Create(ctx, sampleManifest("m"), sampleTensors())
			if err != nil {
				t.Error(err)
				return
			}
			versions <- m.Version
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[string]bool{}
	for v := range versions {
		if seen[v] {
			t.Fatalf("version %s handed out twice", v)
		}
		seen[v] = true
	}
	latest, err := zoos[1].Resolve(ctx, "m", "latest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zoos[0].Weights(ctx, latest); err != nil {
		t.Fatal(err)
	}
	// Flip a byte of one version's weights behind the zoo's back.
	bad, _ := zoos[0].Resolve(ctx, "m", "1")
	if err := zoos[0].Store().Put(ctx, key("m", "1", weightsFile), bytesOf(t, zoos[0], key("m", "1", weightsFile), true)); err != nil {
		t.Fatal(err)
	}
	if _, err := zoos[1].Weights(ctx, bad); !errors.Is(err, ErrChecksum) {
		t.Fatalf("tampered weights on S3: %v", err)
	}
	if err := zoos[1].Delete(ctx, "m", latest.Version); err != nil {
		t.Fatal(err)
	}
	vs, err := zoos[0].Versions(ctx, "m")
	if err != nil || len(vs) != n-1 {
		t.Fatalf("%d versions after a delete, want %d (%v)", len(vs), n-1, err)
	}
}

// bytesOf reads an object, with its last byte flipped when flip is set.
func bytesOf(t *testing.T, z *Zoo, k string, flip bool) *bytes.Reader {
	t.Helper()
	rc, err := z.Store().Get(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if flip {
		b[len(b)-1] ^= 0x40
	}
	return bytes.NewReader(b)
}
