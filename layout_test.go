// Package lcnet_test holds the checks on how the module's packages depend
// on each other; the README's "How the code is laid out" is their prose.
package lcnet_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/lcnet/lcnet"

// layer places every package of the module: a package may import only
// packages of a lower layer. A new package fails TestLayering until it is
// given its place here, which is the point: where it sits is a decision.
var layer = map[string]int{
	// Leaves: descriptions, wire types, formats and kernels that know
	// nothing of the rest of lcnet.
	"arch":                    0,
	"api/client":              0,
	"convert/internal/pickle": 0,
	"internal/atomicfile":     0,
	"internal/kernel":         0,
	"internal/par":            0,
	"internal/npy":            0,
	"internal/pickleenc":      0,
	"openapi":                 0,
	"storage":                 0,
	"train/dataset":           0,
	"train/features":          0,
	"web":                     0,
	// Test support, imported by tests only (see testOnly).
	"internal/fixtures":  0,
	"internal/hostile":   0,
	"internal/testbin":   0,
	"internal/testdisk":  0,
	"internal/testimage": 0,
	"internal/vecs":      0,
	// What the leaves make: the zoo over its storage, the network over its
	// kernels, images into tensors, the ONNX and PaddleClas writers.
	"imaging/jpeg":                   1,
	"imaging":                        2,
	"nn":                             1,
	"onnx":                           1,
	"export/paddle":                  1,
	"zoo":                            1,
	"openapi/oas3":                   1,
	"openapi/gen":                    2,
	"train/head":                     1,
	"storage/storagetest":            1,
	"internal/testimage/cmd/mkimage": 1,
	"internal/ortrun":                1,
	// Source files into the zoo.
	"convert": 2,
	// Services over the zoo: official releases, new heads.
	"pull":     3,
	"finetune": 3,
	// The server, then the command line.
	"api":       4,
	"cmd/lcnet": 5,
	// End-to-end tests and deployment checks drive the binary from outside.
	".":            6,
	"deploy":       6,
	"e2e":          6,
	"e2e/bench":    6,
	"e2e/contract": 6,
	"e2e/scaleout": 6,
}

// testOnly are packages that exist for tests; the product must not link them.
var testOnly = map[string]bool{
	"internal/fixtures":              true,
	"internal/hostile":               true,
	"internal/testbin":               true,
	"internal/testdisk":              true,
	"internal/testimage":             true,
	"internal/testimage/cmd/mkimage": true,
	"internal/ortrun":                true,
	"internal/vecs":                  true,
	"storage/storagetest":            true,
}

// goList runs go list over the module with a template and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list %v: %v\n%s", args, err, stderr)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

// rel is a module package's path inside the module ("." for the root), or
// "" for a package outside it.
func rel(path string) string {
	switch {
	case path == module:
		return "."
	case strings.HasPrefix(path, module+"/"):
		return strings.TrimPrefix(path, module+"/")
	}
	return ""
}

// TestLayering checks the imports of the module's own packages against
// the layer table. Tests may reach up (a kernel test converts a fixture
// checkpoint to have weights to run), but only test code may link the
// test-support packages.
func TestLayering(t *testing.T) {
	lines := goList(t, "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	seen := map[string]bool{}
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg := rel(fields[0])
		seen[pkg] = true
		from, ok := layer[pkg]
		if !ok {
			t.Errorf("package %s has no layer in layout_test.go: give it one (and a line in the README's layout table)", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			to := rel(imp)
			l, ok := layer[to]
			if to == "" || !ok {
				continue // outside the module, or reported as a package of its own
			}
			if l >= from {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package may import only lower layers", pkg, from, to, l)
			}
			if testOnly[to] && !testOnly[pkg] {
				t.Errorf("%s links %s, which exists for tests only", pkg, to)
			}
		}
	}
	var stale []string
	for pkg := range layer {
		if !seen[pkg] {
			stale = append(stale, pkg)
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Errorf("layout_test.go places packages that do not exist: %v", stale)
	}
}

// TestLeafDependencies checks the promises the README makes about what
// light packages pull in: the client and the network description are
// standard library only, the zoo does not link the kernels, and image
// decoding does not link the object store.
func TestLeafDependencies(t *testing.T) {
	tests := []struct {
		pkg       string
		stdOnly   bool     // besides the module's own packages
		forbidden []string // import path prefixes it must not depend on
	}{
		{pkg: "api/client", stdOnly: true},
		{pkg: "arch", stdOnly: true},
		{pkg: "zoo", forbidden: []string{module + "/nn", module + "/internal/kernel"}},
		{pkg: "imaging", forbidden: []string{module + "/storage", "github.com/minio/"}},
	}
	for _, tc := range tests {
		t.Run(tc.pkg, func(t *testing.T) {
			deps := goList(t, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./"+tc.pkg)
			for _, d := range deps {
				if d == "" {
					continue
				}
				if tc.stdOnly && rel(d) == "" {
					t.Errorf("%s depends on %s; it must need only the standard library", tc.pkg, d)
				}
				for _, f := range tc.forbidden {
					if strings.HasPrefix(d, f) {
						t.Errorf("%s depends on %s", tc.pkg, d)
					}
				}
			}
		})
	}
}

// TestFileLength keeps hand-written Go files under 700 lines: past that a
// file holds more than one job, and should be split by responsibility.
func TestFileLength(t *testing.T) {
	const limit = 700
	files := goList(t, "-f", `{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}
{{end}}{{range .TestGoFiles}}{{$d}}/{{.}}
{{end}}{{range .XTestGoFiles}}{{$d}}/{{.}}
{{end}}`, "./...")
	for _, f := range files {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("Code generated")) && bytes.Contains(b, []byte("DO NOT EDIT")) {
			continue
		}
		if n := bytes.Count(b, []byte("\n")); n > limit {
			t.Errorf("%s has %d lines; split it by responsibility (at most %d)", f, n, limit)
		}
	}
}
