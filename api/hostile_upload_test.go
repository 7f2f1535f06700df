package api

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/internal/hostile"
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
		{"memo-referenced array", []client.UploadFile{{Name: "m.pdparams", Data: bytes.NewReader(hostile.MemoPdparams(256*1024, 200))}}},
		{"gzip bomb", []client.UploadFile{{Name: "m.tar.gz", Data: bytes.NewReader(hostile.TarGz(256*hostile.MB, "inference.pdiparams"))}}},
		{"DUP pickle", []client.UploadFile{{Name: "m.pdparams", Data: bytes.NewReader(hostile.RepeatOp(hostile.OpDup, 8*hostile.MB))}}},
		// The size of the report: 50 MB of tiny ops, refused from the
		// file's size before a byte is parsed.
		{"50 MB inference.json", []client.UploadFile{
			{Name: "inference.json", Data: bytes.NewReader(hostile.PIR(50 * hostile.MB))},
			{Name: "inference.pdiparams", Data: bytes.NewReader(read("inference.pdiparams"))},
			{Name: "inference.yml", Data: bytes.NewReader(read("inference.yml"))},
		}},
		// 5M dimensions of one tensor: the report's error body printed
		// them all (10.5 MB).
		{"5M dims", []client.UploadFile{
			{Name: "inference.json", Data: bytes.NewReader(read("inference.json"))},
			{Name: "inference.pdiparams", Data: bytes.NewReader(hostile.PdiparamsDims(5_000_000))},
			{Name: "inference.yml", Data: bytes.NewReader(read("inference.yml"))},
		}},
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
			// The bodies themselves are up to 50 MB, streamed by the
			// client, the multipart reader and the temp file in buffers.
			if total > 64<<20 {
				t.Errorf("allocated %d bytes, want at most 64 MB", total)
			}
		})
	}
}
