package convert

import (
	"fmt"
	"strings"

	"github.com/lcnet/lcnet/arch"
)

// LimitError is a model file refused because reading it would cost more
// memory than any PP-LCNet checkpoint needs: an archive that expands too
// far, a program file too large, more tensor values than the architecture
// holds. The API answers it as a client error, like any unreadable upload.
type LimitError struct {
	// What was measured, e.g. "the archive's expanded size".
	What string
	// Size is what the input has or claims (a lower bound when reading
	// stopped early), Limit what is allowed, in Unit.
	Size, Limit int64
	Unit        string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %d %s, over the limit of %d", e.What, e.Size, e.Unit, e.Limit)
}

// Paddle's program files are 100-300 KB (inference.json) and a few MB
// with the call stacks a .pdmodel carries; inference.yml and the .info
// pickle are kilobytes. Decoding costs a multiple of the input, so each is
// capped far above what real exports hold.
const (
	maxProgramBytes = 16 << 20
	maxInfoBytes    = 16 << 20
	// yaml.v3 builds a node of about 200 bytes per scalar: a label list of
	// 21000 ImageNet-22k classes is 500 KB.
	maxYMLBytes = 2 << 20
)

// PP-LCNet programs have a few hundred ops and vars, and their attribute
// lists (strides, paddings, shapes) a handful of items. Parsing costs
// hundreds of bytes per op, so even a program under maxProgramBytes is
// bounded by its count of ops.
const (
	maxProgramOps = 1 << 14
	maxAttrInts   = 1 << 10
)

// programSize refuses a program file over maxProgramBytes before it is
// parsed.
func programSize(data []byte) error {
	if len(data) > maxProgramBytes {
		return &LimitError{What: "the program file", Size: int64(len(data)), Limit: maxProgramBytes, Unit: "bytes"}
	}
	return nil
}

// maxJSONTokens bounds the objects, arrays and elements of a PIR program
// before encoding/json decodes it, at about 100 bytes each: the real ones
// have about 12000 in 100 KB, and a file of tiny ops or long arrays would
// otherwise cost ten times its size.
const maxJSONTokens = 1 << 18

// pirSize refuses a PIR program over maxProgramBytes or maxJSONTokens
// (counted as commas and opening brackets, strings included, which only
// ever overcounts) before it is parsed.
func pirSize(data []byte) error {
	if err := programSize(data); err != nil {
		return err
	}
	n := 0
	for _, c := range data {
		if c == ',' || c == '{' || c == '[' {
			n++
		}
	}
	if n > maxJSONTokens {
		return &LimitError{What: "the program's JSON values", Size: int64(n), Limit: maxJSONTokens, Unit: "values"}
	}
	return nil
}

// fileLimit is the largest a model directory's file may be.
func fileLimit(base string) int64 {
	switch base {
	case fileJSON, filePdmodel:
		return maxProgramBytes
	case fileYML:
		return maxYMLBytes
	case fileInfo:
		return maxInfoBytes
	}
	return maxArchiveFile
}

// maxElements bounds the values a checkpoint of a may hold: a's own,
// with slack for the odd extra tensor (the check against the tensor table
// that follows names those).
func maxElements(a arch.Arch) int {
	n := a.NumElements()
	return n + n/4 + 1<<16
}

// shortInts renders a list of ints for an error message, eliding all but
// the first few: a hostile shape can have millions of dimensions.
func shortInts(v []int) string {
	const keep = 8
	if len(v) <= keep {
		return fmt.Sprint(v)
	}
	s := strings.TrimSuffix(fmt.Sprint(v[:keep]), "]")
	return fmt.Sprintf("%s ... (%d items)]", s, len(v))
}
