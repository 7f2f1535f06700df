package convert

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"gopkg.in/yaml.v3"
)

// Limits on a training config, which is untrusted input: real PaddleClas
// configs are 2-5 KB with a few hundred YAML nodes.
const (
	maxConfigSize = 1 << 20
	// maxConfigNodes bounds the nodes of the document with every alias
	// expanded, so a "billion laughs" config is refused before anything
	// walks it.
	maxConfigNodes = 1 << 16
)

// Config is what a PaddleClas (or PaddleX) training config says about the
// network a dygraph checkpoint was trained as: the part the weights cannot
// tell (strides, input size, multi-label head, preprocessing).
type Config struct {
	// Arch is PPLCNet as the config's Arch section builds it, with
	// InputHeight x InputWidth from Global.image_shape and MultiLabel from
	// Global.use_multilabel.
	Arch arch.Arch
	// Preprocess comes from Infer.transforms, else from the Eval data
	// loader's transform_ops; nil when the config has neither and its
	// input is PaddleClas' 224x224, whose ImageNet pipeline then applies.
	Preprocess *arch.Preprocess
	// TopK, Threshold and ClassIDMapFile are Infer.PostProcess' topk,
	// threshold (MultiLabelThreshOutput, ThreshOutput) and
	// class_id_map_file, a path inside the PaddleClas tree that the user
	// passes as a label file.
	TopK           int
	Threshold      float64
	ClassIDMapFile string
}

// ConfigError is a training config lcnet refuses, naming the key.
type ConfigError struct {
	// Key is the dotted path of the offending key, e.g. "Arch.act";
	// empty for a document that is not a config at all.
	Key string
	Err error
}

func (e *ConfigError) Error() string {
	if e.Key == "" {
		return "config: " + e.Err.Error()
	}
	return "config: " + e.Key + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(key, format string, args ...any) error {
	return &ConfigError{Key: key, Err: fmt.Errorf(format, args...)}
}

// ReadConfig reads a training config of at most 1 MiB.
func ReadConfig(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, &ConfigError{Err: err}
	}
	return ParseConfig(data)
}

// The keys of PPLCNet's constructor that lcnet builds the network from.
// The others it knows are either training-only or must hold the one value
// lcnet's network implements; any other key could change the network in a
// way lcnet does not model, so it is refused.
var archIgnored = []string{
	"pretrained", "use_ssld", // which weights to start training from
	"use_sync_bn",                                        // SyncBatchNorm across GPUs: the same BatchNorm at inference
	"lr_mult_list",                                       // per-stage learning rates
	"stages_pattern", "return_patterns", "return_stages", // TheseusLayer feature taps, unused by the classifier output
	"infer_add_softmax", // export only: lcnet computes the probabilities itself
}

// ParseConfig reads a PaddleClas / PaddleX training config (the YAML
// tools/train.py takes with -c). Sections that only matter to training
// (Loss, Optimizer, DataLoader.Train, Metric, most of Global) are ignored;
// keys under Arch that would build a network lcnet does not implement are
// an error naming the key.
func ParseConfig(data []byte) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, &ConfigError{Err: fmt.Errorf("over the %d-byte limit", maxConfigSize)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ConfigError{Err: err}
	}
	if n := countNodes(&doc, 0); n > maxConfigNodes {
		return nil, &ConfigError{Err: fmt.Errorf("over %d YAML nodes with aliases expanded", maxConfigNodes)}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &ConfigError{Err: errors.New("not a mapping of sections (Global, Arch, ...)")}
	}
	root := doc.Content[0]
	archNode := lookup(root, "Arch")
	if archNode == nil {
		if m := lookup(lookup(root, "Global"), "model"); m != nil {
			return nil, configErr("Arch", "missing: this is a PaddleX module config for %s, which names the model but not its network; pass the PaddleClas config PaddleX trains with (paddlex/repo_apis/PaddleClas_api/configs/%s.yaml, or config.yaml in the training output)", m.Value, m.Value)
		}
		return nil, configErr("Arch", "missing")
	}
	c := &Config{}
	if err := c.parseArch(archNode); err != nil {
		return nil, err
	}
	if lookup(archNode, "class_num") == nil {
		// Older configs set Global.class_num, which PaddleClas still
		// copies into Arch.
		if v := lookup(lookup(root, "Global"), "class_num"); v != nil {
			if err := decodeInt(v, &c.Arch.ClassNum, 1, 1<<20); err != nil {
				return nil, &ConfigError{Key: "Global.class_num", Err: err}
			}
			c.Arch.FillBlocks()
		}
	}
	if err := c.parseGlobal(lookup(root, "Global")); err != nil {
		return nil, err
	}
	if err := c.parseInfer(root); err != nil {
		return nil, err
	}
	if err := c.Arch.Validate(); err != nil {
		return nil, &ConfigError{Key: "Arch", Err: err}
	}
	return c, nil
}

func (c *Config) parseArch(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return configErr("Arch", "want a mapping")
	}
	var (
		nameScale, keyScale float64
		name                string
	)
	a := arch.DefaultArch(1, 1000)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		key := "Arch." + k
		var err error
		switch k {
		case "name":
			name = v.Value
			nameScale, err = scaleFromName(v.Value)
		case "scale":
			err = v.Decode(&keyScale)
			if err == nil && !(keyScale > 0 && keyScale <= 16) {
				err = fmt.Errorf("%g is out of range", keyScale)
			}
		case "class_num":
			err = decodeInt(v, &a.ClassNum, 1, 1<<20)
		case "class_expand":
			// 0 is what a program without last_conv gives; Validate
			// still wants at least 1 with use_last_conv.
			err = decodeInt(v, &a.ClassExpand, 0, 1<<16)
		case "use_last_conv":
			err = v.Decode(&a.UseLastConv)
		case "dropout_prob":
			err = v.Decode(&a.DropoutProb)
		case "stride_list":
			a.StrideList, err = parseStrideList(v)
		case "act":
			// PaddleClas offers hardswish, relu and relu6; the network and
			// its ONNX export implement hardswish only.
			if v.Value != "hardswish" {
				err = fmt.Errorf("%q: lcnet implements PP-LCNet with hardswish only", v.Value)
			}
		case "use_ml_decoder":
			var on bool
			if err = v.Decode(&on); err == nil && on {
				err = errors.New("true: the ML-Decoder head (PP-LCNet_x1_0_ML) is not a PP-LCNet classifier lcnet can run")
			}
		default:
			if !slices.Contains(archIgnored, k) {
				err = errors.New("unknown to lcnet and it may change the network; remove it if it does not")
			}
		}
		if err != nil {
			return &ConfigError{Key: key, Err: err}
		}
	}
	switch {
	case name == "":
		return configErr("Arch.name", "missing")
	case nameScale == 0 && keyScale == 0:
		nameScale = 1 // PaddleClas' PPLCNet(scale=1.0)
	case nameScale == 0:
		nameScale = keyScale
	case keyScale != 0 && keyScale != nameScale:
		return configErr("Arch.scale", "%g disagrees with Arch.name %s", keyScale, name)
	}
	a.Scale = nameScale
	a.FillBlocks()
	c.Arch = a
	return nil
}

// scaleFromName reads the scale of PaddleClas' PPLCNet_x1_0 or PaddleX's
// PP-LCNet_x1_0; plain PPLCNet gives 0 (the scale key, else 1.0, decides).
func scaleFromName(name string) (float64, error) {
	n := strings.Replace(name, "PP-LCNet", "PPLCNet", 1)
	if n == "PPLCNet" {
		return 0, nil
	}
	s, ok := strings.CutPrefix(n, "PPLCNet_x")
	if !ok || strings.HasPrefix(n, "PPLCNetV2") {
		return 0, fmt.Errorf("%q is not PP-LCNet (want PPLCNet_x0_25 ... PPLCNet_x2_5)", name)
	}
	for _, r := range []string{"0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5"} {
		if s == r {
			return strconv.ParseFloat(strings.Replace(s, "_", ".", 1), 64)
		}
	}
	return 0, fmt.Errorf("%q: PaddleClas releases scales 0_25, 0_35, 0_5, 0_75, 1_0, 1_5, 2_0 and 2_5", name)
}

// parseStrideList reads stride_list: five entries, each N or [h, w].
func parseStrideList(n *yaml.Node) ([]arch.Stride, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errors.New("want a list of 5 strides")
	}
	if len(n.Content) != 5 {
		return nil, fmt.Errorf("has %d entries, want 5 (stem, blocks3..blocks6)", len(n.Content))
	}
	out := make([]arch.Stride, len(n.Content))
	for i, e := range n.Content {
		var s int
		if e.Decode(&s) == nil {
			out[i] = arch.Square(s)
		} else {
			var hw []int
			if err := e.Decode(&hw); err != nil || len(hw) != 2 {
				return nil, fmt.Errorf("entry %d: want N or [h, w]", i)
			}
			out[i] = arch.Stride{H: hw[0], W: hw[1]}
		}
		if out[i].H < 1 || out[i].W < 1 || out[i].H > 8 || out[i].W > 8 {
			return nil, fmt.Errorf("entry %d: stride %v is out of range 1..8", i, out[i])
		}
	}
	return out, nil
}

func (c *Config) parseGlobal(n *yaml.Node) error {
	if n == nil {
		return nil
	}
	if v := lookup(n, "use_multilabel"); v != nil {
		if err := v.Decode(&c.Arch.MultiLabel); err != nil {
			return &ConfigError{Key: "Global.use_multilabel", Err: err}
		}
	}
	if v := lookup(n, "image_shape"); v != nil {
		var shape []int
		if err := v.Decode(&shape); err != nil || len(shape) != 3 {
			return configErr("Global.image_shape", "want [3, H, W]")
		}
		if shape[0] != 3 {
			return configErr("Global.image_shape", "%d channels, PP-LCNet takes 3", shape[0])
		}
		if shape[1] < 32 || shape[2] < 32 || shape[1] > 1<<14 || shape[2] > 1<<14 {
			return configErr("Global.image_shape", "%dx%d is out of range 32..16384", shape[1], shape[2])
		}
		c.Arch.InputHeight, c.Arch.InputWidth = shape[1], shape[2]
	}
	return nil
}

func (c *Config) parseInfer(root *yaml.Node) error {
	infer := lookup(root, "Infer")
	key := "Infer.transforms"
	ops := lookup(infer, "transforms")
	if ops == nil {
		// PULC's attribute configs carry no Infer section; the Eval
		// pipeline is what the model was measured with.
		key = "DataLoader.Eval.dataset.transform_ops"
		ops = lookup(lookup(lookup(lookup(root, "DataLoader"), "Eval"), "dataset"), "transform_ops")
	}
	imageShape := lookup(lookup(root, "Global"), "image_shape") != nil
	if ops != nil {
		var list []map[string]yaml.Node
		if err := ops.Decode(&list); err != nil {
			return &ConfigError{Key: key, Err: err}
		}
		p, err := parseTransforms(list)
		if err != nil {
			var te *transformError
			if errors.As(err, &te) && te.index >= 0 {
				return &ConfigError{Key: fmt.Sprintf("%s[%d].%s", key, te.index, te.name), Err: te.err}
			}
			return &ConfigError{Key: key, Err: errors.New(strings.TrimSpace(err.Error()))}
		}
		// The config's transforms become the model's preprocessing, as
		// an inference.yml's do, and are bounded the same way.
		if err := p.Validate(); err != nil {
			return &ConfigError{Key: key, Err: err}
		}
		c.Preprocess = p
		h, w := p.OutputSize()
		switch {
		case !imageShape:
			c.Arch.InputHeight, c.Arch.InputWidth = h, w
		case h != c.Arch.InputHeight || w != c.Arch.InputWidth:
			return configErr(key, "produces %dx%d, but Global.image_shape says %dx%d", h, w, c.Arch.InputHeight, c.Arch.InputWidth)
		}
	} else if c.Arch.InputHeight != arch.DefaultInputSize || c.Arch.InputWidth != arch.DefaultInputSize {
		return configErr("Infer.transforms", "missing, and the %dx%d input rules out the ImageNet pipeline", c.Arch.InputHeight, c.Arch.InputWidth)
	}
	post := lookup(infer, "PostProcess")
	if post == nil {
		return nil
	}
	for _, f := range []struct {
		key string
		dst any
	}{{"topk", &c.TopK}, {"threshold", &c.Threshold}, {"class_id_map_file", &c.ClassIDMapFile}} {
		if v := lookup(post, f.key); v != nil && v.Tag != "!!null" {
			if err := v.Decode(f.dst); err != nil {
				return &ConfigError{Key: "Infer.PostProcess." + f.key, Err: err}
			}
		}
	}
	if c.Threshold < 0 || c.Threshold > 1 {
		return configErr("Infer.PostProcess.threshold", "%g is outside [0, 1]", c.Threshold)
	}
	return nil
}

func decodeInt(n *yaml.Node, dst *int, lo, hi int) error {
	var v int
	if err := n.Decode(&v); err != nil {
		return err
	}
	if v < lo || v > hi {
		return fmt.Errorf("%d is out of range %d..%d", v, lo, hi)
	}
	*dst = v
	return nil
}

// lookup returns the value of key in a mapping node, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// countNodes counts n's nodes with aliases expanded, stopping once past
// maxConfigNodes so that counting a bomb is cheap too.
func countNodes(n *yaml.Node, depth int) int {
	if n == nil {
		return 0
	}
	if depth > 100 {
		return maxConfigNodes + 1
	}
	if n.Kind == yaml.AliasNode {
		return 1 + countNodes(n.Alias, depth+1)
	}
	total := 1
	for _, c := range n.Content {
		total += countNodes(c, depth+1)
		if total > maxConfigNodes {
			break
		}
	}
	return total
}
