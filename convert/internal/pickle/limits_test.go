package pickle

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// memUse runs fn and returns the bytes it allocated in all (TotalAlloc
// delta) and the highest HeapAlloc sampled while it ran.
func memUse(fn func()) (total, peak uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc-min(m.HeapAlloc, before.HeapAlloc))
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, peak
}

// hostile pickles: a protocol header, then one opcode (and its operand)
// repeated to n bytes. Real checkpoints keep a few thousand objects on
// the stack and in the memo at most.
func repeatOp(n int, op ...byte) []byte {
	b := []byte{opProto, 4, opNone}
	b = append(b, bytes.Repeat(op, n/len(op))...)
	return append(b, opStop)
}

// encodeBomb re-encodes one memoized string as bytes many times: each
// _codecs.encode call would allocate the string's length again.
func encodeBomb(strLen, calls int) []byte {
	b := []byte{opProto, 2, opMark}
	b = append(b, opGlobal)
	b = append(b, "_codecs\nencode\n"...)
	b = append(b, opBinPut, 0)
	b = append(b, opBinUnicode, byte(strLen), byte(strLen>>8), byte(strLen>>16), byte(strLen>>24))
	b = append(b, bytes.Repeat([]byte{'a'}, strLen)...)
	b = append(b, opBinPut, 1, opPop)
	b = append(b, opBinUnicode, 6, 0, 0, 0)
	b = append(b, "latin1"...)
	b = append(b, opBinPut, 2, opPop)
	for range calls {
		b = append(b, opBinGet, 0, opBinGet, 1, opBinGet, 2, opTuple2, opReduce)
	}
	b = append(b, opList, opStop)
	return b
}

// TestHostileBounded feeds pickles built to exhaust memory and wants each
// refused with ErrLimit, at the offending opcode, within a few MB.
func TestHostileBounded(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name string
		data []byte
	}{
		{"DUP", repeatOp(8*mb, opDup)},
		{"MARK", repeatOp(8*mb, opMark)},
		{"MEMOIZE", repeatOp(8*mb, opMemoize)},
		{"tuple of DUPs", repeatOp(8*mb, opMark, opDup, opDup, opDup, opDup, opDup, opDup, opTuple, opDup)},
		{"codecs.encode of a memoized string", encodeBomb(mb, 200)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			total, peak := memUse(func() { _, err = Load(tc.data) })
			t.Logf("%d-byte pickle: allocated %.1f MB, peak heap %.1f MB: %v", len(tc.data), float64(total)/mb, float64(peak)/mb, err)
			var pe *Error
			if !errors.Is(err, ErrLimit) || !errors.As(err, &pe) {
				t.Fatalf("got %v, want an *Error wrapping ErrLimit", err)
			}
			if total > 48*mb {
				t.Errorf("allocated %d bytes for a %d-byte pickle, want under 48 MB", total, len(tc.data))
			}
		})
	}
}
