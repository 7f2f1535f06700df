package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

// storeEnv names the environment variable that stands in for --store.
const storeEnv = "LCNET_STORE"

// openZoo opens the model zoo in the store spec (a directory by default).
func openZoo(ctx context.Context, spec string) (*zoo.Zoo, error) {
	st, err := storage.Open(ctx, spec)
	if err != nil {
		return nil, err // storage names the store and what failed
	}
	return zoo.New(st), nil
}

// downloadDir is where pulls keep partial downloads: inside a local store
// (so one --store holds everything), in the user cache for remote ones.
func downloadDir(spec string) string {
	if spec == "" {
		spec = storage.DefaultDir
	}
	spec = strings.TrimPrefix(spec, "file://")
	if !strings.Contains(spec, "://") {
		return filepath.Join(spec, "downloads")
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "lcnet", "downloads")
	}
	return filepath.Join(os.TempDir(), "lcnet-downloads")
}

// jobsDir is where fine-tuning uploads are spooled and extracted: inside a
// local store, on the disk the zoo it feeds is on; in the system's
// temporary directory for remote stores. "" (MkdirAll failed) leaves the
// choice to the server, which uses the temporary directory.
func jobsDir(spec string) string {
	if spec == "" {
		spec = storage.DefaultDir
	}
	spec = strings.TrimPrefix(spec, "file://")
	dir := filepath.Join(os.TempDir(), "lcnet-jobs")
	if !strings.Contains(spec, "://") {
		dir = filepath.Join(spec, "jobs")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	return dir
}
