package dataset

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func TestImageFolder(t *testing.T) {
	fsys := fstest.MapFS{
		"cat/a.jpg":          file("a"),
		"cat/b.PNG":          file("b"),
		"cat/notes.txt":      file("n"),
		"cat/._a.jpg":        file("mac"),
		"cat/deeper/c.jpg":   file("c"),
		"dog/d.webp":         file("d"),
		"README.md":          file("r"),
		".git/HEAD":          file("h"),
		"ant/x.tiff":         file("x"),
		"ant/y.bmp":          file("y"),
		"ant/z.jpeg.partial": file("z"),
	}
	s, err := ImageFolder(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ant", "cat", "dog"}; !slices.Equal(s.Classes, want) {
		t.Errorf("classes %v, want %v", s.Classes, want)
	}
	want := []Item{{"ant/x.tiff", 0, nil}, {"ant/y.bmp", 0, nil}, {"cat/a.jpg", 1, nil}, {"cat/b.PNG", 1, nil}, {"dog/d.webp", 2, nil}}
	if !slices.EqualFunc(s.Items, want, func(a, b Item) bool { return a.Path == b.Path && a.Label == b.Label }) {
		t.Errorf("items %v, want %v", s.Items, want)
	}
	// notes.txt, ._a.jpg, z.jpeg.partial, README.md
	if s.Skipped != 4 || s.SkippedDirs != 2 {
		t.Errorf("skipped %d files and %d folders, want 4 and 2", s.Skipped, s.SkippedDirs)
	}
	if got := s.Target(2); !slices.Equal(got, []float32{0, 1, 0}) {
		t.Errorf("target %v", got)
	}
	if got := s.Labels(); !slices.Equal(got, []int{0, 0, 1, 1, 2}) {
		t.Errorf("labels %v", got)
	}
	if got := s.Targets(); len(got) != 5 || !slices.Equal(got[4], []float32{0, 0, 1}) {
		t.Errorf("targets %v", got)
	}
}

func TestReaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		fsys fstest.MapFS
		open func(fstest.MapFS) (*Set, error)
		want error
	}{
		{"empty class", fstest.MapFS{"a/x.jpg": file(""), "b/readme.txt": file("")}, func(f fstest.MapFS) (*Set, error) { return ImageFolder(f) }, ErrEmptyClass},
		{"no classes", fstest.MapFS{"x.jpg": file("")}, func(f fstest.MapFS) (*Set, error) { return ImageFolder(f) }, ErrNoImages},
		{"label out of range", fstest.MapFS{"x.jpg": file(""), "l.txt": file("a\nb\n"), "t.txt": file("x.jpg 0\nx.jpg 2\n")},
			func(f fstest.MapFS) (*Set, error) { return ReadList(f, "t.txt", "l.txt") }, ErrFormat},
		{"label not a number", fstest.MapFS{"x.jpg": file(""), "t.txt": file("x.jpg cat\n")},
			func(f fstest.MapFS) (*Set, error) { return ReadList(f, "t.txt", "") }, ErrFormat},
		{"listed file missing", fstest.MapFS{"t.txt": file("x.jpg 0\n")},
			func(f fstest.MapFS) (*Set, error) { return ReadList(f, "t.txt", "") }, ErrMissing},
		{"list escapes", fstest.MapFS{"t.txt": file("../x.jpg 0\n")},
			func(f fstest.MapFS) (*Set, error) { return ReadList(f, "t.txt", "") }, ErrFormat},
		{"labels with gap", fstest.MapFS{"x.jpg": file(""), "l.txt": file("0 a\n2 c\n"), "t.txt": file("x.jpg 0\n")},
			func(f fstest.MapFS) (*Set, error) { return ReadList(f, "t.txt", "l.txt") }, ErrFormat},
		{"csv without comma", fstest.MapFS{"x.jpg": file(""), "labels.csv": file("x.jpg\n")},
			func(f fstest.MapFS) (*Set, error) { return Open(f) }, ErrFormat},
		{"csv no labels", fstest.MapFS{"x.jpg": file(""), "labels.csv": file("x.jpg,\n")},
			func(f fstest.MapFS) (*Set, error) { return Open(f) }, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.open(tc.fsys)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReadListLineNumber(t *testing.T) {
	fsys := fstest.MapFS{"x.jpg": file(""), "labels.txt": file("0 a\n1 b\n"), "train_list.txt": file("# header\n\nx.jpg 1\nx.jpg 5\n")}
	_, err := Open(fsys)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("error %v, want ErrFormat naming line 4", err)
	}
}

func TestReadList(t *testing.T) {
	for _, tc := range []struct {
		name, labels string
		want         []string
	}{
		{"indexed", "0 tabby cat\n1 dog\n", []string{"tabby cat", "dog"}},
		{"plain", "\ufefftabby\n# comment\ndog\n", []string{"tabby", "dog"}},
		{"none", "", []string{"0", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"img/a b.jpg":    file("a"),
				"img/c.jpg":      file("c"),
				"img/d.txt":      file("d"),
				"train_list.txt": file("img/a b.jpg 1\n\n./img/c.jpg\t0\nimg/d.txt 0\n"),
			}
			labels := ""
			if tc.labels != "" {
				fsys[LabelsFile] = file(tc.labels)
				labels = LabelsFile
			}
			s, err := ReadList(fsys, ListFile, labels)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Classes, tc.want) {
				t.Errorf("classes %q, want %q", s.Classes, tc.want)
			}
			if len(s.Items) != 2 || s.Items[0].Path != "img/a b.jpg" || s.Items[0].Label != 1 || s.Items[1].Path != "img/c.jpg" || s.Skipped != 1 {
				t.Errorf("items %+v skipped %d", s.Items, s.Skipped)
			}
		})
	}
}

func TestMultiLabel(t *testing.T) {
	fsys := fstest.MapFS{
		"a.jpg":      file("a"),
		"b.jpg":      file("b"),
		"c.jpg":      file("c"),
		"labels.csv": file("path,labels\na.jpg,sky;sea\nb.jpg, sea ;sea\nc.jpg,\n"),
	}
	s, err := Open(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !s.MultiLabel || !slices.Equal(s.Classes, []string{"sea", "sky"}) {
		t.Fatalf("multi-label %v classes %v", s.MultiLabel, s.Classes)
	}
	for i, want := range [][]float32{{1, 1}, {1, 0}, {0, 0}} {
		if got := s.Target(i); !slices.Equal(got, want) {
			t.Errorf("%s target %v, want %v", s.Items[i].Path, got, want)
		}
	}
}

func TestOpenUnwraps(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fsys    fstest.MapFS
		classes []string
	}{
		{"wrapped", fstest.MapFS{"flowers/rose/a.jpg": file("a"), "flowers/tulip/b.jpg": file("b"), "__MACOSX/flowers/._x": file(""), ".DS_Store": file("")}, []string{"rose", "tulip"}},
		{"twice", fstest.MapFS{"x/y/rose/a.jpg": file("a")}, []string{"rose"}},
		{"single class", fstest.MapFS{"rose/a.jpg": file("a")}, []string{"rose"}},
		{"list inside", fstest.MapFS{"set/img/a.jpg": file("a"), "set/train_list.txt": file("img/a.jpg 0\n")}, []string{"0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.fsys)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Classes, tc.classes) {
				t.Errorf("classes %v, want %v", s.Classes, tc.classes)
			}
			if _, err := fs.Stat(s.FS, s.Items[0].Path); err != nil {
				t.Errorf("item path does not resolve in the set's FS: %v", err)
			}
		})
	}
}
