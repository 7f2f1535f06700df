package dataset

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// Errors wrapped by the archive extractors.
var (
	ErrUnsafe  = errors.New("dataset: unsafe archive entry")
	ErrLimit   = errors.New("dataset: archive exceeds a limit")
	ErrArchive = errors.New("dataset: unreadable archive")
)

// Limits bound what an archive may expand to. Zero fields take defaults.
type Limits struct {
	Entries    int   // entries of any kind; default 200,000
	EntryBytes int64 // one file's expanded size; default 64 MiB
	TotalBytes int64 // all files' expanded size; default 8 GiB
}

func (l Limits) withDefaults() Limits {
	if l.Entries <= 0 {
		l.Entries = 200_000
	}
	if l.EntryBytes <= 0 {
		l.EntryBytes = 64 << 20
	}
	if l.TotalBytes <= 0 {
		l.TotalBytes = 8 << 30
	}
	return l
}

// Extracted reports an extraction.
type Extracted struct {
	Images   int   // image files written
	Metadata int   // .txt and .csv files written (list and label files)
	Skipped  int   // other files, not written
	Bytes    int64 // bytes written
}

// isMetadata reports the files kept beside images: label and list files.
func isMetadata(name string) bool {
	base := path.Base(name)
	ext := strings.ToLower(path.Ext(base))
	return !strings.HasPrefix(base, ".") && (ext == ".txt" || ext == ".csv")
}

// ExtractFile extracts the zip, tar or gzip-compressed tar archive at name
// (told apart by content, not by name) into the existing directory dst and
// returns dst as an fs.FS. Images and label files are written; other files
// are counted and skipped. Links, absolute paths and paths with ".." refuse
// the whole archive, as do entries or sizes beyond lim, which are checked
// while streaming so that a compression bomb stops at the limit.
func ExtractFile(ctx context.Context, name, dst string, lim Limits) (fs.FS, Extracted, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, Extracted{}, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, Extracted{}, fmt.Errorf("dataset: %w", err)
	}
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, Extracted{}, fmt.Errorf("dataset: %w", err)
	}
	var rep Extracted
	switch {
	case n >= 4 && bytes.Equal(magic[:], []byte("PK\x03\x04")), n >= 4 && bytes.Equal(magic[:], []byte("PK\x05\x06")):
		rep, err = ExtractZip(ctx, f, st.Size(), dst, lim)
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		rep, err = ExtractTarGz(ctx, f, dst, lim)
	default:
		rep, err = ExtractTar(ctx, f, dst, lim)
	}
	if err != nil {
		return nil, rep, err
	}
	return os.DirFS(dst), rep, nil
}

// entryPath validates an archive entry name and returns it cleaned.
func entryPath(name string) (string, error) {
	p := strings.TrimPrefix(name, "./")
	p = strings.TrimSuffix(p, "/")
	if p == "" || p == "." {
		return ".", nil
	}
	if strings.Contains(p, "\\") || strings.HasPrefix(p, "/") || !fs.ValidPath(p) {
		return "", fmt.Errorf("%w: path %q", ErrUnsafe, name)
	}
	return p, nil
}

// extractor writes entries below one os.Root, which refuses any path that
// escapes it even if a check above were wrong.
type extractor struct {
	ctx     context.Context
	root    *os.Root
	lim     Limits
	rep     Extracted
	entries int
}

func newExtractor(ctx context.Context, dst string, lim Limits) (*extractor, error) {
	root, err := os.OpenRoot(dst)
	if err != nil {
		return nil, fmt.Errorf("dataset: extraction target: %w", err)
	}
	return &extractor{ctx: ctx, root: root, lim: lim.withDefaults()}, nil
}

// entry counts one entry and checks the context.
func (x *extractor) entry() error {
	if err := x.ctx.Err(); err != nil {
		return fmt.Errorf("dataset: extraction stopped: %w", err)
	}
	x.entries++
	if x.entries > x.lim.Entries {
		return fmt.Errorf("%w: more than %d entries", ErrLimit, x.lim.Entries)
	}
	return nil
}

func (x *extractor) dir(p string) error {
	if p == "." {
		return nil
	}
	if err := x.root.MkdirAll(p, 0o755); err != nil {
		return fmt.Errorf("%w: directory %q: %v", ErrUnsafe, p, err)
	}
	return nil
}

// file writes r as p. declared is the size the archive states (-1 when
// unknown); reading more than it, or more than the limits, is refused.
func (x *extractor) file(p string, declared int64, r io.Reader) error {
	switch {
	case IsImage(p):
		x.rep.Images++
	case isMetadata(p):
		x.rep.Metadata++
	default:
		x.rep.Skipped++
		return nil
	}
	if p == "." {
		return fmt.Errorf("%w: file without a name", ErrUnsafe)
	}
	limit := min(x.lim.EntryBytes, x.lim.TotalBytes-x.rep.Bytes)
	if declared > limit {
		return fmt.Errorf("%w: %s declares %d bytes, %d allowed", ErrLimit, p, declared, limit)
	}
	if declared >= 0 {
		limit = declared
	}
	if err := x.dir(path.Dir(p)); err != nil {
		return err
	}
	f, err := x.root.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUnsafe, p, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	x.rep.Bytes += n
	switch {
	case err != nil:
		return fmt.Errorf("%w: %s: %v", ErrArchive, p, err)
	case n > limit && declared >= 0:
		return fmt.Errorf("%w: %s holds more than its declared %d bytes", ErrArchive, p, declared)
	case n > limit:
		return fmt.Errorf("%w: %s is over %d bytes", ErrLimit, p, limit)
	}
	return nil
}

// ExtractZip extracts a zip archive of the given size into dst (see
// ExtractFile).
func ExtractZip(ctx context.Context, r io.ReaderAt, size int64, dst string, lim Limits) (Extracted, error) {
	x, err := newExtractor(ctx, dst, lim)
	if err != nil {
		return Extracted{}, err
	}
	defer x.root.Close()
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return Extracted{}, fmt.Errorf("%w: zip: %v", ErrArchive, err)
	}
	if len(zr.File) > x.lim.Entries {
		return Extracted{}, fmt.Errorf("%w: %d entries, %d allowed", ErrLimit, len(zr.File), x.lim.Entries)
	}
	for _, zf := range zr.File {
		if err := x.entry(); err != nil {
			return x.rep, err
		}
		p, err := entryPath(zf.Name)
		if err != nil {
			return x.rep, err
		}
		mode := zf.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return x.rep, fmt.Errorf("%w: symbolic link %q", ErrUnsafe, zf.Name)
		case mode.IsDir():
			err = x.dir(p)
		case mode.IsRegular():
			if zf.UncompressedSize64 > uint64(x.lim.EntryBytes) {
				return x.rep, fmt.Errorf("%w: %s declares %d bytes, %d allowed", ErrLimit, p, zf.UncompressedSize64, x.lim.EntryBytes)
			}
			err = x.zipFile(zf, p)
		default:
			return x.rep, fmt.Errorf("%w: %q has mode %v", ErrUnsafe, zf.Name, mode)
		}
		if err != nil {
			return x.rep, err
		}
	}
	return x.rep, nil
}

func (x *extractor) zipFile(zf *zip.File, p string) error {
	if !IsImage(p) && !isMetadata(p) {
		x.rep.Skipped++
		return nil
	}
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrArchive, p, err)
	}
	defer rc.Close()
	return x.file(p, int64(zf.UncompressedSize64), rc)
}

// ExtractTarGz extracts a gzip-compressed tar stream into dst (see
// ExtractFile).
func ExtractTarGz(ctx context.Context, r io.Reader, dst string, lim Limits) (Extracted, error) {
	zr, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return Extracted{}, fmt.Errorf("%w: gzip: %v", ErrArchive, err)
	}
	defer zr.Close()
	return ExtractTar(ctx, zr, dst, lim)
}

// ExtractTar extracts a tar stream into dst (see ExtractFile). The stream
// is counted as it is read: entries that are skipped still expand, so the
// cap on the stream, not only on written files, is what stops a bomb.
func ExtractTar(ctx context.Context, r io.Reader, dst string, lim Limits) (Extracted, error) {
	x, err := newExtractor(ctx, dst, lim)
	if err != nil {
		return Extracted{}, err
	}
	defer x.root.Close()
	// Headers and padding take at most 1.5 KiB per entry beyond the data.
	stream := &capReader{r: r, left: x.lim.TotalBytes + int64(x.lim.Entries+2)*1536}
	tr := tar.NewReader(stream)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return x.rep, nil
		}
		if err != nil {
			if errors.Is(err, ErrLimit) {
				return x.rep, err
			}
			return x.rep, fmt.Errorf("%w: tar: %v", ErrArchive, err)
		}
		if err := x.entry(); err != nil {
			return x.rep, err
		}
		p, err := entryPath(h.Name)
		if err != nil {
			return x.rep, err
		}
		switch h.Typeflag {
		case tar.TypeReg:
			if !IsImage(p) && !isMetadata(p) {
				x.rep.Skipped++
				continue // tr.Next discards the data through the capped stream
			}
			err = x.file(p, h.Size, tr)
			if errors.Is(err, ErrArchive) && errors.Is(stream.err, ErrLimit) {
				err = stream.err
			}
		case tar.TypeDir:
			err = x.dir(p)
		case tar.TypeXGlobalHeader:
		case tar.TypeSymlink, tar.TypeLink:
			return x.rep, fmt.Errorf("%w: link %q -> %q", ErrUnsafe, h.Name, h.Linkname)
		default:
			return x.rep, fmt.Errorf("%w: %q has tar type %q", ErrUnsafe, h.Name, h.Typeflag)
		}
		if err != nil {
			return x.rep, err
		}
	}
}

// capReader fails with ErrLimit once more than left bytes are read.
type capReader struct {
	r    io.Reader
	left int64
	err  error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.left <= 0 {
		c.err = fmt.Errorf("%w: archive expands beyond its byte limit", ErrLimit)
		return 0, c.err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
