package convert

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/lcnet/lcnet/convert/internal/pickle"
)

// Limits for archives: Paddle's largest PP-LCNet export is under 40 MB, so
// these only stop archives (or gzip bombs) built to exhaust memory.
const (
	maxArchiveFile  = 1 << 30
	maxArchiveTotal = 2 << 30
	// Float weights compress by about 10% (the real exports: 1.08:1), so
	// an archive that expands more than maxExpansion times is a bomb;
	// minExpanded keeps small archives of zero-filled weights readable.
	maxExpansion = 4
	minExpanded  = 64 << 20
)

// expandLimit is how many bytes an archive of size bytes may expand to,
// counting every byte out of gzip, skipped entries and tar headers too.
func expandLimit(size int64) int64 {
	return min(maxArchiveTotal, max(minExpanded, maxExpansion*size))
}

// countingReader fails once more than limit bytes have been read through
// it: a gzip bomb is stopped while it streams, whatever the tar headers
// say.
type countingReader struct {
	r        io.Reader
	n, limit int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.n > c.limit {
		return n, &LimitError{What: "the archive's expanded size", Size: c.n, Limit: c.limit, Unit: "bytes"}
	}
	return n, err
}

// isArchive reports whether head (the first bytes of a file) starts a
// gzip stream or a tar archive.
func isArchive(head []byte) bool {
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return true
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// readArchiveFile streams an archive from disk through readArchive,
// hashing it and reporting progress on the way.
func readArchiveFile(ctx context.Context, path string, p *progress) (memFS, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	files, err := readArchive(io.TeeReader(&ctxReader{ctx: ctx, r: f, p: p}, h), expandLimit(st.Size()))
	if err != nil {
		return nil, "", err
	}
	// Hash what follows the end-of-archive marker too: the sum is of the file.
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: f, p: p}); err != nil {
		return nil, "", err
	}
	return files, hex.EncodeToString(h.Sum(nil)), nil
}

// readArchive reads the model files of a .tar, .tar.gz or .tgz into memory
// without touching the disk, streaming: only the wanted files are kept,
// each and all of them under a size cap. Entries with absolute or ../
// paths, links and device files are refused by name, whether or not they
// are model files. The files are kept by base name; they must all sit in
// one directory (Paddle ships one top-level directory such as
// PP-LCNet_x0_25_textline_ori_infer/). Reading stops with a *LimitError
// once more than limit bytes have come out of gzip, or the tar headers
// declare more.
func readArchive(r io.Reader, limit int64) (memFS, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		src = gz
	}
	tr := tar.NewReader(&countingReader{r: src, limit: limit})
	files := memFS{}
	dirOf := map[string]string{}
	var total int64
	dir := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		name := h.Name
		if err := checkEntryName(name); err != nil {
			return nil, fmt.Errorf("tar entry %q: %w", name, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg, '\x00': // '\x00' is the pre-POSIX regular file
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
			continue
		case tar.TypeSymlink, tar.TypeLink:
			return nil, fmt.Errorf("tar entry %q is a link (to %q); links are refused", name, h.Linkname)
		default:
			return nil, fmt.Errorf("tar entry %q has type %q; only files and directories are accepted", name, h.Typeflag)
		}
		if h.Size < 0 {
			return nil, fmt.Errorf("tar entry %q declares %d bytes", name, h.Size)
		}
		clean := path.Clean(strings.TrimPrefix(name, "./"))
		base := path.Base(clean)
		if !wanted(base) {
			continue // README, macOS resource forks, ...
		}
		if max := min(fileLimit(base), limit); h.Size > max {
			return nil, fmt.Errorf("tar entry %q: %w", name, &LimitError{What: base, Size: h.Size, Limit: max, Unit: "bytes"})
		}
		total += h.Size
		if total > limit {
			return nil, fmt.Errorf("tar entry %q: %w", name, &LimitError{What: "the archive's model files", Size: total, Limit: limit, Unit: "bytes"})
		}
		d := path.Dir(clean)
		if prev, ok := dirOf[base]; ok {
			return nil, fmt.Errorf("tar holds %s twice (%s and %s)", base, path.Join(prev, base), clean)
		}
		if len(dirOf) > 0 && d != dir {
			return nil, fmt.Errorf("tar entry %q is in a different directory from %s/; one model per archive", name, dir)
		}
		dir = d
		dirOf[base] = d
		// The header size is bounded above and the data comes through a
		// LimitReader, so a lying header cannot make this allocate more.
		var buf bytes.Buffer
		buf.Grow(int(min(h.Size, 64<<20)))
		n, err := io.Copy(&buf, io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, fmt.Errorf("tar entry %q: %w", name, err)
		}
		if n != h.Size {
			return nil, fmt.Errorf("tar entry %q: %w: %d of %d bytes", name, pickle.ErrTruncated, n, h.Size)
		}
		files[base] = buf.Bytes()
	}
	return files, nil
}

// checkEntryName refuses paths that would leave the extraction directory.
func checkEntryName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if strings.HasPrefix(name, "/") || strings.HasPrefix(name, `\`) || (len(name) > 1 && name[1] == ':') {
		return errors.New("absolute path")
	}
	for _, part := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return errors.New("path leaves the archive (..)")
		}
	}
	if strings.ContainsRune(name, 0) {
		return errors.New("NUL in name")
	}
	return nil
}

// memFS is an archive's model files by base name, as a flat fs.FS.
type memFS map[string][]byte

// file hands out the stored bytes, not the copy that fs.ReadFileFS would
// owe its callers (which is why memFS does not implement it): a memFS
// belongs to one Read, whose decoders never write their input, and a copy
// would hold the largest file twice.
func (m memFS) file(name string) ([]byte, error) {
	b, ok := m[name]
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return b, nil
}

func (m memFS) Open(name string) (fs.File, error) {
	if name == "." {
		return &memDir{m: m}, nil
	}
	b, ok := m[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{info: memInfo{name: name, size: int64(len(b))}, r: bytes.NewReader(b)}, nil
}

func (m memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]fs.DirEntry, len(names))
	for i, n := range names {
		out[i] = fs.FileInfoToDirEntry(memInfo{name: n, size: int64(len(m[n]))})
	}
	return out, nil
}

type memFile struct {
	info memInfo
	r    *bytes.Reader
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Read(b []byte) (int, error) { return f.r.Read(b) }
func (f *memFile) Close() error               { return nil }

// memDir is the root of a memFS, listed in pages as fs.ReadDirFile asks.
type memDir struct {
	m    memFS
	list []fs.DirEntry
	read bool
}

func (d *memDir) Stat() (fs.FileInfo, error) { return memInfo{name: ".", dir: true}, nil }
func (d *memDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: errors.New("is a directory")}
}
func (d *memDir) Close() error { return nil }
func (d *memDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.list, _ = d.m.ReadDir(".")
		d.read = true
	}
	if n <= 0 {
		es := d.list
		d.list = nil
		return es, nil
	}
	if len(d.list) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.list))
	es := d.list[:k]
	d.list = d.list[k:]
	return es, nil
}

type memInfo struct {
	name string
	size int64
	dir  bool
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return i.size }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
