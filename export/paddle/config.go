package paddle

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"gopkg.in/yaml.v3"
)

// Model is what an export writes besides the weights: the network and
// how its inputs and outputs are read.
type Model struct {
	Arch       arch.Arch
	Preprocess arch.Preprocess
	// Labels has one name per class, or none.
	Labels []string
	// Threshold is where a multi-label head calls a label positive;
	// 0 means PaddleClas' default, DefaultThreshold.
	Threshold float64
}

// DefaultThreshold is PaddleClas' MultiLabelThreshOutput threshold.
const DefaultThreshold = 0.5

// defaultTopK is what PaddleClas' Topk post-process answers by default.
const defaultTopK = 5

// Released scales have their own constructor in PaddleClas
// (PPLCNet_x0_25 ...); any other is PPLCNet with a scale key.
var releasedScales = []float64{0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5}

// NotExpressibleError is part of a model that a PaddleClas config or label
// list cannot state, so that converting the files back would give a
// different model. Field names it the way the manifest does.
type NotExpressibleError struct {
	Field string
	Err   error
}

func (e *NotExpressibleError) Error() string {
	return fmt.Sprintf("paddle export: %s cannot be written as PaddleClas states it: %v", e.Field, e.Err)
}

func (e *NotExpressibleError) Unwrap() error { return e.Err }

func notExpressible(field, format string, args ...any) error {
	return &NotExpressibleError{Field: field, Err: fmt.Errorf(format, args...)}
}

// ConfigOptions says what the config names besides the model.
type ConfigOptions struct {
	// Comment heads the document, one "# " line per line.
	Comment string
	// LabelsFile is the class_id_map_file of Infer.PostProcess, empty
	// when the model has no labels.
	LabelsFile string
}

// WriteConfig writes m as a PaddleClas training config: Global
// (image_shape, use_multilabel), Arch (name, class_num, stride_list,
// use_last_conv, class_expand, dropout_prob) and Infer (transforms,
// PostProcess), everything lcnet convert --config reads, in the spelling
// PaddleClas' own configs use. A model whose network or pipeline these
// keys cannot state is a *NotExpressibleError.
func WriteConfig(w io.Writer, m Model, opts ConfigOptions) error {
	doc, err := configNode(m, opts)
	if err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("paddle export: writing the config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("paddle export: writing the config: %w", err)
	}
	return nil
}

func configNode(m Model, opts ConfigOptions) (*yaml.Node, error) {
	a := m.Arch
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("paddle export: %w", err)
	}
	archNode, err := archSection(a)
	if err != nil {
		return nil, err
	}
	transforms, err := transformsNode(m.Preprocess)
	if err != nil {
		return nil, err
	}
	global := mapping()
	if a.InputHeight > 0 || a.InputWidth > 0 {
		// PaddleClas checks image_shape against what the transforms give;
		// so does lcnet's reader, so a mismatch is caught here.
		if h, w := m.Preprocess.OutputSize(); h != a.InputHeight || w != a.InputWidth {
			return nil, notExpressible("architecture.input_height", "the model takes %dx%d but its preprocessing gives %dx%d; Global.image_shape must agree with Infer.transforms", a.InputHeight, a.InputWidth, h, w)
		}
		global.add("image_shape", flowSeq(intNode(3), intNode(a.InputHeight), intNode(a.InputWidth)))
	}
	global.add("use_multilabel", boolNode(a.MultiLabel))

	post := mapping()
	if a.MultiLabel {
		t := m.Threshold
		if t == 0 {
			t = DefaultThreshold
		}
		if !(t > 0 && t <= 1) {
			return nil, notExpressible("threshold", "%g is outside (0, 1]", t)
		}
		post.add("name", str("MultiLabelThreshOutput"))
		post.add("threshold", floatNode(t))
	} else {
		post.add("name", str("Topk"))
		post.add("topk", intNode(min(defaultTopK, a.ClassNum)))
	}
	if opts.LabelsFile != "" {
		post.add("class_id_map_file", str(opts.LabelsFile))
	}
	infer := mapping()
	infer.add("transforms", transforms)
	infer.add("PostProcess", post.node)

	root := mapping()
	root.add("Global", global.node)
	root.add("Arch", archNode)
	root.add("Infer", infer.node)
	root.node.HeadComment = comment(opts.Comment)
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root.node}}, nil
}

// archSection is the Arch section. PaddleClas builds the blocks from the
// scale and stride_list alone, so a model whose blocks differ from that
// (no released model does) cannot be stated.
func archSection(a arch.Arch) (*yaml.Node, error) {
	rebuilt := a
	rebuilt.Blocks = nil
	rebuilt.FillBlocks()
	if rebuilt.StemOut != a.StemOut || !slices.Equal(rebuilt.Blocks, a.Blocks) {
		return nil, notExpressible("architecture.blocks", "they differ from what PPLCNet(scale=%g, stride_list=%v) builds", a.Scale, a.StrideList)
	}
	for i, s := range a.StrideList {
		if s.H < 1 || s.W < 1 || s.H > 8 || s.W > 8 {
			return nil, notExpressible("architecture.stride_list", "entry %d is %v, PaddleClas configs give 1 to 8", i, s)
		}
	}
	n := mapping()
	if slices.Contains(releasedScales, a.Scale) {
		n.add("name", str("PPLCNet_x"+a.ScaleName()))
	} else {
		n.add("name", str("PPLCNet"))
		n.add("scale", floatNode(a.Scale))
	}
	n.add("class_num", intNode(a.ClassNum))
	strides := make([]*yaml.Node, len(a.StrideList))
	for i, s := range a.StrideList {
		if s.H == s.W {
			strides[i] = intNode(s.H)
		} else {
			strides[i] = flowSeq(intNode(s.H), intNode(s.W))
		}
	}
	n.add("stride_list", flowSeq(strides...))
	n.add("use_last_conv", boolNode(a.UseLastConv))
	n.add("class_expand", intNode(a.ClassExpand))
	n.add("dropout_prob", floatNode(a.DropoutProb))
	return n.node, nil
}

// transformsNode is Infer.transforms: DecodeImage, ResizeImage, an
// optional CropImage, NormalizeImage and ToCHWImage, as in PaddleClas'
// configs.
func transformsNode(p arch.Preprocess) (*yaml.Node, error) {
	if err := p.Validate(); err != nil {
		return nil, notExpressible("preprocess", "%w", err)
	}
	var rgb bool
	switch p.ChannelOrder {
	case "", "RGB", "rgb":
		rgb = true
	case "BGR", "bgr":
	default:
		return nil, notExpressible("preprocess.channel_order", "%q is neither RGB nor BGR", p.ChannelOrder)
	}
	decode := mapping()
	decode.add("to_rgb", boolNode(rgb))
	decode.add("channel_first", boolNode(false))

	resize := mapping()
	switch {
	case p.ResizeShort > 0:
		resize.add("resize_short", intNode(p.ResizeShort))
	case p.ResizeWidth > 0 && p.ResizeHeight > 0:
		resize.add("size", flowSeq(intNode(p.ResizeWidth), intNode(p.ResizeHeight)))
	default:
		return nil, notExpressible("preprocess", "it has no resize, and PaddleClas' pipeline starts with ResizeImage")
	}
	if p.Interpolation != "" {
		resize.add("interpolation", str(p.Interpolation))
	}

	norm := mapping()
	norm.add("scale", floatNode(p.Scale))
	norm.add("mean", flowSeq(floatNode(p.Mean[0]), floatNode(p.Mean[1]), floatNode(p.Mean[2])))
	norm.add("std", flowSeq(floatNode(p.Std[0]), floatNode(p.Std[1]), floatNode(p.Std[2])))
	norm.add("order", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "", Style: yaml.SingleQuotedStyle})

	ops := []*yaml.Node{op("DecodeImage", decode.node), op("ResizeImage", resize.node)}
	switch {
	case p.CropWidth > 0 && p.CropHeight > 0:
		size := flowSeq(intNode(p.CropWidth), intNode(p.CropHeight))
		if p.CropWidth == p.CropHeight {
			size = intNode(p.CropWidth)
		}
		crop := mapping()
		crop.add("size", size)
		ops = append(ops, op("CropImage", crop.node))
	case p.CropWidth > 0 || p.CropHeight > 0:
		return nil, notExpressible("preprocess", "a crop of %dx%d needs both sides", p.CropWidth, p.CropHeight)
	}
	ops = append(ops, op("NormalizeImage", norm.node), op("ToCHWImage", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}))
	return &yaml.Node{Kind: yaml.SequenceNode, Content: ops}, nil
}

// WriteLabels writes labels as PaddleClas' class_id_map_file: "N name"
// per line. The numbered form is the one whose reading cannot be mistaken:
// a first name such as "0 degree" would make a one-name-per-line file look
// numbered. Names that such a line cannot carry unchanged (empty, with a
// line break or tab, or with spaces at either end) are a
// *NotExpressibleError.
func WriteLabels(w io.Writer, labels []string) error {
	var b strings.Builder
	for i, l := range labels {
		switch {
		case strings.TrimSpace(l) == "":
			return notExpressible(fmt.Sprintf("labels[%d]", i), "it is blank")
		case strings.ContainsAny(l, "\r\n\t\v\f\u0085\u2028\u2029"):
			return notExpressible(fmt.Sprintf("labels[%d]", i), "%q holds a line break or tab", l)
		case strings.TrimSpace(l) != l:
			return notExpressible(fmt.Sprintf("labels[%d]", i), "%q starts or ends with white space", l)
		}
		fmt.Fprintf(&b, "%d %s\n", i, l)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("paddle export: writing the labels: %w", err)
	}
	return nil
}

// mappingNode builds a YAML mapping in insertion order.
type mappingNode struct{ node *yaml.Node }

func mapping() mappingNode { return mappingNode{&yaml.Node{Kind: yaml.MappingNode}} }

func (m mappingNode) add(key string, v *yaml.Node) {
	m.node.Content = append(m.node.Content, str(key), v)
}

func op(name string, args *yaml.Node) *yaml.Node {
	m := mapping()
	m.add(name, args)
	return m.node
}

func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(v int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
}

func boolNode(v bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
}

// floatNode writes the shortest decimal that reads back as v, always with
// a point: PyYAML, which PaddleClas reads configs with, takes 1e-05 for a
// string and only 1.0e-05 for a float.
func floatNode(v float64) *yaml.Node {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".nN") { // not NaN or Inf, which Validate refuses
		if i := strings.IndexByte(s, 'e'); i >= 0 {
			s = s[:i] + ".0" + s[i:]
		} else {
			s += ".0"
		}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}
}

func flowSeq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: items}
}

func comment(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("# "+l, " ")
	}
	return strings.Join(lines, "\n")
}
