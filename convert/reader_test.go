package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/lcnet/lcnet/internal/fixtures"
)

// TestMatch fixes which row reads each directory layout: a program wins
// over a .pdparams, PIR over ProgramDesc, and a claimed directory missing a
// needed file is an error rather than a fall-through to the next row.
func TestMatch(t *testing.T) {
	const (
		json, pdmodel, params, yml, info = fileJSON, filePdmodel, filePdiparams, fileYML, fileInfo
	)
	tests := []struct {
		name  string
		files []string
		key   string // the row's key and the file it matched
		err   string
	}{
		{"pir dir", []string{json, params, yml}, json, ""},
		{"pdmodel dir", []string{params, info, pdmodel}, pdmodel, ""},
		{"pdparams file", []string{"PPLCNet_x0_25_pretrained.pdparams"}, "PPLCNet_x0_25_pretrained.pdparams", ""},
		{"pdparams with yml", []string{yml, "m.pdparams"}, "m.pdparams", ""},
		{"json and pdmodel", []string{json, params, pdmodel}, json, ""},
		{"program and pdparams", []string{json, params, "m.pdparams"}, json, ""},
		{"pdmodel and pdparams", []string{params, pdmodel, "m.pdparams"}, pdmodel, ""},
		{"json without weights", []string{json, "m.pdparams"}, "", "has inference.json but no inference.pdiparams"},
		{"pdmodel without weights", []string{pdmodel, yml}, "", "has inference.pdmodel but no inference.pdiparams"},
		{"two pdparams", []string{"a.pdparams", "b.pdparams"}, "", "holds 2 .pdparams files (a.pdparams, b.pdparams)"},
		{"weights alone", []string{params, yml}, "", "holds no weights"},
		{"nothing", nil, "", "holds no weights"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, key, err := match(tc.files, "dir")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if key != tc.key {
				t.Errorf("matched %s, want %s", key, tc.key)
			}
			if ok, _ := filepath.Match(r.key, tc.key); !ok {
				t.Errorf("row %s matched %s", r.key, key)
			}
		})
	}
}

func TestNoWeightsNamesEveryRow(t *testing.T) {
	for _, r := range readers() {
		if !strings.Contains(noWeights, r.key) {
			t.Errorf("noWeights does not name %s", r.key)
		}
		for _, n := range r.needs {
			if !strings.Contains(noWeights, n) {
				t.Errorf("noWeights does not name %s", n)
			}
		}
	}
}

func TestWanted(t *testing.T) {
	for name, want := range map[string]bool{
		fileJSON: true, filePdmodel: true, filePdiparams: true, fileYML: true, fileInfo: true, "x.pdparams": true,
		"README.md": false, "config.json": false, "._inference.json": false, "golden.input.npy": false, "x.pdparams.bak": false,
	} {
		if got := wanted(name); got != want {
			t.Errorf("wanted(%q) = %v", name, got)
		}
	}
}

// TestReadSameFromDirTarTgz reads each fixture model from its directory, a
// tar and a tar.gz of it: the tensors must be bit for bit the same.
func TestReadSameFromDirTarTgz(t *testing.T) {
	for _, tc := range []struct{ fixture, format string }{
		{"paddle3/PP-LCNet_x0_25_textline_ori", FormatPIR},
		{"legacy/PPLCNet_x0_75_infer", FormatPdmodel},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			dir := fixtures.Path(t, strings.Split(tc.fixture, "/")...)
			want, err := Read(context.Background(), dir, ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want.Format != tc.format {
				t.Fatalf("directory read as %s, want %s", want.Format, tc.format)
			}
			wantArch, _ := json.Marshal(want.Arch)
			for _, name := range []string{"m.tar", "m.tar.gz"} {
				path := filepath.Join(t.TempDir(), name)
				writeTar(t, path, name != "m.tar", dirEntries(t, dir, filepath.Base(dir)))
				got, err := Read(context.Background(), path, ReadOptions{})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got.Format != tarPrefix+tc.format {
					t.Errorf("%s: format %s", name, got.Format)
				}
				if a, _ := json.Marshal(got.Arch); !bytes.Equal(a, wantArch) {
					t.Errorf("%s: arch %s, want %s", name, a, wantArch)
				}
				if len(got.Tensors) != len(want.Tensors) {
					t.Fatalf("%s: %d tensors, want %d", name, len(got.Tensors), len(want.Tensors))
				}
				for n, w := range want.Tensors {
					g, ok := got.Tensors[n]
					if !ok || len(g.Data) != len(w.Data) {
						t.Fatalf("%s: tensor %s missing or resized", name, n)
					}
					for i := range w.Data {
						if math.Float32bits(g.Data[i]) != math.Float32bits(w.Data[i]) {
							t.Fatalf("%s: %s[%d] = %g, want %g", name, n, i, g.Data[i], w.Data[i])
						}
					}
				}
			}
		})
	}
}

// TestMemFS holds the archive's in-memory FS to the io/fs contract.
func TestMemFS(t *testing.T) {
	m := memFS{fileJSON: []byte("{}"), filePdiparams: []byte("weights")}
	if err := fstest.TestFS(m, fileJSON, filePdiparams); err != nil {
		t.Fatal(err)
	}
}
