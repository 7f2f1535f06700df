package convert

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"gopkg.in/yaml.v3"
)

// inferenceYML is the part of PaddleX/PaddleClas' inference.yml lcnet uses.
type inferenceYML struct {
	PreProcess struct {
		TransformOps []map[string]yaml.Node `yaml:"transform_ops"`
	} `yaml:"PreProcess"`
	PostProcess struct {
		Topk struct {
			LabelList []string `yaml:"label_list"`
		} `yaml:"Topk"`
	} `yaml:"PostProcess"`
}

// readYML fills a checkpoint's preprocessing and labels from the
// inference.yml of its directory.
func readYML(ctx context.Context, d *modelDir, ck *Checkpoint) error {
	raw, err := d.read(ctx, fileYML)
	if err != nil {
		return err
	}
	pre, labels, err := parseYML(raw)
	if err != nil {
		return err
	}
	ck.Preprocess, ck.Labels = pre, labels
	ck.Threshold = postThreshold(raw)
	return nil
}

// parseYML returns the preprocessing (nil when the file has no
// transform_ops) and the labels of an inference.yml.
func parseYML(data []byte) (*arch.Preprocess, []string, error) {
	if len(data) > maxYMLBytes {
		return nil, nil, fmt.Errorf("inference.yml: %w", &LimitError{What: "inference.yml", Size: int64(len(data)), Limit: maxYMLBytes, Unit: "bytes"})
	}
	var y inferenceYML
	if err := yaml.Unmarshal(data, &y); err != nil {
		return nil, nil, fmt.Errorf("inference.yml: %w", err)
	}
	labels := y.PostProcess.Topk.LabelList
	if len(y.PreProcess.TransformOps) == 0 {
		return nil, labels, nil
	}
	p, err := parseTransforms(y.PreProcess.TransformOps)
	if err != nil {
		return nil, nil, fmt.Errorf("inference.yml: transform_ops%w", err)
	}
	return p, labels, nil
}

// transformError is a transform list that lcnet cannot follow; its text
// starts with the list index so callers can prefix the list's name.
type transformError struct {
	index int
	name  string
	err   error
}

func (e *transformError) Error() string {
	if e.index < 0 {
		return " " + e.err.Error()
	}
	return fmt.Sprintf("[%d] %s: %v", e.index, e.name, e.err)
}

func (e *transformError) Unwrap() error { return e.err }

// parseTransforms reads PaddleClas' transform_ops (inference.yml's
// PreProcess, a training config's Infer.transforms) into a Preprocess.
func parseTransforms(ops []map[string]yaml.Node) (*arch.Preprocess, error) {
	p := arch.DefaultPreprocess()
	p.ResizeShort, p.CropWidth, p.CropHeight = 0, 0, 0
	var sawResize bool
	for i, op := range ops {
		for name, node := range op {
			var err error
			switch name {
			case "ResizeImage":
				sawResize = true
				err = parseResize(&node, &p)
			case "CropImage":
				var c struct {
					Size yaml.Node `yaml:"size"`
				}
				if err = node.Decode(&c); err == nil {
					p.CropWidth, p.CropHeight, err = parseSize(&c.Size)
				}
			case "NormalizeImage":
				err = parseNormalize(&node, &p)
			case "DecodeImage":
				var d struct {
					ToRGB *bool `yaml:"to_rgb"`
				}
				if err = node.Decode(&d); err == nil && d.ToRGB != nil && !*d.ToRGB {
					p.ChannelOrder = "BGR"
				}
			case "ToCHWImage":
				// lcnet always feeds CHW.
			default:
				err = fmt.Errorf("unsupported transform %.64s", name)
			}
			if err != nil {
				return nil, &transformError{index: i, name: name, err: err}
			}
		}
	}
	if !sawResize {
		return nil, &transformError{index: -1, err: errors.New("has no ResizeImage")}
	}
	return &p, nil
}

func parseResize(n *yaml.Node, p *arch.Preprocess) error {
	var r struct {
		Size          yaml.Node `yaml:"size"`
		ResizeShort   int       `yaml:"resize_short"`
		Interpolation string    `yaml:"interpolation"`
	}
	if err := n.Decode(&r); err != nil {
		return err
	}
	switch {
	case r.ResizeShort > 0:
		p.ResizeShort = r.ResizeShort
	case !r.Size.IsZero():
		w, h, err := parseSize(&r.Size)
		if err != nil {
			return err
		}
		p.ResizeWidth, p.ResizeHeight = w, h
	default:
		return fmt.Errorf("neither size nor resize_short")
	}
	if r.Interpolation != "" {
		p.Interpolation = strings.ToLower(r.Interpolation)
	}
	return nil
}

// parseSize reads PaddleClas' size: N (square) or [W, H].
func parseSize(n *yaml.Node) (w, h int, err error) {
	var one int
	if n.Decode(&one) == nil {
		w, h = one, one
	} else {
		var wh []int
		if err := n.Decode(&wh); err != nil || len(wh) != 2 {
			return 0, 0, fmt.Errorf("size must be N or [W, H]")
		}
		w, h = wh[0], wh[1]
	}
	if w <= 0 || h <= 0 || w > 1<<14 || h > 1<<14 {
		return 0, 0, fmt.Errorf("size %dx%d is out of range", w, h)
	}
	return w, h, nil
}

func parseNormalize(n *yaml.Node, p *arch.Preprocess) error {
	var r struct {
		Scale yaml.Node `yaml:"scale"`
		Mean  []float64 `yaml:"mean"`
		Std   []float64 `yaml:"std"`
		Order string    `yaml:"order"`
	}
	if err := n.Decode(&r); err != nil {
		return err
	}
	if !r.Scale.IsZero() {
		// Configs write both 0.00392156862745098 and "1.0/255.0".
		s, err := parseRatio(r.Scale.Value)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		p.Scale = s
	}
	if r.Mean != nil {
		if len(r.Mean) != 3 {
			return fmt.Errorf("mean has %d values, want 3", len(r.Mean))
		}
		copy(p.Mean[:], r.Mean)
	}
	if r.Std != nil {
		if len(r.Std) != 3 {
			return fmt.Errorf("std has %d values, want 3", len(r.Std))
		}
		for _, s := range r.Std {
			if s == 0 {
				return fmt.Errorf("std has a zero")
			}
		}
		copy(p.Std[:], r.Std)
	}
	if o := strings.ToLower(r.Order); o != "" && o != "hwc" && o != "chw" {
		return fmt.Errorf("order %.64q", r.Order)
	}
	return nil
}

func parseRatio(s string) (float64, error) {
	num, den, ok := strings.Cut(s, "/")
	a, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil {
		return 0, err
	}
	if !ok {
		return a, nil
	}
	b, err := strconv.ParseFloat(strings.TrimSpace(den), 64)
	if err != nil || b == 0 {
		return 0, fmt.Errorf("bad ratio %.64q", s)
	}
	return a / b, nil
}
