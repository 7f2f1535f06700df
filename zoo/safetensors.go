package zoo

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/lcnet/lcnet/arch"
	"github.com/x448/float16"
)

// The weights of a version are a safetensors file: an 8-byte little-endian
// header length, a JSON header mapping each tensor name to its dtype, shape
// and [begin, end) byte range, then the raw little-endian data.

// maxHeader bounds the JSON header so a hostile file cannot make the reader
// allocate without limit before the data turns out to be missing.
const maxHeader = 16 << 20

type stEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// writeSafetensors encodes tensors in sorted name order, as F32 or F16.
func writeSafetensors(w io.Writer, tensors map[string]arch.Tensor, dtype DType) error {
	width, stType := 4, "F32"
	if dtype == FP16 {
		width, stType = 2, "F16"
	}
	names := make([]string, 0, len(tensors))
	for name := range tensors {
		names = append(names, name)
	}
	sort.Strings(names)
	header := map[string]any{"__metadata__": map[string]string{"format": "lcnet", "dtype": string(dtype)}}
	var off int64
	for _, name := range names {
		t := tensors[name]
		if err := t.Check(); err != nil {
			return fmt.Errorf("tensor %s: %w", name, err)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		n := int64(len(t.Data) * width)
		header[name] = stEntry{DType: stType, Shape: shape, Offsets: [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad the header with spaces so the data starts 8-byte aligned.
	if pad := (8 - len(hj)%8) % 8; pad > 0 {
		hj = append(hj, bytes.Repeat([]byte(" "), pad)...)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hj)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hj); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, name := range names {
		for i, v := range tensors[name].Data {
			if width == 4 {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			} else {
				h := float16.Fromfloat32(v)
				// A finite weight beyond fp16's range would turn into an
				// infinity and poison every output; refuse instead.
				if h.IsInf(0) && !math.IsInf(float64(v), 0) {
					return fmt.Errorf("tensor %s[%d] = %g does not fit in fp16 (max %g); store this model as fp32", name, i, v, float16.Frombits(0x7bff).Float32())
				}
				buf = binary.LittleEndian.AppendUint16(buf, h.Bits())
			}
			if len(buf) >= cap(buf)-4 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err = w.Write(buf)
	return err
}

// readSafetensors decodes a whole safetensors file into float32 tensors,
// checking every offset against the file so a corrupt header is an error,
// never a panic or an out-of-bounds read.
func readSafetensors(b []byte) (map[string]arch.Tensor, error) {
	if len(b) < 8 {
		return nil, errors.New("safetensors: file shorter than its 8-byte header length")
	}
	hlen := binary.LittleEndian.Uint64(b[:8])
	if hlen > maxHeader || hlen > uint64(len(b)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the file (%d bytes)", hlen, len(b))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+hlen], &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header: %w", err)
	}
	data := b[8+hlen:]
	out := make(map[string]arch.Tensor, len(raw))
	type span struct {
		name       string
		begin, end int64
	}
	spans := make([]span, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e stEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %s: %w", name, err)
		}
		var width int64
		switch e.DType {
		case "F32":
			width = 4
		case "F16":
			width = 2
		default:
			return nil, fmt.Errorf("safetensors: tensor %s: dtype %q is not F32 or F16", name, e.DType)
		}
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && n > int64(len(data))/int64(d)) {
				return nil, fmt.Errorf("safetensors: tensor %s: shape %v does not fit the file", name, e.Shape)
			}
			n *= int64(d)
		}
		begin, end := e.Offsets[0], e.Offsets[1]
		if begin < 0 || end < begin || end > int64(len(data)) || end-begin != n*width {
			return nil, fmt.Errorf("safetensors: tensor %s: data_offsets [%d, %d) do not match shape %v of %s in %d data bytes", name, begin, end, e.Shape, e.DType, len(data))
		}
		spans = append(spans, span{name, begin, end})
		vals := make([]float32, n)
		src := data[begin:end]
		for i := range vals {
			if width == 4 {
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			} else {
				vals[i] = float16.Frombits(binary.LittleEndian.Uint16(src[2*i:])).Float32()
			}
		}
		out[name] = arch.Tensor{Shape: append([]int{}, e.Shape...), Data: vals}
	}
	// As the format requires, the tensors must tile the data exactly: an
	// overlap or a hole means the header does not describe this file.
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	var at int64
	for _, sp := range spans {
		if sp.begin != at {
			return nil, fmt.Errorf("safetensors: tensor %s starts at data offset %d, expected %d (overlap or hole)", sp.name, sp.begin, at)
		}
		at = sp.end
	}
	if at != int64(len(data)) {
		return nil, fmt.Errorf("safetensors: tensors cover %d of %d data bytes", at, len(data))
	}
	return out, nil
}
