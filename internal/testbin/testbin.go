// Package testbin builds the lcnet binary once per test package, for the
// tests that drive it as a user would (e2e, deploy, the ONNX bench).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main is a TestMain body: it sets *bin to an lcnet binary — $LCNET when
// set, otherwise ./cmd/lcnet of this module built into a temp directory —
// runs the tests, removes what it built and exits with the tests' code.
func Main(m *testing.M, bin *string) {
	if *bin = os.Getenv("LCNET"); *bin != "" {
		os.Exit(m.Run())
	}
	os.Exit(run(m, bin))
}

func run(m *testing.M, bin *string) int {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "lcnet-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testbin:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	*bin = filepath.Join(dir, "lcnet")
	build := exec.Command("go", "build", "-o", *bin, "./cmd/lcnet")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "testbin: building cmd/lcnet:", err)
		return 1
	}
	return m.Run()
}

// moduleRoot walks up from the working directory (a package directory
// under go test) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
