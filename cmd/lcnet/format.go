package main

import (
	"fmt"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/zoo"
)

// summary is the one-line description convert and pull print after the
// NAME:VERSION line.
func summary(m zoo.Manifest) string {
	return fmt.Sprintf("PP-LCNet x%s, %d classes, input %s, %s, %s params", scaleString(m.Arch.Scale), m.Arch.ClassNum, inputSize(m), m.DType, humanCount(m.Params))
}

// scaleString writes 1 as "1.0" and 0.25 as "0.25", the way the papers
// and model names do.
func scaleString(s float64) string {
	if s == float64(int(s)) {
		return fmt.Sprintf("%.1f", s)
	}
	return fmt.Sprintf("%g", s)
}

// inputSize is the HxW the model expects after preprocessing.
func inputSize(m zoo.Manifest) string {
	h, w := m.Arch.InputSize(m.Preprocess)
	return fmt.Sprintf("%dx%d", h, w)
}

func humanCount(n int) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1_000:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func strides(a arch.Arch) string {
	parts := make([]string, len(a.StrideList))
	for i, s := range a.StrideList {
		parts[i] = s.String()
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// label names class i, falling back to "class N" when a model has none.
func label(labels []string, i int) string {
	if i < len(labels) && labels[i] != "" {
		return labels[i]
	}
	return fmt.Sprintf("class %d", i)
}
