package main

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/lcnet/lcnet/internal/hostile"
)

// TestConvertHostile runs 'lcnet convert' on issue #18's upload attacks at
// the sizes of the report: each is refused with one short line, and the
// whole command, flag parsing and zoo included, allocates the file's size
// and a few megabytes where the reader it attacks once took gigabytes.
func TestConvertHostile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		file string
		data []byte
	}{
		// A 1 MB array named 3000 times through the pickle memo: 3 GB
		// when each name is converted anew.
		{"memo bomb", "memo.pdparams", hostile.MemoPdparams(256*1024, 3000)},
		// 1 MB of gzip expanding to a 1 GiB inference.pdiparams.
		{"gzip bomb", "bomb.tar.gz", hostile.TarGz(1<<30, "inference.pdiparams")},
		// 50 MB of DUP and of MARK: one stack entry a byte.
		{"DUP pickle", "dup.pdparams", hostile.RepeatOp(hostile.OpDup, 50*hostile.MB)},
		{"MARK pickle", "mark.pdparams", hostile.RepeatOp(hostile.OpMark, 50*hostile.MB)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			store := t.TempDir()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, errOut, code := lcnet(t, nil, "convert", path, "--name", "m", "--store", store)
			runtime.ReadMemStats(&after)
			total := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d-byte %s: allocated %.1f MB; stderr (%d bytes): %s", len(tc.data), tc.file, float64(total)/hostile.MB, len(errOut), errOut)
			wantFailure(t, code, errOut, exitFail, "lcnet convert: ", tc.file)
			if len(errOut) > 1024 {
				t.Errorf("an error of %d bytes, want a short one", len(errOut))
			}
			// A .pdparams is read whole (the largest PP-LCNet's is 38 MB),
			// so the bound is the file plus what reading it may add.
			limit := uint64(len(tc.data)) + 16*hostile.MB
			if total > limit {
				t.Errorf("allocated %.1f MB, want at most %.1f MB", float64(total)/hostile.MB, float64(limit)/hostile.MB)
			}
			if refs := zooRefs(t, store); len(refs) != 0 {
				t.Fatalf("a refused convert left %v in the zoo", refs)
			}
		})
	}
}
