package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// ErrSplit is wrapped by errors of Split and Align.
var ErrSplit = errors.New("dataset: cannot split")

// Split moves a fraction of s to a validation set, stratified: each class
// (each distinct label set when multi-label) gives round(frac*n) of its n
// items, keeping at least one in training. The choice depends only on s's
// item order, frac and seed.
func Split(s *Set, frac float64, seed uint64) (train, val *Set, err error) {
	if !(frac > 0 && frac < 1) {
		return nil, nil, fmt.Errorf("%w: validation fraction %g, want in (0, 1)", ErrSplit, frac)
	}
	groups := map[string][]int{}
	var keys []string
	for i, it := range s.Items {
		k := strconv.Itoa(it.Label)
		if s.MultiLabel {
			parts := make([]string, len(it.Labels))
			for j, l := range it.Labels {
				parts[j] = strconv.Itoa(l)
			}
			k = "m" + strings.Join(parts, ",")
		}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], i)
	}
	slices.Sort(keys)
	rng := rand.New(rand.NewPCG(seed, 0x73706c6974))
	toVal := make([]bool, len(s.Items))
	for _, k := range keys {
		idx := groups[k]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		n := min(int(math.Round(frac*float64(len(idx)))), len(idx)-1)
		for _, i := range idx[:n] {
			toVal[i] = true
		}
	}
	train, val = s.empty(), s.empty()
	for i, it := range s.Items {
		if toVal[i] {
			val.Items = append(val.Items, it)
		} else {
			train.Items = append(train.Items, it)
		}
	}
	if len(val.Items) == 0 {
		return nil, nil, fmt.Errorf("%w: %g of %d images leaves no validation image", ErrSplit, frac, len(s.Items))
	}
	return train, val, nil
}

func (s *Set) empty() *Set {
	return &Set{FS: s.FS, Classes: s.Classes, MultiLabel: s.MultiLabel}
}

// Align relabels val, a separately given validation set, with train's class
// indices by class name. A validation class unknown to train is an error.
func Align(train, val *Set) (*Set, error) {
	if train.MultiLabel != val.MultiLabel {
		return nil, fmt.Errorf("%w: training and validation sets differ in multi-label", ErrSplit)
	}
	index := map[string]int{}
	for i, c := range train.Classes {
		index[c] = i
	}
	remap := make([]int, len(val.Classes))
	for i, c := range val.Classes {
		j, ok := index[c]
		if !ok {
			return nil, fmt.Errorf("%w: validation class %q is not a training class", ErrSplit, c)
		}
		remap[i] = j
	}
	out := val.empty()
	out.Classes = train.Classes
	out.Skipped, out.SkippedDirs = val.Skipped, val.SkippedDirs
	for _, it := range val.Items {
		n := Item{Path: it.Path, Label: -1}
		if val.MultiLabel {
			for _, l := range it.Labels {
				n.Labels = append(n.Labels, remap[l])
			}
			slices.Sort(n.Labels)
		} else {
			n.Label = remap[it.Label]
		}
		out.Items = append(out.Items, n)
	}
	return out, nil
}

// Digest returns the hex sha256 of the set for lineage: over the classes in
// order, then the items sorted by path, each as its path, its label names
// and the sha256 of its content. Every field is length-prefixed, so no two
// different sets share a byte stream.
func Digest(s *Set) (string, error) {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(strconv.Itoa(len(s.Classes))))
	for _, c := range s.Classes {
		field([]byte(c))
	}
	items := slices.Clone(s.Items)
	slices.SortFunc(items, func(a, b Item) int { return strings.Compare(a.Path, b.Path) })
	for _, it := range items {
		field([]byte(it.Path))
		labels := it.Labels
		if !s.MultiLabel {
			labels = []int{it.Label}
		}
		field([]byte(strconv.Itoa(len(labels))))
		for _, l := range labels {
			field([]byte(s.Classes[l]))
		}
		f, err := s.FS.Open(it.Path)
		if err != nil {
			return "", fmt.Errorf("dataset: digest: %w", err)
		}
		fh := sha256.New()
		_, err = io.Copy(fh, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("dataset: digest of %s: %w", it.Path, err)
		}
		field(fh.Sum(nil))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
