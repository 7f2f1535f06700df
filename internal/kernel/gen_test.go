package kernel

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedAsmUpToDate regenerates the assembly with gen/asm.py into a
// temporary directory and compares it with the committed files, so an
// edit to the generator cannot land without its output.
func TestGeneratedAsmUpToDate(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH: cannot run gen/asm.py")
	}
	dir := t.TempDir()
	if out, err := exec.Command(py, "gen/asm.py", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen/asm.py: %v\n%s", err, out)
	}
	for _, name := range []string{"avx512_amd64.s", "avx512_amd64.go", "avx2_amd64.s", "avx2_amd64.go"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what gen/asm.py writes: run go generate ./internal/kernel", name)
		}
	}
}
