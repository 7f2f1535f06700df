package pickleenc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// encode runs calls on a fresh encoder and returns what it wrote.
func encode(t *testing.T, calls func(e *Encoder)) []byte {
	t.Helper()
	var b bytes.Buffer
	e := NewEncoder(&b)
	calls(e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e.Written() != int64(b.Len()) {
		t.Errorf("Written() = %d, the writer got %d", e.Written(), b.Len())
	}
	return b.Bytes()
}

// framed is a pickle holding body and STOP in one frame, as expected
// from the opcode tables of CPython's pickle.py.
func framed(body string) []byte {
	body += "."
	out := []byte{opProto, 4}
	if len(body) >= frameMin {
		out = append(out, opFrame)
		out = binary.LittleEndian.AppendUint64(out, uint64(len(body)))
	}
	return append(out, body...)
}

func TestOpcodes(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes of UTF-8
	for _, tc := range []struct {
		name  string
		calls func(e *Encoder)
		want  []byte
	}{
		{"None", func(e *Encoder) { e.None() }, framed("N")},
		{"bools", func(e *Encoder) { e.Bool(true); e.Bool(false); e.Tuple(2) }, framed("\x88\x89\x86\x94")},
		{"BININT1", func(e *Encoder) { e.Int(255) }, framed("K\xff")},
		{"BININT2", func(e *Encoder) { e.Int(256) }, framed("M\x00\x01")},
		{"BININT negative", func(e *Encoder) { e.Int(-1) }, framed("J\xff\xff\xff\xff")},
		{"BININT", func(e *Encoder) { e.Int(1 << 20) }, framed("J\x00\x00\x10\x00")},
		{"LONG1", func(e *Encoder) { e.Int(1 << 40) }, framed("\x8a\x06\x00\x00\x00\x00\x00\x01")},
		{"LONG1 negative", func(e *Encoder) { e.Int(-1 << 40) }, framed("\x8a\x06\x00\x00\x00\x00\x00\xff")},
		// 2**39 needs a sixth byte: a top byte of 0x80 would read as negative.
		{"LONG1 sign byte", func(e *Encoder) { e.Int(1 << 39) }, framed("\x8a\x06\x00\x00\x00\x00\x80\x00")},
		{"short str", func(e *Encoder) { e.String("ab") }, framed("\x8c\x02ab\x94")},
		{"BINUNICODE", func(e *Encoder) { e.String(long) }, framed("X\x90\x01\x00\x00" + long + "\x94")},
		{"short bytes", func(e *Encoder) { e.Bytes([]byte("b")) }, framed("C\x01b\x94")},
		{"BINBYTES", func(e *Encoder) { e.Bytes(make([]byte, 300)) }, framed("B\x2c\x01\x00\x00" + string(make([]byte, 300)) + "\x94")},
		{"empty tuple", func(e *Encoder) { e.Tuple(0) }, framed(")")},
		{"TUPLE3", func(e *Encoder) { e.None(); e.None(); e.None(); e.Tuple(3) }, framed("NNN\x87\x94")},
		{"TUPLE", func(e *Encoder) {
			e.Mark()
			e.Int(1)
			e.Int(2)
			e.Int(3)
			e.Int(4)
			e.Tuple(4)
		}, framed("(K\x01K\x02K\x03K\x04t\x94")},
		{"dict", func(e *Encoder) { e.EmptyDict(); r := e.String("k"); e.Get(r); e.SetItem() }, framed("}\x94\x8c\x01k\x94h\x01s")},
		{"global twice", func(e *Encoder) {
			e.Global("numpy", "dtype")
			e.Global("numpy", "dtype")
			e.Global("numpy", "ndarray")
			e.Tuple(3)
		},
			framed("\x8c\x05numpy\x94\x8c\x05dtype\x94\x93\x94h\x02h\x00\x8c\x07ndarray\x94\x93\x94\x87\x94")},
		{"short frame", func(e *Encoder) { e.Int(1) }, []byte("\x80\x04K\x01.")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := encode(t, tc.calls); !bytes.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestLongGet(t *testing.T) {
	got := encode(t, func(e *Encoder) {
		for range 300 {
			e.None()
			e.Tuple(1)
		}
		e.Get(255)
		e.Get(256)
		e.Tuple(2)
	})
	if !bytes.Contains(got, []byte("h\xffj\x00\x01\x00\x00\x86")) {
		t.Errorf("BINGET 255 then LONG_BINGET 256 not found at the end: %q", got[len(got)-20:])
	}
}

// TestFrames: no frame passes FrameTarget by more than one opcode, and
// bytes of FrameTarget or more are written outside any frame, so that
// opcodes never straddle a frame boundary.
func TestFrames(t *testing.T) {
	big := bytes.Repeat([]byte{7}, FrameTarget)
	got := encode(t, func(e *Encoder) {
		e.Mark()
		for range 3000 {
			e.String("0123456789abcdef0123456789abcdef")
		}
		e.Bytes(big)
		e.Float32Array([]int{FrameTarget / 4}, make([]float32, FrameTarget/4))
		e.Tuple(3002)
	})
	// Walk the frames: a FRAME's length must land on the next FRAME, a
	// big bytes header, or the end.
	pos, frames := 2, 0
	for pos < len(got) {
		switch got[pos] {
		case opFrame:
			n := int(binary.LittleEndian.Uint64(got[pos+1:]))
			if n > FrameTarget+64 {
				t.Fatalf("frame at %d holds %d bytes", pos, n)
			}
			pos += frameHeaderBytes + n
			frames++
		case opBinBytes:
			pos += 5 + int(binary.LittleEndian.Uint32(got[pos+1:]))
		default:
			t.Fatalf("byte %d is opcode %q outside a frame", pos, got[pos])
		}
	}
	if pos != len(got) || frames < 3 {
		t.Errorf("walked to %d of %d through %d frames", pos, len(got), frames)
	}
	if err := pickletoolsDis(t, got); err != nil {
		t.Error(err)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		calls func(e *Encoder)
		says  string
	}{
		{"bad UTF-8", func(e *Encoder) { e.String("\xff") }, "UTF-8"},
		{"short data", func(e *Encoder) { e.Float32Array([]int{2, 2}, make([]float32, 3)) }, "needs 4 values"},
		{"negative shape", func(e *Encoder) { e.Float32Array([]int{-1}, nil) }, "invalid array shape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEncoder(&bytes.Buffer{})
			tc.calls(e)
			if err := e.Close(); err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v, want one saying %q", err, tc.says)
			}
		})
	}
	// A failing writer: the first error sticks and names the offset.
	e := NewEncoder(failWriter{})
	e.Bytes(make([]byte, FrameTarget))
	if err := e.Close(); !errors.Is(err, errDiskFull) {
		t.Errorf("error %v, want the writer's", err)
	}
}

var errDiskFull = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

// pickletoolsDis runs CPython's pickle disassembler, which checks every
// opcode, argument, frame and the memo, on a pickle.
func pickletoolsDis(t *testing.T, pkl []byte) error {
	t.Helper()
	py := python(t)
	f := filepath.Join(t.TempDir(), "x.pkl")
	if err := os.WriteFile(f, pkl, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", "import pickletools,sys,io; pickletools.dis(open(sys.argv[1],'rb'), out=io.StringIO())", f).CombinedOutput()
	if err != nil {
		return errors.New(string(out))
	}
	return nil
}

// python finds python3; without it the test skips, except under CI.
func python(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is needed to check pickles against CPython")
		}
		t.Skip("python3 not found")
	}
	return py
}

// stubNumpy is a stand-in numpy for CPython (numpy is not installed): its
// ndarray and dtype keep what __setstate__ gets, and reduce the way
// numpy's do, so pickle.dump of what pickle.load built is what numpy's
// pickler would write for the same state dict.
const stubNumpy = `
class dtype:
    def __init__(self, s, align, copy):
        assert (s, align, copy) == ('f4', False, True), (s, align, copy)
        self.s = s
    def __setstate__(self, st):
        assert st == (3, '<', None, None, None, -1, -1, 0), st
    def __reduce__(self):
        return (dtype, (self.s, False, True), (3, '<', None, None, None, -1, -1, 0))
class ndarray:
    def __setstate__(self, st):
        ver, self.shape, self.dtype, fortran, self.data = st
        assert ver == 1 and fortran is False and type(self.data) is bytes
    def __reduce__(self):
        from numpy.core.multiarray import _reconstruct
        return (_reconstruct, (ndarray, tuple([0]), b'b'), (1, self.shape, self.dtype, False, self.data))
`

const stubMultiarray = `
def _reconstruct(cls, shape, code):
    assert shape == (0,) and code == b'b'
    return cls.__new__(cls)
`

// TestCPython loads a state dict written by the encoder in CPython (with
// the stand-in numpy), checks every array, and pickles it again: CPython's
// own pickler must write the very same bytes, frames and memo included.
func TestCPython(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	for path, src := range map[string]string{
		"numpy/__init__.py":        stubNumpy,
		"numpy/core/__init__.py":   "",
		"numpy/core/multiarray.py": stubMultiarray,
	} {
		p := filepath.Join(dir, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Arrays below, at and above the frame target, of ranks 0 to 4.
	shapes := [][]int{{8, 3, 3, 3}, {8}, {}, {20000, 1, 1, 1}, {0}, {FrameTarget / 4}, {3, 5}, {1280, 1000}}
	var b bytes.Buffer
	e := NewEncoder(&b)
	e.EmptyDict()
	e.Mark()
	keys := make([]Ref, len(shapes))
	for i, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		data := make([]float32, n)
		for j := range data {
			data[j] = float32(math.Sin(float64(i*7919 + j)))
		}
		name := fmt.Sprintf("t%c", 'a'+i)
		keys[i] = e.String(name)
		e.Float32Array(s, data)
	}
	e.String("StructuredToParameterName@@")
	e.EmptyDict()
	e.Mark()
	for i := range shapes {
		e.Get(keys[i])
		e.String(fmt.Sprintf("conv2d_%d.w_0", i))
	}
	e.SetItems()
	e.SetItems()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	in, out := filepath.Join(dir, "in.pkl"), filepath.Join(dir, "out.pkl")
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	script := `
import sys, pickle, struct
sys.path.insert(0, sys.argv[1])
d = pickle.load(open(sys.argv[2], 'rb'))
names = d.pop('StructuredToParameterName@@')
assert list(names) == list(d), (list(names), list(d))
assert all(a is b for a, b in zip(names, d)), 'the name table does not share the keys'
dt = {id(v.dtype) for v in d.values()}
assert len(dt) == 1, 'one dtype object'
for k, v in d.items():
    n = 1
    for s in v.shape: n *= s
    assert len(v.data) == 4 * n, (k, v.shape, len(v.data))
    print(k, ','.join(map(str, v.shape)))
d['StructuredToParameterName@@'] = names
with open(sys.argv[3], 'wb') as f:
    pickle.dump(d, f, protocol=4)
`
	res, err := exec.Command(py, "-c", script, dir, in, out).CombinedOutput()
	if err != nil {
		t.Fatalf("CPython: %v\n%s", err, res)
	}
	var shapesSeen strings.Builder
	for i, s := range shapes {
		dims := make([]string, len(s))
		for j, d := range s {
			dims[j] = strconv.Itoa(d)
		}
		fmt.Fprintf(&shapesSeen, "t%c %s\n", 'a'+i, strings.Join(dims, ","))
	}
	if string(res) != shapesSeen.String() {
		t.Errorf("CPython read\n%s\nwant\n%s", res, shapesSeen.String())
	}
	again, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b.Bytes()) {
		i := 0
		for i < len(again) && i < b.Len() && again[i] == b.Bytes()[i] {
			i++
		}
		t.Errorf("CPython pickles the same dict differently from byte %d (%d bytes, ours %d)", i, len(again), b.Len())
	}
}
