// Package hostile builds the model files of issue #18's attacks, each
// made to cost a reader far more memory than its own size, for the tests
// of every layer that reads uploads: convert, the API and the CLI. The
// files are generated, never stored, and building one costs little more
// than its own bytes.
package hostile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// MB is a mebibyte, the unit the attacks are sized in.
const MB = 1 << 20

// PickleArray appends a protocol 4 numpy array of n zero values of the
// dtype ("f2" or "f4"), built the way numpy pickles one
// (numpy.core.multiarray._reconstruct, then __setstate__).
func PickleArray(b []byte, n int, dtype string) []byte {
	size := map[string]int{"f2": 2, "f4": 4}[dtype]
	b = append(b, 'c')
	b = append(b, "numpy.core.multiarray\n_reconstruct\n"...)
	b = append(b, 'c')
	b = append(b, "numpy\nndarray\n"...)
	b = append(b, 'K', 0, 0x85, 'C', 1, 'b', 0x87, 'R')
	b = append(b, '(', 'K', 1, 'J')
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, 0x85, 'c')
	b = append(b, "numpy\ndtype\n"...)
	b = append(b, 0x8c, 2)
	b = append(b, dtype...)
	b = append(b, 0x89, 0x88, 0x87, 'R', 0x89, 'B')
	b = binary.LittleEndian.AppendUint32(b, uint32(n*size))
	b = append(b, make([]byte, n*size)...)
	return append(b, 't', 'b')
}

// MemoPdparams is a .pdparams state dict whose refs entries all name one
// float32 array of n values through the pickle memo: n*4 bytes on disk,
// refs times that for a reader that converts each reference anew.
func MemoPdparams(n, refs int) []byte {
	b := []byte{0x80, 4, '}', '(', 0x8c, 2, 'w', '0'}
	b = PickleArray(b, n, "f4")
	b = append(b, 'r', 0, 0, 0, 0) // LONG_BINPUT 0
	for i := 1; i < refs; i++ {
		if i%1000 == 0 {
			b = append(b, 'u', '(') // SETITEMS in batches, as pickle does
		}
		name := fmt.Sprintf("w%d", i)
		b = append(b, 0x8c, byte(len(name)))
		b = append(b, name...)
		b = append(b, 'h', 0) // BINGET 0
	}
	return append(b, 'u', '.')
}

// BigPdparams is a state dict of count distinct float16 arrays of n
// values each.
func BigPdparams(n, count int) []byte {
	b := []byte{0x80, 4, '}', '('}
	for i := range count {
		name := fmt.Sprintf("w%d", i)
		b = append(b, 0x8c, byte(len(name)))
		b = append(b, name...)
		b = PickleArray(b, n, "f2")
	}
	return append(b, 'u', '.')
}

// RepeatOp is a protocol 4 pickle that pushes None and then runs op n
// times before STOP: DUP ('2') and MARK ('(') each grow the unpickler's
// stack by one entry a byte, MEMOIZE (0x94) its memo.
func RepeatOp(op byte, n int) []byte {
	b := make([]byte, 0, n+4)
	b = append(b, 0x80, 4, 'N')
	b = append(b, bytes.Repeat([]byte{op}, n)...)
	return append(b, '.')
}

// Pickle opcodes RepeatOp is meant for.
const (
	OpDup     = '2'
	OpMark    = '('
	OpMemoize = 0x94
)

// TarGz is a gzip of a tar holding the named files (under "m/"), each
// size bytes of zeros (a multiple of MB). It is concatenated gzip members,
// one per MB of zeros, each compressed once: Go's gzip reader, like gzip
// itself, reads them as one stream, and building the bomb costs nothing.
// Its expanded size is about a thousand times its own.
func TarGz(size int64, names ...string) []byte {
	zeros := gzipMember(make([]byte, MB))
	var out []byte
	for _, name := range names {
		var hb bytes.Buffer
		// Only the header is taken from this writer, never closed.
		if err := tar.NewWriter(&hb).WriteHeader(&tar.Header{Name: "m/" + name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			panic(fmt.Sprintf("hostile.TarGz: tar header for %q: %v", name, err))
		}
		out = append(out, gzipMember(hb.Bytes())...)
		for range size / MB {
			out = append(out, zeros...)
		}
	}
	return append(out, gzipMember(make([]byte, 1024))...)
}

// gzipMember compresses b as one gzip member. Writing to memory cannot
// fail.
func gzipMember(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// PIR is a PIR program (inference.json) of at least size bytes of tiny
// ops: every few bytes a JSON value a decoder allocates for.
func PIR(size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 128)
	b.WriteString(`{"base_code":{"magic":"pir"},"program":{"regions":[{"blocks":[{"ops":[`)
	for b.Len() < size {
		b.WriteString(`{"#":"1.relu","I":[{"%":1},{"%":2}],"O":[{"%":3}]},`)
	}
	b.WriteString(`{"#":"1.relu"}]}]}]}}`)
	return b.Bytes()
}

// pdFP32 is Paddle's VarType.FP32.
const pdFP32 = 5

// PdiparamsDims is an inference.pdiparams of one stored tensor whose
// TensorDesc declares dims dimensions of 1: a byte a dimension, each
// eight bytes once decoded, and as many numbers in an error message that
// prints the shape.
func PdiparamsDims(dims int) []byte {
	var desc []byte
	desc = protowire.AppendTag(desc, 1, protowire.VarintType)
	desc = protowire.AppendVarint(desc, pdFP32)
	desc = protowire.AppendTag(desc, 2, protowire.BytesType)
	desc = protowire.AppendBytes(desc, bytes.Repeat([]byte{1}, dims))
	// Tensor version (uint32), LoD level (uint64), tensor version again.
	b := make([]byte, 4+8+4, 4+8+4+4+len(desc)+4)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(desc)))
	b = append(b, desc...)
	return append(b, 0, 0, 0, 0)
}
