// Package storage is where the zoo keeps its objects: a flat key/value
// store with atomic writes, over a local directory by default.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
)

// Errors callers test with errors.Is.
var (
	ErrNotExist = errors.New("object does not exist")
	ErrExist    = errors.New("object already exists")
	// ErrNoSpace is a write the backend refused for lack of space or
	// quota: the operator's problem, not the request's.
	ErrNoSpace = errors.New("store out of space")
)

// noSpace marks a write error that is a full disk or an exhausted quota
// with ErrNoSpace, keeping the cause for the logs.
func noSpace(err error) error {
	if err != nil && !errors.Is(err, ErrNoSpace) && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}

// Info describes a stored object.
type Info struct {
	Size    int64
	ModTime time.Time
}

// Store is a flat object store with keys like
// "models/NAME/VERSION/manifest.json". Every write is atomic: a reader sees
// the old object or the whole new one, never a prefix, whatever happens to
// the writer.
type Store interface {
	// Get opens an object; errors.Is(err, ErrNotExist) when it is absent.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores r under key, replacing any object there.
	Put(ctx context.Context, key string, r io.Reader) error
	// PutIfAbsent stores r under key only if nothing is there yet;
	// errors.Is(err, ErrExist) otherwise. Of concurrent callers exactly one
	// wins, which is how version numbers are claimed.
	PutIfAbsent(ctx context.Context, key string, r io.Reader) error
	// Delete removes an object; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Stat describes an object; errors.Is(err, ErrNotExist) when absent.
	Stat(ctx context.Context, key string) (Info, error)
}

// DefaultDir is the local store used when none is given.
const DefaultDir = "./lcnet-data"

// Open returns the store a --store flag or LCNET_STORE names: empty for
// DefaultDir, a directory path (file:// accepted), or
// s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION] (see NewS3).
func Open(ctx context.Context, spec string) (Store, error) {
	switch {
	case spec == "":
		return NewLocal(DefaultDir)
	case strings.HasPrefix(spec, "file://"):
		return NewLocal(strings.TrimPrefix(spec, "file://"))
	case strings.HasPrefix(spec, "s3://"):
		return NewS3(ctx, spec)
	case strings.Contains(spec, "://"):
		scheme, _, _ := strings.Cut(spec, "://")
		return nil, fmt.Errorf("store %q: the %s:// scheme is not supported; use a directory path or s3://BUCKET/PREFIX", spec, scheme)
	}
	return NewLocal(spec)
}

// ValidKey reports whether key is a clean relative slash path: non-empty
// segments without "." or "..", no backslashes or NUL bytes. Every backend
// refuses other keys, so no key can escape its root.
func ValidKey(key string) error {
	if key == "" {
		return errors.New("empty key")
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("key %q contains a backslash or NUL", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("key %q is not a clean relative path", key)
		}
	}
	return nil
}
