// Package convert reads PaddlePaddle PP-LCNet checkpoints (dygraph
// .pdparams, Paddle 2 inference.pdmodel and Paddle 3 inference.json
// programs with inference.pdiparams, and those directories packed as tar
// or tar.gz) and imports them into the model zoo.
package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	// Threshold is the multi-label decision threshold of inference.yml's
	// PostProcess; 0 when it names none.
	Threshold float64
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
	clean := filepath.Clean(path)
	if st.IsDir() {
		return readDir(ctx, clean, filepath.Base(clean), opts)
	}
	dir, base := filepath.Dir(clean), filepath.Base(clean)
	if base != "." && wanted(base) && !strings.HasSuffix(base, ".pdparams") {
		// A file of an exported model stands for its directory.
		return readDir(ctx, dir, filepath.Base(dir), opts)
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
		ck, err := readModel(ctx, &modelDir{fsys: files, names: sortedNames(files), what: "archive", prog: prog})
		if err != nil {
			return nil, err
		}
		ck.Format = tarPrefix + ck.Format
		ck.SourceName, ck.SourceSHA256 = base, sum
		return ck, nil
	}
	if !pickle.Looks(head) {
		return nil, errors.New("neither a pickle (.pdparams) nor a tar archive")
	}
	// A single checkpoint file, whatever its name: the pdparams row on
	// its directory, given this file and no other.
	d := &modelDir{fsys: os.DirFS(dir), names: []string{base}, what: "file " + path, prog: prog, sums: map[string]string{}}
	ck, err := readPdparamsFile(ctx, d, base)
	if err != nil {
		return nil, err
	}
	ck.SourceName = base
	return ck, nil
}

func readDir(ctx context.Context, dir, name string, opts ReadOptions) (*Checkpoint, error) {
	d, err := dirModel(os.DirFS(dir), "directory "+dir, opts)
	if err != nil {
		return nil, err
	}
	ck, err := readModel(ctx, d)
	if err != nil {
		return nil, err
	}
	ck.SourceName = name
	return ck, nil
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
