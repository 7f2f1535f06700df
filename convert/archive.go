package convert

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Limits for archives: Paddle's largest PP-LCNet export is under 40 MB, so
// these only stop archives (or gzip bombs) built to exhaust memory.
const (
	maxArchiveFile  = 1 << 30
	maxArchiveTotal = 2 << 30
)

// errTruncated is wrapped by the errors for input that ends too early.
var errTruncated = errors.New("unexpected end of data")

// wantedInArchive reports whether a file of a model directory is read.
func wantedInArchive(base string) bool {
	switch base {
	case fileJSON, filePdmodel, filePdiparams, fileYML, fileInfo:
		return true
	}
	return strings.HasSuffix(base, ".pdparams")
}

// isArchive reports whether head (the first bytes of a file) starts a
// gzip stream or a tar archive.
func isArchive(head []byte) bool {
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return true
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// readArchive reads the model files of a .tar, .tar.gz or .tgz into memory
// without touching the disk. Entries with absolute or ../ paths, links and
// device files are refused by name, whether or not they are model files.
// The files are returned by base name; they must all sit in one directory
// (Paddle ships one top-level directory such as
// PP-LCNet_x0_25_textline_ori_infer/).
func readArchive(r io.Reader) (map[string][]byte, error) {
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
	tr := tar.NewReader(src)
	files := map[string][]byte{}
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
		if h.Size < 0 || h.Size > maxArchiveFile {
			return nil, fmt.Errorf("tar entry %q declares %d bytes, over the %d-byte limit", name, h.Size, maxArchiveFile)
		}
		clean := path.Clean(strings.TrimPrefix(name, "./"))
		base := path.Base(clean)
		if !wantedInArchive(base) || strings.HasPrefix(base, "._") {
			continue // README, macOS resource forks, ...
		}
		total += h.Size
		if total > maxArchiveTotal {
			return nil, fmt.Errorf("tar entry %q: the model files exceed %d bytes", name, maxArchiveTotal)
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
			return nil, fmt.Errorf("tar entry %q: %w: %d of %d bytes", name, errTruncated, n, h.Size)
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
