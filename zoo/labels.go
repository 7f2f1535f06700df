package zoo

import (
	_ "embed"
	"strings"
)

// imagenetLabels is PaddleClas' ppcls/utils/imagenet1k_label_list.txt:
// "INDEX name, synonyms" per line.
//
//go:embed imagenet1k_label_list.txt
var imagenetLabels string

// ImageNetLabels returns the 1000 ImageNet-1k class names in class order,
// as PaddleClas prints them. Each call returns a fresh slice.
func ImageNetLabels() []string {
	lines := strings.Split(strings.TrimRight(imagenetLabels, "\n"), "\n")
	out := make([]string, len(lines))
	for i, l := range lines {
		if _, name, ok := strings.Cut(l, " "); ok {
			l = name
		}
		out[i] = strings.TrimSpace(l)
	}
	return out
}
