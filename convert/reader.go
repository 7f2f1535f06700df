package convert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert/internal/pickle"
)

// reader is one source format: the files of a model directory that select
// it and the function that reads them. A new format is one file with its
// read function plus one row in readers.
type reader struct {
	// key is the path.Match pattern of the file that claims a directory
	// for this format: the first row whose key matches a file wins.
	key string
	// needs are the files the format cannot be read without; a claimed
	// directory that lacks one is an error, not a fall-through, so a
	// program missing its weights is reported as such.
	needs []string
	// optional are files read when present.
	optional []string
	// read reads the directory; key is the one file its key matched.
	read func(ctx context.Context, d *modelDir, key string) (*Checkpoint, error)
	// program parses the key file of a row whose key is a program, for
	// ReadProgram, which wants the architecture without the weights.
	program func([]byte) (*program, error)
}

// readers lists the source formats in order of precedence: a program (PIR
// before the older ProgramDesc, which Paddle 3 exports can carry beside
// it) with its combined parameters, else a single dygraph .pdparams.
func readers() []reader {
	return []reader{
		{key: fileJSON, needs: []string{filePdiparams}, optional: []string{fileInfo, fileYML}, read: readPIR, program: parsePIR},
		{key: filePdmodel, needs: []string{filePdiparams}, optional: []string{fileInfo, fileYML}, read: readPdmodel, program: parsePdmodel},
		{key: "*.pdparams", optional: []string{fileYML}, read: readPdparamsFile},
	}
}

// noWeights is the error text for a directory no row claims; it names
// every row's key (TestNoWeightsNamesEveryRow keeps it so).
const noWeights = "holds no weights: looked for inference.json or inference.pdmodel with inference.pdiparams, or a *.pdparams file"

// wanted reports whether a file of a model directory is ever read by a
// row; archives keep only these and directories list only these.
func wanted(base string) bool {
	if strings.HasPrefix(base, "._") { // macOS resource forks
		return false
	}
	for _, r := range readers() {
		for _, pat := range append(append([]string{r.key}, r.needs...), r.optional...) {
			if ok, _ := path.Match(pat, base); ok {
				return true
			}
		}
	}
	return false
}

// match picks the row for the files of a directory and the file its key
// matched.
func match(names []string, what string) (reader, string, error) {
	for _, r := range readers() {
		var keyed []string
		for _, n := range names {
			if ok, _ := path.Match(r.key, n); ok {
				keyed = append(keyed, n)
			}
		}
		switch len(keyed) {
		case 0:
			continue
		case 1:
		default:
			return reader{}, "", fmt.Errorf("%s holds %d %s files (%s); give the one to import",
				what, len(keyed), strings.TrimPrefix(r.key, "*"), strings.Join(keyed, ", "))
		}
		for _, need := range r.needs {
			if !slices.Contains(names, need) {
				return reader{}, "", fmt.Errorf("%s has %s but no %s", what, keyed[0], need)
			}
		}
		return r, keyed[0], nil
	}
	return reader{}, "", fmt.Errorf("%s %s", what, noWeights)
}

// modelDir is the model files at the root of an fs.FS: a directory on
// disk (os.DirFS) or an archive read into memory (memFS).
type modelDir struct {
	fsys  fs.FS
	names []string // the wanted regular files, sorted
	what  string   // names the source in errors
	prog  *progress
	sums  map[string]string // SHA-256 of each file read from disk
}

func (d *modelDir) has(name string) bool { return slices.Contains(d.names, name) }

// read returns a file's bytes. An archive's files are already in memory,
// counted and hashed as the archive streamed by; a directory's are read
// now, hashed, with progress.
func (d *modelDir) read(ctx context.Context, name string) ([]byte, error) {
	if m, ok := d.fsys.(memFS); ok {
		return m.file(name)
	}
	b, sum, err := readFSFile(ctx, d.fsys, name, d.prog)
	if err != nil {
		return nil, err
	}
	d.sums[name] = sum
	return b, nil
}

// readModel reads a model directory with the row that claims it, then
// what every format shares: inference.yml and the input size.
func readModel(ctx context.Context, d *modelDir) (*Checkpoint, error) {
	r, key, err := match(d.names, d.what)
	if err != nil {
		return nil, err
	}
	ck, err := r.read(ctx, d, key)
	if err != nil {
		return nil, err
	}
	if d.has(fileYML) {
		if err := readYML(ctx, d, ck); err != nil {
			return nil, err
		}
	}
	if ck.Preprocess != nil {
		if err := ck.Preprocess.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", fileYML, err)
		}
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

// dirModel lists the wanted regular files of a directory FS.
func dirModel(fsys fs.FS, what string, opts ReadOptions) (*modelDir, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	d := &modelDir{fsys: fsys, what: what, prog: &progress{fn: opts.Progress}, sums: map[string]string{}}
	for _, e := range entries {
		if !e.Type().IsRegular() || !wanted(e.Name()) {
			continue
		}
		d.names = append(d.names, e.Name())
		if info, err := e.Info(); err == nil {
			d.prog.total += info.Size()
		}
	}
	return d, nil
}

// readFSFile reads a whole file, hashing it on the way, allocating once,
// reporting progress and stopping when ctx is done.
func readFSFile(ctx context.Context, fsys fs.FS, name string, p *progress) ([]byte, string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	size := st.Size()
	if limit := fileLimit(name); size > limit {
		return nil, "", &LimitError{What: name, Size: size, Limit: limit, Unit: "bytes"}
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
		if err == io.EOF && off < len(buf) {
			return nil, "", fmt.Errorf("%s: %w: file shrank to %d bytes while reading", name, pickle.ErrTruncated, off)
		}
		if err != nil && err != io.EOF {
			return nil, "", err
		}
	}
	return buf, hex.EncodeToString(h.Sum(nil)), nil
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
