// Package convert reads PaddlePaddle PP-LCNet checkpoints (dygraph
// .pdparams, Paddle 2 inference.pdmodel and Paddle 3 inference.json
// programs with inference.pdiparams, and those directories packed as tar
// or tar.gz) and imports them into the model zoo.
package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert/internal/pickle"
)

// The files of an exported inference model.
const (
	fileJSON      = "inference.json"
	filePdmodel   = "inference.pdmodel"
	filePdiparams = "inference.pdiparams"
	fileYML       = "inference.yml"
	fileInfo      = "inference.pdiparams.info"
)

// Checkpoint formats. An archive prefixes its content's format with
// "tar+", e.g. "tar+pir".
const (
	FormatPdparams = "pdparams"
	FormatPdmodel  = "pdmodel"
	FormatPIR      = "pir"
	tarPrefix      = "tar+"
)

// Checkpoint is a Paddle model read into memory.
type Checkpoint struct {
	// Format is "pdparams", "pdmodel" or "pir", prefixed by "tar+" when it
	// came out of an archive; it becomes the manifest's Source.Format.
	Format string
	// Tensors are float32, by PaddleClas structured name, without
	// wrapper prefixes such as base_model.
	Tensors map[string]arch.Tensor
	// Arch is read from the program; nil for a .pdparams, whose
	// architecture the importer infers from the tensor shapes.
	Arch *arch.Arch
	// Labels and Preprocess come from inference.yml when there is one.
	Labels     []string
	Preprocess *arch.Preprocess
	// SourceName is the base name of the path given; SourceSHA256 the
	// SHA-256 of the file read (the archive, the .pdparams, or for a
	// directory its inference.pdiparams).
	SourceName, SourceSHA256 string
}

// ReadOptions tunes Read.
type ReadOptions struct {
	// Progress, when set, is called as bytes are read, with the total
	// to read.
	Progress func(done, total int64)
}

// Read reads a checkpoint from path: a .pdparams file; a tar, tar.gz or
// tgz of a model directory; a model directory holding inference.json or
// inference.pdmodel with inference.pdiparams (or a .pdparams); or the
// inference.json / inference.pdmodel / inference.pdiparams file itself.
func Read(ctx context.Context, path string, opts ReadOptions) (*Checkpoint, error) {
	ck, err := read(ctx, path, opts)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ck, nil
}

func read(ctx context.Context, path string, opts ReadOptions) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	name := filepath.Base(filepath.Clean(path))
	if st.IsDir() {
		return readDir(ctx, path, name, opts)
	}
	switch filepath.Base(path) {
	case fileJSON, filePdmodel, filePdiparams, fileYML, fileInfo:
		return readDir(ctx, filepath.Dir(path), filepath.Base(filepath.Dir(path)), opts)
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file or a directory")
	}
	prog := &progress{fn: opts.Progress, total: st.Size()}
	head, err := readHead(path, 512)
	if err != nil {
		return nil, err
	}
	if isArchive(head) {
		// Stream the archive: only the model files inside are held in
		// memory, not the archive as well.
		files, sum, err := readArchiveFile(ctx, path, prog)
		if err != nil {
			return nil, err
		}
		ck, err := fromFiles(ctx, mapFiles(files), "archive")
		if err != nil {
			return nil, err
		}
		ck.Format = tarPrefix + ck.Format
		ck.SourceName, ck.SourceSHA256 = name, sum
		return ck, nil
	}
	data, sum, err := readFile(ctx, path, prog)
	if err != nil {
		return nil, err
	}
	if !pickle.Looks(data) {
		return nil, errors.New("neither a pickle (.pdparams) nor a tar archive")
	}
	ts, err := decodePdparams(data)
	if err != nil {
		return nil, err
	}
	return &Checkpoint{Format: FormatPdparams, Tensors: ts, SourceName: name, SourceSHA256: sum}, nil
}

// files is a model directory, on disk or from an archive.
type files interface {
	names() []string
	read(ctx context.Context, name string) ([]byte, error)
}

type mapFiles map[string][]byte

func (m mapFiles) names() []string { return sortedNames(m) }
func (m mapFiles) read(_ context.Context, name string) ([]byte, error) {
	b, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	return b, nil
}

type dirFiles struct {
	dir  string
	list []string
	prog *progress
	sums map[string]string
}

func (d *dirFiles) names() []string { return d.list }
func (d *dirFiles) read(ctx context.Context, name string) ([]byte, error) {
	b, sum, err := readFile(ctx, filepath.Join(d.dir, name), d.prog)
	if err != nil {
		return nil, err
	}
	d.sums[name] = sum
	return b, nil
}

func readDir(ctx context.Context, dir, name string, opts ReadOptions) (*Checkpoint, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	d := &dirFiles{dir: dir, prog: &progress{fn: opts.Progress}, sums: map[string]string{}}
	for _, e := range entries {
		if !e.Type().IsRegular() || !wantedInArchive(e.Name()) {
			continue
		}
		d.list = append(d.list, e.Name())
		if info, err := e.Info(); err == nil {
			d.prog.total += info.Size()
		}
	}
	sort.Strings(d.list)
	ck, err := fromFiles(ctx, d, "directory "+dir)
	if err != nil {
		return nil, err
	}
	ck.SourceName = name
	if ck.Format == FormatPdparams {
		ck.SourceSHA256 = d.sums[pdparamsIn(d.list)[0]]
	} else {
		ck.SourceSHA256 = d.sums[filePdiparams]
	}
	return ck, nil
}

func pdparamsIn(names []string) []string {
	var out []string
	for _, n := range names {
		if strings.HasSuffix(n, ".pdparams") {
			out = append(out, n)
		}
	}
	return out
}

// fromFiles reads a model directory: a program with its parameters if
// there is one, else a single .pdparams; inference.yml either way.
func fromFiles(ctx context.Context, fs files, what string) (*Checkpoint, error) {
	have := map[string]bool{}
	for _, n := range fs.names() {
		have[n] = true
	}
	ck := &Checkpoint{}
	switch {
	case have[fileJSON] || have[filePdmodel]:
		if !have[filePdiparams] {
			return nil, fmt.Errorf("%s has a program but no %s (the weights)", what, filePdiparams)
		}
		prog, format, err := readProgramFiles(ctx, fs, have)
		if err != nil {
			return nil, err
		}
		a, names, err := prog.walk()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", programFile(format), err)
		}
		raw, err := fs.read(ctx, filePdiparams)
		if err != nil {
			return nil, err
		}
		order := sortedNames(prog.params)
		static, err := decodePdiparams(raw, order, prog.params)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filePdiparams, err)
		}
		if have[fileInfo] {
			if err := checkInfo(ctx, fs, names); err != nil {
				return nil, err
			}
		}
		ck.Tensors = make(map[string]arch.Tensor, len(static))
		for s, t := range static {
			ck.Tensors[names[s]] = t
		}
		ck.Format, ck.Arch = format, &a
	default:
		pd := pdparamsIn(fs.names())
		switch len(pd) {
		case 0:
			return nil, fmt.Errorf("%s holds no weights: looked for %s or %s with %s, or a *.pdparams file", what, fileJSON, filePdmodel, filePdiparams)
		case 1:
		default:
			return nil, fmt.Errorf("%s holds %d .pdparams files (%s); give the one to import", what, len(pd), strings.Join(pd, ", "))
		}
		raw, err := fs.read(ctx, pd[0])
		if err != nil {
			return nil, err
		}
		ts, err := decodePdparams(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pd[0], err)
		}
		ck.Format, ck.Tensors = FormatPdparams, ts
	}
	if have[fileYML] {
		raw, err := fs.read(ctx, fileYML)
		if err != nil {
			return nil, err
		}
		pre, labels, err := parseYML(raw)
		if err != nil {
			return nil, err
		}
		ck.Preprocess, ck.Labels = pre, labels
	}
	if ck.Arch != nil && (ck.Arch.InputHeight <= 0 || ck.Arch.InputWidth <= 0) {
		// A dynamic feed shape: the size the model was trained at is what
		// the preprocessing produces.
		var pre arch.Preprocess
		if ck.Preprocess != nil {
			pre = *ck.Preprocess
		}
		ck.Arch.InputHeight, ck.Arch.InputWidth = ck.Arch.InputSize(pre)
	}
	return ck, nil
}

func programFile(format string) string {
	if format == FormatPIR {
		return fileJSON
	}
	return filePdmodel
}

func readProgramFiles(ctx context.Context, fs files, have map[string]bool) (*program, string, error) {
	format := FormatPdmodel
	if have[fileJSON] {
		format = FormatPIR
	}
	raw, err := fs.read(ctx, programFile(format))
	if err != nil {
		return nil, "", err
	}
	var prog *program
	if format == FormatPIR {
		prog, err = parsePIR(raw)
	} else {
		prog, err = parsePdmodel(raw)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", programFile(format), err)
	}
	return prog, format, nil
}

// checkInfo compares the walk's names with inference.pdiparams.info, which
// Paddle 2 exports write: static name -> {"structured_name": ...}. A
// mismatch means the walk misread the program, which must not pass.
func checkInfo(ctx context.Context, fs files, names map[string]string) error {
	raw, err := fs.read(ctx, fileInfo)
	if err != nil {
		return err
	}
	info, err := readInfo(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", fileInfo, err)
	}
	for _, static := range sortedNames(info) {
		got, ok := names[static]
		if !ok {
			return fmt.Errorf("%s names %s, which the program does not declare", fileInfo, static)
		}
		if want := StripPrefix(info[static]); got != want {
			return fmt.Errorf("%s maps %s to %s, but the program uses it as %s", fileInfo, static, want, got)
		}
	}
	return nil
}

// readInfo decodes a .pdiparams.info pickle to static -> structured name.
func readInfo(data []byte) (map[string]string, error) {
	obj, err := pickle.Load(data)
	if err != nil {
		return nil, err
	}
	d, ok := obj.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("holds a %s, want a dict", pickle.TypeName(obj))
	}
	out := make(map[string]string, len(d.Keys))
	for i, k := range d.Keys {
		static, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("key %v is not a name", k)
		}
		switch v := d.Vals[i].(type) {
		case string:
			out[static] = v
		case *pickle.Dict:
			s, ok := v.Get("structured_name")
			name, ok2 := s.(string)
			if !ok || !ok2 {
				return nil, fmt.Errorf("%s has no structured_name", static)
			}
			out[static] = name
		default:
			return nil, fmt.Errorf("%s maps to a %s", static, pickle.TypeName(v))
		}
	}
	return out, nil
}

// ReadProgram reads the architecture from a program alone (no weights):
// a directory holding inference.json or inference.pdmodel, or the file.
// inference.yml beside it supplies the input size when the program's is
// dynamic.
func ReadProgram(ctx context.Context, path string) (*arch.Arch, error) {
	dir := path
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read program %s: %w", path, err)
	} else if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	d := &dirFiles{dir: dir, prog: &progress{}, sums: map[string]string{}}
	have := map[string]bool{}
	for _, n := range []string{fileJSON, filePdmodel, fileYML} {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && st.Mode().IsRegular() {
			have[n] = true
		}
	}
	if !have[fileJSON] && !have[filePdmodel] {
		return nil, fmt.Errorf("read program %s: no %s or %s", path, fileJSON, filePdmodel)
	}
	prog, format, err := readProgramFiles(ctx, d, have)
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", path, err)
	}
	a, _, err := prog.walk()
	if err != nil {
		return nil, fmt.Errorf("read program %s: %s: %w", path, programFile(format), err)
	}
	if a.InputHeight <= 0 || a.InputWidth <= 0 {
		var pre arch.Preprocess
		if have[fileYML] {
			if raw, err := d.read(ctx, fileYML); err == nil {
				if p, _, err := parseYML(raw); err == nil && p != nil {
					pre = *p
				}
			}
		}
		a.InputHeight, a.InputWidth = a.InputSize(pre)
	}
	return &a, nil
}

// readHead returns up to n bytes from the start of a file.
func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := io.ReadFull(f, b)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	return b[:m], nil
}

// readArchiveFile streams an archive from disk through readArchive,
// hashing it and reporting progress on the way.
func readArchiveFile(ctx context.Context, path string, p *progress) (map[string][]byte, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	h := sha256.New()
	files, err := readArchive(io.TeeReader(&ctxReader{ctx: ctx, r: f, p: p}, h))
	if err != nil {
		return nil, "", err
	}
	// Hash what follows the end-of-archive marker too: the sum is of the file.
	if _, err := io.Copy(h, &ctxReader{ctx: ctx, r: f, p: p}); err != nil {
		return nil, "", err
	}
	return files, hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops reading when ctx is done and reports progress.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
	p   *progress
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(b)
	c.p.add(n)
	return n, err
}

// progress counts bytes read for ReadOptions.Progress.
type progress struct {
	fn          func(done, total int64)
	done, total int64
}

func (p *progress) add(n int) {
	p.done += int64(n)
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}

// readFile reads a whole file, hashing it on the way, allocating once,
// reporting progress and stopping when ctx is done.
func readFile(ctx context.Context, path string, p *progress) ([]byte, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	size := st.Size()
	if size > maxArchiveTotal {
		return nil, "", fmt.Errorf("%s is %d bytes, over the %d-byte limit", path, size, maxArchiveTotal)
	}
	buf := make([]byte, size)
	h := sha256.New()
	const chunk = 1 << 20
	off := 0
	for off < len(buf) {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		n, err := f.Read(buf[off:min(off+chunk, len(buf))])
		h.Write(buf[off : off+n])
		off += n
		p.add(n)
		if err == io.EOF {
			return nil, "", fmt.Errorf("%s: %w: file shrank to %d bytes while reading", path, errTruncated, off)
		}
		if err != nil {
			return nil, "", err
		}
	}
	return buf, hex.EncodeToString(h.Sum(nil)), nil
}
