// Package nn is the PP-LCNet network (arXiv 2109.15099) on spago: an
// architecture description that covers every released model, a loader from
// PaddleClas' structured tensor names, and inference on CPUs.
package arch

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Stride is a convolution stride. Most PP-LCNet models use square strides;
// the text-line orientation models use (2,1) pairs, which keep the width.
type Stride struct {
	H int `json:"h"`
	W int `json:"w"`
}

// Square returns the stride s×s.
func Square(s int) Stride { return Stride{H: s, W: s} }

func (s Stride) String() string {
	if s.H == s.W {
		return fmt.Sprint(s.H)
	}
	return fmt.Sprintf("(%d,%d)", s.H, s.W)
}

// MarshalJSON writes a square stride as a number and any other as [h, w],
// the way PaddleClas configs spell stride_list.
func (s Stride) MarshalJSON() ([]byte, error) {
	if s.H == s.W {
		return json.Marshal(s.H)
	}
	return json.Marshal([2]int{s.H, s.W})
}

// UnmarshalJSON accepts 2, [2, 1] or {"h": 2, "w": 1}.
func (s *Stride) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*s = Square(n)
		return nil
	}
	var pair []int
	if err := json.Unmarshal(b, &pair); err == nil {
		if len(pair) != 2 {
			return fmt.Errorf("stride: want 1 or 2 numbers, got %d", len(pair))
		}
		*s = Stride{H: pair[0], W: pair[1]}
		return nil
	}
	type plain Stride
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("stride: want a number, [h, w] or {\"h\", \"w\"}: %w", err)
	}
	*s = Stride(p)
	return nil
}

// Block is one DepthwiseSeparable block: a depthwise k×k conv with stride,
// hardswish, an optional squeeze-excitation, a pointwise conv and hardswish.
type Block struct {
	// Stage is the PaddleClas attribute name ("blocks2" ... "blocks6") and
	// Index the position inside it; together they give tensor names such as
	// blocks5.3.dw_conv.conv.weight.
	Stage  string `json:"stage"`
	Index  int    `json:"index"`
	Kernel int    `json:"kernel"`
	In     int    `json:"in"`
	Out    int    `json:"out"`
	Stride Stride `json:"stride"`
	SE     bool   `json:"se"`
}

// Name is the structured-name prefix of the block, e.g. "blocks5.3".
func (b Block) Name() string { return fmt.Sprintf("%s.%d", b.Stage, b.Index) }

// Arch describes one PP-LCNet network completely. DefaultArch fills it from
// the PaddleClas constructor arguments; converters that read a Paddle
// program fill Blocks from the program instead, so nothing is assumed.
type Arch struct {
	Scale       float64 `json:"scale"`
	ClassNum    int     `json:"class_num"`
	ClassExpand int     `json:"class_expand"`
	UseLastConv bool    `json:"use_last_conv"`
	// DropoutProb is the p of Dropout(mode="downscale_in_infer"), which at
	// inference multiplies the features by 1-p before the Linear layer.
	DropoutProb float64 `json:"dropout_prob"`
	// StrideList is PaddleClas' stride_list: the stem stride, then the first
	// stride of blocks3, blocks4, blocks5 and blocks6.
	StrideList []Stride `json:"stride_list"`
	StemOut    int      `json:"stem_out"`
	Blocks     []Block  `json:"blocks"`
	// InputHeight and InputWidth are the size the model was trained at; the
	// network itself accepts any size from 32x32 up.
	InputHeight int `json:"input_height"`
	InputWidth  int `json:"input_width"`
	// MultiLabel marks a head trained with PaddleClas' use_multilabel: the
	// program ends in a sigmoid, so every class is scored on its own and the
	// probabilities do not sum to 1.
	MultiLabel bool `json:"multi_label,omitempty"`
}

// MakeDivisible is PaddleClas' make_divisible(v, 8): round to a multiple of
// 8, never below 8, and never more than 10% under v.
func MakeDivisible(v float64) int {
	const divisor = 8
	n := int(v+divisor/2) / divisor * divisor
	if n < divisor {
		n = divisor
	}
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// netConfig is PaddleClas' NET_CONFIG: kernel, in, out, stride, SE per block
// at scale 1.
var netConfig = []struct {
	stage string
	specs [][5]int // kernel, in, out, stride, se(0/1)
}{
	{"blocks2", [][5]int{{3, 16, 32, 1, 0}}},
	{"blocks3", [][5]int{{3, 32, 64, 2, 0}, {3, 64, 64, 1, 0}}},
	{"blocks4", [][5]int{{3, 64, 128, 2, 0}, {3, 128, 128, 1, 0}}},
	{"blocks5", [][5]int{{3, 128, 256, 2, 0}, {5, 256, 256, 1, 0}, {5, 256, 256, 1, 0}, {5, 256, 256, 1, 0}, {5, 256, 256, 1, 0}, {5, 256, 256, 1, 0}}},
	{"blocks6", [][5]int{{5, 256, 512, 2, 1}, {5, 512, 512, 1, 1}}},
}

// DefaultStrides is PaddleClas' default stride_list [2, 2, 2, 2, 2].
func DefaultStrides() []Stride {
	return []Stride{Square(2), Square(2), Square(2), Square(2), Square(2)}
}

// DefaultArch is PPLCNet(scale, class_num) as PaddleClas builds it, with
// class_expand 1280, dropout 0.2, the last conv, default strides and 224x224.
func DefaultArch(scale float64, classNum int) Arch {
	a := Arch{
		Scale:       scale,
		ClassNum:    classNum,
		ClassExpand: 1280,
		UseLastConv: true,
		DropoutProb: 0.2,
		StrideList:  DefaultStrides(),
		InputHeight: 224,
		InputWidth:  224,
	}
	a.FillBlocks()
	return a
}

// FillBlocks derives StemOut and Blocks from Scale and StrideList, exactly as
// the PaddleClas constructor does.
func (a *Arch) FillBlocks() {
	if len(a.StrideList) == 0 {
		a.StrideList = DefaultStrides()
	}
	a.StemOut = MakeDivisible(16 * a.Scale)
	a.Blocks = a.Blocks[:0]
	for si, st := range netConfig {
		for i, s := range st.specs {
			stride := Square(s[3])
			// stride_list[1:] overrides the first block of blocks3..blocks6.
			if i == 0 && si >= 1 && si < len(a.StrideList) {
				stride = a.StrideList[si]
			}
			a.Blocks = append(a.Blocks, Block{
				Stage:  st.stage,
				Index:  i,
				Kernel: s[0],
				In:     MakeDivisible(float64(s[1]) * a.Scale),
				Out:    MakeDivisible(float64(s[2]) * a.Scale),
				Stride: stride,
				SE:     s[4] == 1,
			})
		}
	}
}

// StemStride is the stride of conv1.
func (a Arch) StemStride() Stride {
	if len(a.StrideList) == 0 {
		return Square(2)
	}
	return a.StrideList[0]
}

// LastChannels is the width of the pooled vector (the output of blocks6).
func (a Arch) LastChannels() int {
	if len(a.Blocks) == 0 {
		return 0
	}
	return a.Blocks[len(a.Blocks)-1].Out
}

// FeatureDim is the width of the features output: class_expand with the
// last conv, otherwise the pooled width.
func (a Arch) FeatureDim() int {
	if a.UseLastConv {
		return a.ClassExpand
	}
	return a.LastChannels()
}

// ScaleName renders the scale the way model names do: 0.25 -> "0_25".
func (a Arch) ScaleName() string {
	s := fmt.Sprintf("%g", a.Scale)
	out := []byte(s)
	for i := range out {
		if out[i] == '.' {
			out[i] = '_'
		}
	}
	if a.Scale == math.Trunc(a.Scale) {
		return string(out) + "_0"
	}
	return string(out)
}

// Validate reports the first inconsistency in a, so that a bad manifest or
// a misread program fails at load with a message instead of a panic later.
func (a Arch) Validate() error {
	var errs []error
	if !(a.Scale > 0) {
		errs = append(errs, fmt.Errorf("scale must be positive, got %g", a.Scale))
	}
	if a.ClassNum < 1 {
		errs = append(errs, fmt.Errorf("class_num must be at least 1, got %d", a.ClassNum))
	}
	if a.UseLastConv && a.ClassExpand < 1 {
		errs = append(errs, fmt.Errorf("class_expand must be at least 1 with use_last_conv, got %d", a.ClassExpand))
	}
	if a.DropoutProb < 0 || a.DropoutProb >= 1 {
		errs = append(errs, fmt.Errorf("dropout_prob must be in [0, 1), got %g", a.DropoutProb))
	}
	if a.StemOut < 1 {
		errs = append(errs, fmt.Errorf("stem_out must be at least 1, got %d", a.StemOut))
	}
	if s := a.StemStride(); s.H < 1 || s.W < 1 {
		errs = append(errs, fmt.Errorf("stem stride must be positive, got %v", s))
	}
	if len(a.Blocks) == 0 {
		errs = append(errs, errors.New("no blocks"))
	}
	prev := a.StemOut
	for _, b := range a.Blocks {
		switch {
		case b.In != prev:
			errs = append(errs, fmt.Errorf("%s: takes %d channels but the previous layer gives %d", b.Name(), b.In, prev))
		case b.Out < 1:
			errs = append(errs, fmt.Errorf("%s: out channels must be positive, got %d", b.Name(), b.Out))
		case b.Kernel < 1 || b.Kernel%2 == 0:
			errs = append(errs, fmt.Errorf("%s: kernel must be odd and positive, got %d", b.Name(), b.Kernel))
		case b.Stride.H < 1 || b.Stride.W < 1:
			errs = append(errs, fmt.Errorf("%s: stride must be positive, got %v", b.Name(), b.Stride))
		}
		prev = b.Out
	}
	if a.InputHeight < 0 || a.InputWidth < 0 || a.InputHeight > MaxPreprocessSide || a.InputWidth > MaxPreprocessSide {
		// The input size is what preprocessing resizes to when the
		// manifest's Preprocess names none: bounded as those sizes are.
		errs = append(errs, fmt.Errorf("input size must be 0 to %d a side, got %dx%d", MaxPreprocessSide, a.InputHeight, a.InputWidth))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("invalid architecture: %w", err)
	}
	return nil
}
