package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/api/client"
)

// TestUploadHostile posts model files built to exhaust the server's
// memory (issue #18; convert's hostile tests measure each reader in
// detail) and wants each refused as a 422 with a short detail, at a cost
// measured in megabytes.
func TestUploadHostile(t *testing.T) {
	z, _ := realZoo(t, nil)
	ts, _ := serveZoo(t, z, nil)
	c, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	tl := textlinePath(t)
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(tl, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	yml := strings.Replace(string(read("inference.yml")), "      size:\n      - 160\n      - 80\n", "      size:\n      - 4096\n      - 4096\n", 1)
	tests := []struct {
		name  string
		files []client.UploadFile
	}{
		{"memo-referenced array", []client.UploadFile{{Name: "m.pdparams", Data: bytes.NewReader(memoBomb(256*1024, 200))}}},
		{"gzip bomb", []client.UploadFile{{Name: "m.tar.gz", Data: bytes.NewReader(gzipBomb(t, 256))}}},
		{"DUP pickle", []client.UploadFile{{Name: "m.pdparams", Data: bytes.NewReader(append(append([]byte{0x80, 4, 'N'}, bytes.Repeat([]byte{'2'}, 8<<20)...), '.'))}}},
		{"resize 4096", []client.UploadFile{
			{Name: "inference.json", Data: bytes.NewReader(read("inference.json"))},
			{Name: "inference.pdiparams", Data: bytes.NewReader(read("inference.pdiparams"))},
			{Name: "inference.yml", Data: strings.NewReader(yml)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Upload(context.Background(), "hostile", "", "", tc.files...)
			runtime.ReadMemStats(&after)
			total := after.TotalAlloc - before.TotalAlloc
			t.Logf("allocated %.1f MB: %v", float64(total)/(1<<20), err)
			var p *client.ProblemError
			if !errors.As(err, &p) || p.Status != 422 {
				t.Fatalf("got %v, want a 422 problem", err)
			}
			if len(p.Detail) > 1024 {
				t.Errorf("detail of %d bytes", len(p.Detail))
			}
			// The bodies themselves are up to 8 MB, read by the client,
			// the multipart reader and the temp file on the way.
			if total > 64<<20 {
				t.Errorf("allocated %d bytes, want at most 64 MB", total)
			}
		})
	}
}

// memoBomb is a .pdparams whose refs entries all name one float32 array
// of n values through the memo.
func memoBomb(n, refs int) []byte {
	b := []byte{0x80, 4, '}', '(', 0x8c, 2, 'w', '0', 'c'}
	b = append(b, "numpy.core.multiarray\n_reconstruct\nc"...)
	b = append(b, "numpy\nndarray\n"...)
	b = append(b, 'K', 0, 0x85, 'C', 1, 'b', 0x87, 'R', '(', 'K', 1, 'J')
	b = binary.LittleEndian.AppendUint32(b, uint32(n))
	b = append(b, 0x85, 'c')
	b = append(b, "numpy\ndtype\n"...)
	b = append(b, 0x8c, 2, 'f', '4', 0x89, 0x88, 0x87, 'R', 0x89, 'B')
	b = binary.LittleEndian.AppendUint32(b, uint32(4*n))
	b = append(b, make([]byte, 4*n)...)
	b = append(b, 't', 'b', 'r', 0, 0, 0, 0)
	for i := 1; i < refs; i++ {
		name := fmt.Sprintf("w%d", i)
		b = append(b, 0x8c, byte(len(name)))
		b = append(b, name...)
		b = append(b, 'h', 0)
	}
	return append(b, 'u', '.')
}

// gzipBomb is a .tar.gz of one inference.pdiparams of sizeMB megabytes of
// zeros, as concatenated gzip members of one compressed megabyte each.
func gzipBomb(t *testing.T, sizeMB int) []byte {
	member := func(b []byte) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(b); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var hb bytes.Buffer
	if err := tar.NewWriter(&hb).WriteHeader(&tar.Header{Name: "m/inference.pdiparams", Mode: 0o644, Size: int64(sizeMB) << 20, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	out := member(hb.Bytes())
	zeros := member(make([]byte, 1<<20))
	for range sizeMB {
		out = append(out, zeros...)
	}
	return append(out, member(make([]byte, 1024))...)
}
