package convert

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxLabels bounds a label file's class count, and so what an index in it
// can make ReadLabels allocate.
const maxLabels = 1 << 20

// ReadLabels reads a label file in one of two forms, decided by its first
// line. PaddleClas' class_id_map_file form has "N name" lines (as in
// imagenet1k_label_list.txt or PULC's "0 0_degree"), in any order, whose
// numbers must cover 0..K-1 exactly once; blank lines there shift nothing
// and are skipped. The plain form has one name per line in class order,
// where a blank line would shift every class after it, so one before the
// last name is an error naming the line. Trailing blank lines are ignored.
func ReadLabels(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var (
		plain    []string
		byIndex  = map[int]string{}
		lineOf   = map[int]int{}
		numbered = -1 // unknown until the first line
		line     = 0
		blankAt  = 0 // first blank line since the last name
	)
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if line == 1 {
			s = strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))
		}
		if s == "" {
			if blankAt == 0 {
				blankAt = line
			}
			continue
		}
		id, rest, ok := strings.Cut(strings.Replace(s, "\t", " ", 1), " ")
		n, err := strconv.Atoi(id)
		isNum := ok && err == nil && strings.TrimSpace(rest) != ""
		if numbered == -1 {
			numbered = 0
			if isNum {
				numbered = 1
			}
		}
		if numbered == 0 {
			if blankAt > 0 {
				return nil, fmt.Errorf("labels: line %d is blank: in a one-name-per-line file it would shift every class after it", blankAt)
			}
			plain = append(plain, s)
			if len(plain) > maxLabels {
				return nil, fmt.Errorf("labels: more than %d classes", maxLabels)
			}
			continue
		}
		blankAt = 0
		if !isNum {
			return nil, fmt.Errorf("labels: line %d: %q has no class number, unlike the first line", line, s)
		}
		if n < 0 || n >= maxLabels {
			return nil, fmt.Errorf("labels: line %d: class number %d is out of range", line, n)
		}
		if prev, dup := lineOf[n]; dup {
			return nil, fmt.Errorf("labels: line %d: class %d again (first on line %d)", line, n, prev)
		}
		byIndex[n], lineOf[n] = strings.TrimSpace(rest), line
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	if numbered != 1 {
		if len(plain) == 0 {
			return nil, fmt.Errorf("labels: no labels")
		}
		return plain, nil
	}
	labels := make([]string, len(byIndex))
	for i := range labels {
		name, ok := byIndex[i]
		if !ok {
			return nil, fmt.Errorf("labels: no line for class %d: the numbers must cover 0..%d", i, len(labels)-1)
		}
		labels[i] = name
	}
	return labels, nil
}
