package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// tempPrefix marks files being written; List never returns them, and
// NewLocal removes stale ones a crash left behind.
const tempPrefix = ".tmp-"

// staleAfter is how old a temp file must be before NewLocal removes it: old
// enough that no live writer in another process can still own it.
const staleAfter = time.Hour

// Local is a Store over a directory. Objects are files; writes go to a temp
// file in the same directory, are fsynced, then renamed (or hard-linked, for
// PutIfAbsent) into place, and the directory is fsynced, so a crash at any
// moment leaves the old object or the complete new one.
type Local struct {
	root string
}

// NewLocal opens (creating if needed) a store rooted at dir.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("store %s: %w", dir, err)
	}
	l := &Local{root: abs}
	l.removeStaleTemps(time.Now().Add(-staleAfter))
	return l, nil
}

// Root is the directory the store lives in.
func (l *Local) Root() string { return l.root }

func (l *Local) path(key string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	// A directory is a prefix of other keys, not an object (as in S3).
	if fi, err := f.Stat(); err != nil || fi.IsDir() {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return nil, fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	return f, nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (Info, error) {
	p, err := l.path(key)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return Info{}, fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	if err != nil {
		return Info{}, err
	}
	if fi.IsDir() {
		return Info{}, fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	return Info{Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// writeTemp copies r into a synced temp file beside the final path.
func (l *Local) writeTemp(ctx context.Context, final string, r io.Reader) (string, error) {
	dir := filepath.Dir(final)
	if err := l.mkdirAll(dir); err != nil {
		return "", err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(dir, tempPrefix+filepath.Base(final)+"-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	// A concurrent Delete may prune the directory between the mkdir and the
	// create; once the temp file exists the directory is not empty and stays.
	for try := 0; errors.Is(err, fs.ErrNotExist) && try < 5; try++ {
		if err = l.mkdirAll(dir); err == nil {
			f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		}
	}
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// mkdirAll creates dir and its missing parents, fsyncing each parent after
// adding an entry to it: without that, a crash could lose a new directory
// and with it a file whose rename was already synced.
func (l *Local) mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if dir == l.root || !strings.HasPrefix(dir, l.root+string(filepath.Separator)) {
		return os.MkdirAll(dir, 0o755)
	}
	// A concurrent Delete may prune the parent between its creation and
	// ours; create it again a few times before giving up.
	var err error
	for try := 0; try < 5; try++ {
		if err = l.mkdirAll(filepath.Dir(dir)); err != nil {
			return err
		}
		err = os.Mkdir(dir, 0o755)
		if err == nil || errors.Is(err, fs.ErrExist) {
			if err := syncDir(filepath.Dir(dir)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	tmp, err := l.writeTemp(ctx, p, r)
	if err != nil {
		return noSpace(fmt.Errorf("writing %s: %w", key, err))
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return noSpace(fmt.Errorf("writing %s: %w", key, err))
	}
	return noSpace(syncDir(filepath.Dir(p)))
}

// PutIfAbsent implements Store. link(2) fails with EEXIST when the name is
// taken, which makes the exclusive create and the complete content one step.
func (l *Local) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("%s: %w", key, ErrExist)
	}
	tmp, err := l.writeTemp(ctx, p, r)
	if err != nil {
		return noSpace(fmt.Errorf("writing %s: %w", key, err))
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, p); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", key, ErrExist)
		}
		return noSpace(fmt.Errorf("writing %s: %w", key, err))
	}
	return noSpace(syncDir(filepath.Dir(p)))
}

// Delete implements Store, and prunes directories it leaves empty.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || (err == nil && fi.IsDir()) {
		return nil // absent, or only a prefix of other keys
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	// Prune emptied directories so deleted models leave no trace; a writer
	// racing with this retries its mkdir (see writeTemp).
	dir := filepath.Dir(p)
	for dir != l.root && strings.HasPrefix(dir, l.root) && os.Remove(dir) == nil {
		dir = filepath.Dir(dir)
	}
	// The loop stops at a directory that is not empty or that a concurrent
	// Delete already removed; that one syncs its own parent.
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting %s: %w", key, err)
	}
	return nil
}

// List implements Store.
func (l *Local) List(ctx context.Context, prefix string) ([]string, error) {
	// Walk only the deepest directory the prefix fully names: listing one
	// model must not read every other model's directory.
	start := l.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		if err := ValidKey(prefix[:i]); err != nil {
			return nil, fmt.Errorf("listing %q: %w", prefix, err)
		}
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			// A directory that vanished under a concurrent Delete, or a
			// prefix that names a file, simply has no keys under it.
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		rel, err := filepath.Rel(l.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing %q in %s: %w", prefix, l.root, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// removeStaleTemps deletes temp files older than cutoff: the leftovers of
// writers that crashed. Younger ones may belong to a live writer.
func (l *Local) removeStaleTemps(cutoff time.Time) {
	// Best effort: the walk returns no error of its own (the callback
	// skips what it cannot read), and a temp left behind is retried at
	// the next start.
	_ = filepath.WalkDir(l.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.ModTime().Before(cutoff) {
			os.Remove(p)
		}
		return nil
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// ctxReader stops a long copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
