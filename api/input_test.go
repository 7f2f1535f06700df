package api

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// TestReadBody: readBody returns what io.ReadAll returns whatever length
// the client declared, allocates once for a small body and a few times,
// the last of its size, for a photo when the declaration is right, and
// allocates no more than its hint for a body that claims a gigabyte and
// sends ten bytes.
func TestReadBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 440) // about a 320x48 PNG
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		r    func() io.Reader
		size int64
	}{
		{"exact", func() io.Reader { return bytes.NewReader(body) }, int64(len(body))},
		{"undeclared", func() io.Reader { return bytes.NewReader(body) }, -1},
		{"declared short", func() io.Reader { return bytes.NewReader(body) }, 100},
		{"declared long", func() io.Reader { return bytes.NewReader(body) }, 1 << 30},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body)) }, int64(len(body))},
		{"empty", func() io.Reader { return bytes.NewReader(nil) }, 0},
		{"error", func() io.Reader { return io.MultiReader(bytes.NewReader(body[:50]), iotest.ErrReader(boom)) }, int64(len(body))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := io.ReadAll(tc.r())
			got, err := readBody(tc.r(), tc.size)
			if !bytes.Equal(got, want) || !errors.Is(err, wantErr) && err != wantErr {
				t.Fatalf("got %d bytes, %v; want %d bytes, %v", len(got), err, len(want), wantErr)
			}
		})
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = readBody(bytes.NewReader(body), int64(len(body))) }); n > 2 {
		t.Errorf("%v allocations for a body of the declared size, want at most 2 (the reader and the buffer)", n)
	}
	// A 4 MB photo: 64 KiB, 256 KiB, 1 MiB, then its size; not the
	// doubling of io.ReadAll (17 MB).
	photo := make([]byte, 4<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := readBody(bytes.NewReader(photo), int64(len(photo)))
	runtime.ReadMemStats(&after)
	if err != nil || len(got) != len(photo) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > uint64(len(photo))+(64+256+1024+16)<<10 {
		t.Errorf("a 4 MiB body of the declared size allocated %d bytes", n)
	}
	runtime.ReadMemStats(&before)
	for range 10 {
		if _, err := readBody(bytes.NewReader(body[:10]), 1<<30); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 64<<10+64 {
		t.Errorf("a 10-byte body declared as 1 GiB allocated %d bytes, want at most the 64 KiB hint", per)
	}
}
