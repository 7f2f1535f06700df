package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert/internal/pickle"
)

// structuredKey is the entry paddle.save adds to a state dict: a dict from
// structured name to static name, not a tensor.
const structuredKey = "StructuredToParameterName@@"

// namePrefixes are the wrappers some exports put around the backbone
// (PaddleClas' RecModel, distillation students).
var namePrefixes = []string{"base_model.", "backbone.", "student."}

// StripPrefix removes one known wrapper prefix from a structured name.
func StripPrefix(name string) string {
	for _, p := range namePrefixes {
		if s, ok := strings.CutPrefix(name, p); ok {
			return s
		}
	}
	return name
}

// ReadPdparams reads a dygraph checkpoint (paddle.save of a state dict) and
// returns its tensors by structured name, with wrapper prefixes stripped and
// every value converted to float32. Entries that are not arrays (such as
// StructuredToParameterName@@) are skipped.
func ReadPdparams(r io.Reader) (map[string]arch.Tensor, error) {
	data, err := readAllSized(r)
	if err != nil {
		return nil, fmt.Errorf("pdparams: %w", err)
	}
	return decodePdparams(data)
}

// readPdparamsFile is the reader row for a dygraph checkpoint: one
// .pdparams file, which has no program, so the importer infers the
// architecture from the tensor shapes.
func readPdparamsFile(ctx context.Context, d *modelDir, name string) (*Checkpoint, error) {
	raw, err := d.read(ctx, name)
	if err != nil {
		return nil, err
	}
	ts, err := decodePdparams(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Checkpoint{Format: FormatPdparams, Tensors: ts, SourceSHA256: d.sums[name]}, nil
}

func decodePdparams(data []byte) (map[string]arch.Tensor, error) {
	obj, err := pickle.Load(data)
	if err != nil {
		return nil, fmt.Errorf("pdparams: %w", err)
	}
	d, ok := obj.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("pdparams: the pickle holds a %s, want a dict of arrays", pickle.TypeName(obj))
	}
	// Every array is found and measured before any is decoded: a memo
	// reference lets one array appear under thousands of names, and the
	// sum of what the arrays claim is bounded by the largest PP-LCNet.
	type entry struct {
		name, short string
		arr         *pickle.Array
	}
	var entries []entry
	from := make(map[string]string, len(d.Keys))
	nameOf := make(map[*pickle.Array]string, len(d.Keys))
	total := 0
	for i, k := range d.Keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("pdparams: key %s is a %s, want a tensor name", pickle.Short(k), pickle.TypeName(k))
		}
		v := d.Vals[i]
		if t, ok := v.(pickle.Tuple); ok && len(t) == 2 {
			// Paddle 2.0 pickles a Tensor as (static name, ndarray).
			if _, named := t[0].(string); named {
				v = t[1]
			}
		}
		arr, ok := v.(*pickle.Array)
		if !ok {
			// StructuredToParameterName@@ and any other bookkeeping.
			continue
		}
		if prev, dup := nameOf[arr]; dup {
			return nil, fmt.Errorf("pdparams: tensors %s and %s are the same array; each tensor must have its own", pickle.Short(prev), pickle.Short(name))
		}
		nameOf[arr] = name
		n, err := arr.NumElements()
		if err != nil {
			return nil, fmt.Errorf("pdparams: tensor %s: %w", pickle.Short(name), err)
		}
		total += n
		short := StripPrefix(name)
		if prev, dup := from[short]; dup {
			return nil, fmt.Errorf("pdparams: tensors %s and %s both map to %s", pickle.Short(prev), pickle.Short(name), pickle.Short(short))
		}
		from[short] = name
		entries = append(entries, entry{name, short, arr})
	}
	classes, expand := 1000, 1280
	for _, e := range entries {
		switch shape := e.arr.Shape(); {
		case e.short == "fc.bias" && len(shape) == 1:
			classes = shape[0]
		case e.short == "last_conv.weight" && len(shape) > 0:
			expand = shape[0]
		}
	}
	if limit := maxElements(arch.LargestArch(classes, expand)); total > limit {
		return nil, fmt.Errorf("pdparams: %w", &LimitError{What: "the tensors' size", Size: int64(total), Limit: int64(limit), Unit: "values"})
	}
	out := make(map[string]arch.Tensor, len(entries))
	for _, e := range entries {
		shape, data, err := e.arr.Floats()
		if err != nil {
			return nil, fmt.Errorf("pdparams: tensor %s: %w", pickle.Short(e.name), err)
		}
		out[e.short] = arch.Tensor{Shape: shape, Data: data}
	}
	if len(out) == 0 {
		return nil, errors.New("pdparams: the checkpoint holds no arrays")
	}
	return out, nil
}

// readAllSized reads r completely, allocating once when the size is known
// (files), so a 36 MB checkpoint costs 36 MB and not the doubling of
// io.ReadAll.
func readAllSized(r io.Reader) ([]byte, error) {
	var size int64 = -1
	switch f := r.(type) {
	case *os.File:
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if off, err := f.Seek(0, io.SeekCurrent); err == nil {
				size = st.Size() - off
			}
		}
	case interface{ Len() int }:
		size = int64(f.Len())
	case interface{ Size() int64 }:
		size = f.Size()
	}
	if size < 0 {
		return io.ReadAll(r)
	}
	var buf bytes.Buffer
	// One byte more than the size, so ReadFrom sees EOF without growing.
	buf.Grow(int(size) + 1)
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sortedNames returns the keys of m in byte-wise order.
func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
