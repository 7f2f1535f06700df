// Package npy reads and writes NumPy .npy files holding float32 arrays, the
// format of the fixtures' expected outputs and of `lcnet infer`'s tensors.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var magic = []byte("\x93NUMPY")

// maxElements bounds what a header may ask for, so a hostile header cannot
// make Read allocate gigabytes before the data turns out to be missing.
const maxElements = 1 << 30

// Array is a float32 array in C order.
type Array struct {
	Shape []int
	Data  []float32
}

var (
	descrRe   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	fortranRe = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	shapeRe   = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
)

// Read decodes a .npy stream of little-endian float32 (<f4) or float64
// (<f8, narrowed to float32) values in C order.
func Read(r io.Reader) (*Array, error) {
	br := bufio.NewReader(r)
	pre := make([]byte, 8)
	if _, err := io.ReadFull(br, pre); err != nil {
		return nil, fmt.Errorf("npy: reading preamble: %w", err)
	}
	if !bytes.Equal(pre[:6], magic) {
		return nil, errors.New("npy: not a .npy file (bad magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("npy: reading header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("npy: reading header length: %w", err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
		if hlen > 1<<20 {
			return nil, fmt.Errorf("npy: header of %d bytes is too long", hlen)
		}
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d", pre[6])
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(br, header); err != nil {
		return nil, fmt.Errorf("npy: reading header: %w", err)
	}
	h := string(header)
	m := descrRe.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("npy: header has no descr: %q", h)
	}
	descr := m[1]
	var width int
	switch descr {
	case "<f4", "=f4":
		width = 4
	case "<f8", "=f8":
		width = 8
	default:
		return nil, fmt.Errorf("npy: dtype %q is not supported (want <f4 or <f8)", descr)
	}
	if m := fortranRe.FindStringSubmatch(h); m == nil || m[1] != "False" {
		return nil, errors.New("npy: only C-order arrays are supported")
	}
	m = shapeRe.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("npy: header has no shape: %q", h)
	}
	shape := []int{}
	n := 1
	for _, f := range strings.Split(m[1], ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		d, err := strconv.Atoi(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("npy: bad dimension %q in shape", f)
		}
		if d > 0 && n > maxElements/d {
			return nil, fmt.Errorf("npy: shape %s has more than %d elements", m[1], maxElements)
		}
		n *= d
		shape = append(shape, d)
	}
	raw := make([]byte, 0, min(n*width, 1<<24))
	buf := bytes.NewBuffer(raw)
	if got, err := io.CopyN(buf, br, int64(n*width)); err != nil {
		return nil, fmt.Errorf("npy: data truncated: want %d bytes, got %d", n*width, got)
	}
	b := buf.Bytes()
	data := make([]float32, n)
	for i := range data {
		if width == 4 {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		} else {
			data[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
	return &Array{Shape: shape, Data: data}, nil
}

// ReadFile reads a .npy file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Write encodes a as a version 1.0 .npy stream of <f4 values.
func Write(w io.Writer, a *Array) error {
	n := 1
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		n *= d
		dims[i] = strconv.Itoa(d)
	}
	if n != len(a.Data) {
		return fmt.Errorf("npy: shape %v needs %d values, have %d", a.Shape, n, len(a.Data))
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape)
	// The preamble plus header is padded with spaces to a multiple of 64
	// and ends in a newline, as numpy writes it.
	total := len(magic) + 2 + 2 + len(h) + 1
	pad := (64 - total%64) % 64
	h += strings.Repeat(" ", pad) + "\n"
	// A bufio.Writer keeps its first error and Flush returns it, so the
	// writes are checked once, there.
	bw := bufio.NewWriter(w)
	_, _ = bw.Write(magic)
	_, _ = bw.Write([]byte{1, 0})
	var hl [2]byte
	binary.LittleEndian.PutUint16(hl[:], uint16(len(h)))
	_, _ = bw.Write(hl[:])
	_, _ = bw.WriteString(h)
	var b [4]byte
	for _, v := range a.Data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		_, _ = bw.Write(b[:])
	}
	return bw.Flush()
}

// WriteFile writes a to path.
func WriteFile(path string, a *Array) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, a); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
