package storage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/storage/storagetest"
)

func TestS3SpecErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ spec, want string }{
		{"s3://", "want s3://BUCKET"},
		{"s3:///prefix", "want s3://BUCKET"},
		{"s3://b/../x?endpoint=http://127.0.0.1:1", "prefix"},
		{"s3://key:secret@b/p", "AWS_ACCESS_KEY_ID"},
		{"s3://b/p?endpoint=ftp://h", "endpoint"},
		{"s3://b/p?endpoint=http://h/path", "endpoint"},
		{"s3://b/p?endpiont=http://h", `unknown parameter "endpiont"`},
	} {
		_, err := storage.Open(ctx, tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q): %v, want an error mentioning %q", tc.spec, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) leaks the secret: %v", tc.spec, err)
		}
	}
}

// TestS3 runs the conformance suite against a real S3 server (SeaweedFS,
// started on loopback; skipped without the weed binary).
func TestS3(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a SeaweedFS server")
	}
	ctx := context.Background()
	spec := storagetest.StartS3(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := storage.Open(ctx, spec())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	t.Run("MissingBucket", func(t *testing.T) {
		other := strings.Replace(spec(), "s3://lcnet-test/", "s3://no-such-bucket/", 1)
		_, err := storage.Open(ctx, other)
		if err == nil || !strings.Contains(err.Error(), "no-such-bucket does not exist") {
			t.Fatalf("Open of a missing bucket: %v", err)
		}
	})
}
