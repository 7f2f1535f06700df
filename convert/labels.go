package convert

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ReadLabels reads a label file: one class per line, either "name" or
// PaddleClas' "N name" (as in imagenet1k_label_list.txt), where N must
// then be the line's class index. Trailing blank lines are ignored.
func ReadLabels(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var labels []string
	blank := 0
	numbered := -1 // unknown until the first line
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if s == "" {
			blank++
			continue
		}
		if blank > 0 {
			return nil, fmt.Errorf("labels: line %d: blank line inside the list", line-1)
		}
		name := s
		id, rest, ok := strings.Cut(s, " ")
		n, err := strconv.Atoi(id)
		isNum := ok && err == nil
		if numbered == -1 {
			numbered = 0
			if isNum {
				numbered = 1
			}
		}
		if numbered == 1 {
			if !isNum {
				return nil, fmt.Errorf("labels: line %d: %q has no class number, unlike the first line", line, s)
			}
			if n != len(labels) {
				return nil, fmt.Errorf("labels: line %d: class number %d, want %d", line, n, len(labels))
			}
			name = strings.TrimSpace(rest)
		}
		labels = append(labels, name)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("labels: no labels")
	}
	return labels, nil
}
