package convert

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert/internal/pickle"
	"github.com/x448/float16"
	"google.golang.org/protobuf/encoding/protowire"
)

// Paddle's combined parameter file (inference.pdiparams) is every
// persistable tensor of the program back to back, in byte-wise order of the
// static names, with no names in the file: the program says which tensors
// there are and the order follows from their names. Per tensor, little
// endian: uint32 version, uint64 lod_level, lod_level x (uint64 size +
// data), uint32 tensor version, int32 desc size, a TensorDesc protobuf
// (1: data_type, 2: dims), then the raw values.

// Paddle's VarType.Type values for the element types a weight can have.
const (
	pdInt64 = 3
	pdFP16  = 4
	pdFP32  = 5
	pdFP64  = 6
	pdBF16  = 22
)

// readCombined reads an exported inference model: the program in file
// (parsed by parse) says which tensors inference.pdiparams holds, in which
// order and with which shapes, and its walk gives the architecture and the
// structured names. The PIR and ProgramDesc rows differ only in parse.
func readCombined(ctx context.Context, d *modelDir, format, file string, parse func([]byte) (*program, error)) (*Checkpoint, error) {
	raw, err := d.read(ctx, file)
	if err != nil {
		return nil, err
	}
	prog, err := parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	a, names, err := prog.walk()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// The parameters are decoded as the program declares them, so what
	// it declares must fit the architecture it describes.
	if n, limit := declaredElements(prog.params), maxElements(a); n > limit {
		return nil, fmt.Errorf("%s: %w", file, &LimitError{What: "the declared parameters' size", Size: int64(n), Limit: int64(limit), Unit: "values"})
	}
	raw, err = d.read(ctx, filePdiparams)
	if err != nil {
		return nil, err
	}
	static, err := decodePdiparams(raw, sortedNames(prog.params), prog.params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filePdiparams, err)
	}
	if d.has(fileInfo) {
		if err := checkInfo(ctx, d, names); err != nil {
			return nil, err
		}
	}
	ck := &Checkpoint{Format: format, Arch: &a, Tensors: make(map[string]arch.Tensor, len(static)), SourceSHA256: d.sums[filePdiparams]}
	for s, t := range static {
		ck.Tensors[names[s]] = t
	}
	return ck, nil
}

// decodePdiparams reads the tensors of a combined parameter file. names
// are the static names in file order and shapes what the program declares
// for them; a tensor whose stored dims differ is an error.
func decodePdiparams(data []byte, names []string, shapes map[string][]int) (map[string]arch.Tensor, error) {
	out := make(map[string]arch.Tensor, len(names))
	pos := 0
	for _, name := range names {
		t, n, err := decodeLoDTensor(data[pos:], shapes[name])
		if err != nil {
			return nil, fmt.Errorf("tensor %s at offset %d: %w", name, pos, err)
		}
		out[name] = t
		pos += n
	}
	if pos != len(data) {
		return nil, fmt.Errorf("%d bytes left after the %d tensors the program declares", len(data)-pos, len(names))
	}
	return out, nil
}

// decodeLoDTensor decodes one serialized tensor and returns it with the
// number of bytes it took.
func decodeLoDTensor(b []byte, want []int) (arch.Tensor, int, error) {
	r := byteReader{b: b}
	if v, err := r.u32(); err != nil {
		return arch.Tensor{}, 0, err
	} else if v != 0 {
		return arch.Tensor{}, 0, fmt.Errorf("LoD tensor version %d, want 0", v)
	}
	lod, err := r.u64()
	if err != nil {
		return arch.Tensor{}, 0, err
	}
	if lod > uint64(len(b)) {
		return arch.Tensor{}, 0, fmt.Errorf("lod_level %d exceeds the input", lod)
	}
	for i := uint64(0); i < lod; i++ {
		n, err := r.u64()
		if err != nil {
			return arch.Tensor{}, 0, err
		}
		if n > uint64(len(b)) {
			return arch.Tensor{}, 0, fmt.Errorf("LoD level %d of %d bytes exceeds the input", i, n)
		}
		if _, err := r.take(int(n)); err != nil {
			return arch.Tensor{}, 0, err
		}
	}
	if v, err := r.u32(); err != nil {
		return arch.Tensor{}, 0, err
	} else if v != 0 {
		return arch.Tensor{}, 0, fmt.Errorf("tensor version %d, want 0", v)
	}
	dl, err := r.u32()
	if err != nil {
		return arch.Tensor{}, 0, err
	}
	desc, err := r.take(int(int32(dl)))
	if err != nil {
		return arch.Tensor{}, 0, fmt.Errorf("tensor desc: %w", err)
	}
	dtype, dims, err := parseTensorDesc(desc, false)
	if err != nil {
		return arch.Tensor{}, 0, err
	}
	if want != nil && !slices.Equal(dims, want) {
		return arch.Tensor{}, 0, fmt.Errorf("stored shape %v, the program declares %s", dims, shortInts(want))
	}
	var size int
	switch dtype {
	case pdFP16:
		size = 2
	case pdFP32:
		size = 4
	case pdFP64:
		size = 8
	default:
		return arch.Tensor{}, 0, fmt.Errorf("unsupported data type %d (want FP16=4, FP32=5 or FP64=6)", dtype)
	}
	// The element count is checked against the bytes left before the
	// values are allocated.
	n := 1
	for _, d := range dims {
		if d < 0 || (d > 0 && n > len(b)/d) {
			return arch.Tensor{}, 0, fmt.Errorf("shape %v is larger than the input", dims)
		}
		n *= d
	}
	if left := len(b) - r.pos; n > left/size {
		return arch.Tensor{}, 0, fmt.Errorf("%w: shape %v needs %d bytes, %d left", pickle.ErrTruncated, dims, n*size, left)
	}
	raw, err := r.take(n * size)
	if err != nil {
		return arch.Tensor{}, 0, fmt.Errorf("data of shape %v: %w", dims, err)
	}
	return arch.Tensor{Shape: dims, Data: floatsLE(raw, size, n)}, r.pos, nil
}

// maxRank is the most dimensions a tensor may have; PP-LCNet's have at
// most 4 (Paddle allows 9).
const maxRank = 8

// declaredElements is the number of values the parameters of shapes
// hold, saturating at math.MaxInt: a program can declare any shape.
func declaredElements(shapes map[string][]int) int {
	total := 0
	for _, s := range shapes {
		n := 1
		for _, d := range s {
			if d <= 0 {
				continue
			}
			if n > math.MaxInt/d {
				return math.MaxInt
			}
			n *= d
		}
		if total > math.MaxInt-n {
			return math.MaxInt
		}
		total += n
	}
	return total
}

// parseTensorDesc decodes VarType.TensorDesc {1: data_type, 2: repeated
// int64 dims}. Programs declare -1 for the batch dimension (allowNeg);
// stored tensors never have one.
func parseTensorDesc(b []byte, allowNeg bool) (dtype int, dims []int, err error) {
	dim := func(v uint64) error {
		if len(dims) >= maxRank {
			return fmt.Errorf("more than %d dimensions", maxRank)
		}
		d := int64(v)
		if d > 1<<31 || d < 0 && (!allowNeg || d != -1) {
			return fmt.Errorf("dimension %d", d)
		}
		dims = append(dims, int(d))
		return nil
	}
	dtype = -1
	dims = []int{}
	err = walkProto(b, func(num protowire.Number, typ protowire.Type, v uint64, sub []byte) error {
		switch {
		case num == 1 && typ == protowire.VarintType:
			dtype = int(v)
		case num == 2 && typ == protowire.VarintType:
			return dim(v)
		case num == 2 && typ == protowire.BytesType: // packed
			for len(sub) > 0 {
				d, n := protowire.ConsumeVarint(sub)
				if n < 0 {
					return protowire.ParseError(n)
				}
				if err := dim(d); err != nil {
					return err
				}
				sub = sub[n:]
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("tensor desc: %w", err)
	}
	if dtype < 0 {
		return 0, nil, errors.New("tensor desc has no data type")
	}
	return dtype, dims, nil
}

// walkProto calls fn for every field of a protobuf message: v holds varint
// and fixed values, sub the bytes of length-delimited fields.
func walkProto(b []byte, fn func(num protowire.Number, typ protowire.Type, v uint64, sub []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		var sub []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			sub, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, sub); err != nil {
			return fmt.Errorf("field %d: %w", num, err)
		}
	}
	return nil
}

// byteReader reads little-endian values with bounds checks.
type byteReader struct {
	b   []byte
	pos int
}

func (r *byteReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, fmt.Errorf("%w: need %d bytes at offset %d, %d left", pickle.ErrTruncated, n, r.pos, len(r.b)-r.pos)
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s, nil
}

func (r *byteReader) u32() (uint32, error) {
	s, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

func (r *byteReader) u64() (uint64, error) {
	s, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(s), nil
}

// floatsLE widens or narrows n little-endian IEEE floats of size bytes (2,
// 4 or 8; decodeLoDTensor allows no other) to float32.
func floatsLE(raw []byte, size, n int) []float32 {
	out := make([]float32, n)
	switch size {
	case 2:
		for i := range out {
			out[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	case 4:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case 8:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	}
	return out
}
