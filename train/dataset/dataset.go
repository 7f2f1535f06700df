// Package dataset discovers labelled image sets for fine-tuning without
// decoding any image: an ImageFolder tree, PaddleClas list files, or a
// multi-label CSV, read from an fs.FS so that a directory and an extracted
// upload are read alike. It also splits a set for validation and digests it
// for lineage.
package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Errors wrapped by the readers; the message says which file, folder or line.
var (
	ErrNoImages   = errors.New("dataset: no images")
	ErrEmptyClass = errors.New("dataset: class folder has no images")
	ErrFormat     = errors.New("dataset: malformed label file")
	ErrMissing    = errors.New("dataset: listed image not found")
)

// Names of the files Open looks for.
const (
	MultiLabelFile = "labels.csv"
	ListFile       = "train_list.txt"
	LabelsFile     = "labels.txt"
)

// imageExt lists the extensions taken as images. Content is not sniffed:
// decoding is the caller's job and reports undecodable files itself.
var imageExt = map[string]bool{
	".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".gif": true,
	".webp": true, ".tif": true, ".tiff": true,
}

// IsImage reports whether name has an image extension (case-insensitive)
// and is not a hidden file such as macOS' "._x.jpg" resource forks.
func IsImage(name string) bool {
	base := path.Base(name)
	return !strings.HasPrefix(base, ".") && imageExt[strings.ToLower(path.Ext(base))]
}

// Item is one image of a set.
type Item struct {
	Path   string // slash-separated, relative to the set's FS
	Label  int    // class index; -1 in a multi-label set
	Labels []int  // sorted class indices of a multi-label item
}

// Set is a labelled image set.
type Set struct {
	FS         fs.FS
	Classes    []string
	Items      []Item
	MultiLabel bool
	// Skipped counts files passed over as not images; SkippedDirs counts
	// folders below a class folder, which ImageFolder does not descend into.
	Skipped, SkippedDirs int
}

// Target returns item i's labels as a K-wide 0/1 vector.
func (s *Set) Target(i int) []float32 {
	t := make([]float32, len(s.Classes))
	it := s.Items[i]
	if !s.MultiLabel {
		t[it.Label] = 1
		return t
	}
	for _, l := range it.Labels {
		t[l] = 1
	}
	return t
}

// Labels returns each item's class index, for a single-label set.
func (s *Set) Labels() []int {
	out := make([]int, len(s.Items))
	for i, it := range s.Items {
		out[i] = it.Label
	}
	return out
}

// Targets returns each item's K-wide 0/1 vector (see Target).
func (s *Set) Targets() [][]float32 {
	out := make([][]float32, len(s.Items))
	for i := range s.Items {
		out[i] = s.Target(i)
	}
	return out
}

// Open reads fsys as a multi-label set when it holds labels.csv, as a
// PaddleClas list when it holds train_list.txt (with labels.txt as class
// names when present), and as an ImageFolder otherwise. An archive often
// wraps everything in one folder ("flowers/cat/a.jpg"): when the root holds
// nothing but that one folder (hidden entries aside), Open reads inside it.
func Open(fsys fs.FS) (*Set, error) {
	for {
		inner, ok := wrapper(fsys)
		if !ok {
			break
		}
		sub, err := fs.Sub(fsys, inner)
		if err != nil {
			return nil, fmt.Errorf("dataset: %w", err)
		}
		fsys = sub
	}
	if exists(fsys, MultiLabelFile) {
		return ReadMultiLabel(fsys, MultiLabelFile)
	}
	if exists(fsys, ListFile) {
		labels := ""
		if exists(fsys, LabelsFile) {
			labels = LabelsFile
		}
		return ReadList(fsys, ListFile, labels)
	}
	return ImageFolder(fsys)
}

// ignoredDir reports folders that never hold classes: hidden ones and the
// resource-fork folder macOS adds to zip files.
func ignoredDir(name string) bool {
	return strings.HasPrefix(name, ".") || name == "__MACOSX"
}

// wrapper returns the name of the single folder that is all fsys holds.
func wrapper(fsys fs.FS) (string, bool) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return "", false
	}
	dir := ""
	for _, e := range entries {
		switch {
		case e.IsDir() && ignoredDir(e.Name()):
		case e.IsDir() && dir == "":
			dir = e.Name()
		case !e.IsDir() && strings.HasPrefix(e.Name(), "."):
		default:
			return "", false
		}
	}
	if dir == "" {
		return "", false
	}
	// A class folder of images is not a wrapper.
	inner, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return "", false
	}
	for _, e := range inner {
		if !e.IsDir() && IsImage(e.Name()) {
			return "", false
		}
	}
	return dir, true
}

func exists(fsys fs.FS, name string) bool {
	st, err := fs.Stat(fsys, name)
	return err == nil && st.Mode().IsRegular()
}

// ImageFolder reads CLASS/IMAGE files: classes are the top-level folder
// names, sorted. Files at the top level and non-image files are skipped and
// counted; folders inside a class folder are not descended into and are
// counted in SkippedDirs. A class folder without images is an error naming it.
func ImageFolder(fsys fs.FS) (*Set, error) {
	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("dataset: reading image folder root: %w", err)
	}
	s := &Set{FS: fsys}
	for _, e := range top { // fs.ReadDir sorts by name
		if !e.IsDir() {
			s.Skipped++
			continue
		}
		if ignoredDir(e.Name()) {
			s.SkippedDirs++
			continue
		}
		files, err := fs.ReadDir(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("dataset: reading class folder %q: %w", e.Name(), err)
		}
		label, n := len(s.Classes), 0
		for _, f := range files {
			switch {
			case f.IsDir():
				s.SkippedDirs++
			case f.Type().IsRegular() && IsImage(f.Name()):
				s.Items = append(s.Items, Item{Path: e.Name() + "/" + f.Name(), Label: label})
				n++
			default:
				s.Skipped++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: %q", ErrEmptyClass, e.Name())
		}
		s.Classes = append(s.Classes, e.Name())
	}
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("%w: no class folders with images", ErrNoImages)
	}
	return s, nil
}

// lines calls fn with each non-blank line of name that is not a '#'
// comment, trimmed, and its 1-based line number.
func lines(fsys fs.FS, name string, fn func(line string, no int) error) error {
	f, err := fsys.Open(name)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for no := 1; sc.Scan(); no++ {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := fn(line, no); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("dataset: reading %s: %w", name, err)
	}
	return nil
}

// ReadLabels reads a class-name file: either "INDEX NAME" lines (PaddleClas'
// label_list) or one name per line. Indices must cover 0..K-1 once each.
func ReadLabels(fsys fs.FS, name string) ([]string, error) {
	var names []string
	byIndex := map[int]string{}
	indexed := -1 // unknown until the first line
	err := lines(fsys, name, func(line string, no int) error {
		idx, rest, found := strings.Cut(line, " ")
		i, err := strconv.Atoi(idx)
		isIndexed := found && err == nil
		if indexed == -1 {
			indexed = map[bool]int{false: 0, true: 1}[isIndexed]
		}
		if indexed == 0 {
			names = append(names, line)
			return nil
		}
		if !isIndexed || i < 0 {
			return fmt.Errorf("%w: %s line %d: want \"INDEX NAME\", got %q", ErrFormat, name, no, line)
		}
		if _, dup := byIndex[i]; dup {
			return fmt.Errorf("%w: %s line %d: index %d given twice", ErrFormat, name, no, i)
		}
		byIndex[i] = strings.TrimSpace(rest)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if indexed == 1 {
		names = make([]string, len(byIndex))
		for i, n := range byIndex {
			if i >= len(names) {
				return nil, fmt.Errorf("%w: %s: indices are not 0..%d", ErrFormat, name, len(byIndex)-1)
			}
			names[i] = n
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: %s names no classes", ErrFormat, name)
	}
	return names, nil
}

// ReadList reads a PaddleClas list file of "relative/path.jpg LABEL" lines,
// paths relative to fsys. labels names the classes (see ReadLabels); when
// empty, classes are named by their index and K is the largest index + 1.
func ReadList(fsys fs.FS, list, labels string) (*Set, error) {
	var classes []string
	if labels != "" {
		var err error
		if classes, err = ReadLabels(fsys, labels); err != nil {
			return nil, err
		}
	}
	s := &Set{FS: fsys}
	maxLabel := -1
	err := lines(fsys, list, func(line string, no int) error {
		// The label is the last field, so that paths may hold spaces.
		i := strings.LastIndexAny(line, " \t")
		if i < 0 {
			return fmt.Errorf("%w: %s line %d: want \"PATH LABEL\", got %q", ErrFormat, list, no, line)
		}
		p, l := strings.TrimSpace(line[:i]), line[i+1:]
		label, err := strconv.Atoi(l)
		if err != nil || label < 0 || (classes != nil && label >= len(classes)) {
			return fmt.Errorf("%w: %s line %d: label %q is not a class index 0..%d", ErrFormat, list, no, l, len(classes)-1)
		}
		p = path.Clean(strings.TrimPrefix(p, "./"))
		if !fs.ValidPath(p) {
			return fmt.Errorf("%w: %s line %d: path %q leaves the data set", ErrFormat, list, no, p)
		}
		if !exists(fsys, p) {
			return fmt.Errorf("%w: %s line %d: %s", ErrMissing, list, no, p)
		}
		if !IsImage(p) {
			s.Skipped++
			return nil
		}
		maxLabel = max(maxLabel, label)
		s.Items = append(s.Items, Item{Path: p, Label: label})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(s.Items) == 0 {
		return nil, fmt.Errorf("%w: %s lists none", ErrNoImages, list)
	}
	if classes == nil {
		for i := 0; i <= maxLabel; i++ {
			classes = append(classes, strconv.Itoa(i))
		}
	}
	s.Classes = classes
	return s, nil
}

// ReadMultiLabel reads "path,label1;label2" lines (a first line
// "path,labels" is taken as a header). Classes are the sorted set of names
// seen; an image may have no labels.
func ReadMultiLabel(fsys fs.FS, name string) (*Set, error) {
	type row struct {
		path   string
		labels []string
	}
	var rows []row
	seen := map[string]bool{}
	s := &Set{FS: fsys, MultiLabel: true}
	first := true
	err := lines(fsys, name, func(line string, no int) error {
		p, ls, ok := strings.Cut(line, ",")
		if !ok {
			return fmt.Errorf("%w: %s line %d: want \"PATH,LABEL;LABEL\", got %q", ErrFormat, name, no, line)
		}
		p = strings.TrimSpace(p)
		if first && strings.EqualFold(p, "path") {
			first = false
			return nil
		}
		first = false
		p = path.Clean(strings.TrimPrefix(p, "./"))
		if !fs.ValidPath(p) {
			return fmt.Errorf("%w: %s line %d: path %q leaves the data set", ErrFormat, name, no, p)
		}
		if !exists(fsys, p) {
			return fmt.Errorf("%w: %s line %d: %s", ErrMissing, name, no, p)
		}
		if !IsImage(p) {
			s.Skipped++
			return nil
		}
		r := row{path: p}
		for _, l := range strings.Split(ls, ";") {
			if l = strings.TrimSpace(l); l != "" && !slices.Contains(r.labels, l) {
				r.labels = append(r.labels, l)
				seen[l] = true
			}
		}
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: %s lists none", ErrNoImages, name)
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%w: %s names no labels", ErrFormat, name)
	}
	for l := range seen {
		s.Classes = append(s.Classes, l)
	}
	slices.Sort(s.Classes)
	for _, r := range rows {
		it := Item{Path: r.path, Label: -1}
		for _, l := range r.labels {
			i, _ := slices.BinarySearch(s.Classes, l)
			it.Labels = append(it.Labels, i)
		}
		slices.Sort(it.Labels)
		s.Items = append(s.Items, it)
	}
	return s, nil
}
