package arch

import "fmt"

// Preprocess is how an image becomes the model's input tensor, following
// PaddleClas' transform_ops.
type Preprocess struct {
	// ResizeShort, when positive, resizes so the short side has this length
	// (keeping aspect), and CropWidth x CropHeight is then center-cropped.
	ResizeShort int `json:"resize_short,omitempty"`
	// ResizeWidth x ResizeHeight, when positive, resizes straight to that size.
	ResizeWidth  int `json:"resize_width,omitempty"`
	ResizeHeight int `json:"resize_height,omitempty"`
	CropWidth    int `json:"crop_width,omitempty"`
	CropHeight   int `json:"crop_height,omitempty"`
	// Interpolation is "bilinear" (PaddleClas' cv2 default) unless set.
	Interpolation string `json:"interpolation,omitempty"`
	// Scale multiplies the 0..255 pixel values before Mean and Std apply.
	Scale float64    `json:"scale"`
	Mean  [3]float64 `json:"mean"`
	Std   [3]float64 `json:"std"`
	// ChannelOrder is "RGB" (PaddleClas decodes to RGB) or "BGR".
	ChannelOrder string `json:"channel_order"`
	// Decode is "exact" (decode every pixel, as PaddleClas does), "fast"
	// (decode JPEGs at 1/2, 1/4 or 1/8 size when the resize shrinks them
	// that much) or empty for the server's default.
	Decode string `json:"decode,omitempty"`
}

// DefaultPreprocess is PaddleClas' ImageNet evaluation pipeline: resize the
// short side to 256, center-crop 224, scale 1/255, ImageNet mean and std.
func DefaultPreprocess() Preprocess {
	return Preprocess{
		ResizeShort:   256,
		CropWidth:     224,
		CropHeight:    224,
		Interpolation: "bilinear",
		Scale:         1.0 / 255,
		Mean:          [3]float64{0.485, 0.456, 0.406},
		Std:           [3]float64{0.229, 0.224, 0.225},
		ChannelOrder:  "RGB",
	}
}

// OutputSize is the height and width of the tensor the pipeline produces.
func (p Preprocess) OutputSize() (h, w int) {
	switch {
	case p.CropWidth > 0 && p.CropHeight > 0:
		return p.CropHeight, p.CropWidth
	case p.ResizeWidth > 0 && p.ResizeHeight > 0:
		return p.ResizeHeight, p.ResizeWidth
	case p.ResizeShort > 0:
		return p.ResizeShort, p.ResizeShort
	}
	return 0, 0
}

// DefaultInputSize is the height and width PaddleClas trains ImageNet
// models at, for a model that says nothing else.
const DefaultInputSize = 224

// InputSize is the height and width the model takes: the size p produces,
// else the size a was trained at, else DefaultInputSize.
func (a Arch) InputSize(p Preprocess) (h, w int) {
	if h, w := p.OutputSize(); h > 0 && w > 0 {
		return h, w
	}
	if a.InputHeight > 0 && a.InputWidth > 0 {
		return a.InputHeight, a.InputWidth
	}
	return DefaultInputSize, DefaultInputSize
}

// MaxPreprocessSide bounds every size a Preprocess names. PP-LCNet is
// trained at 224 (PULC models up to 512); resizing even a 1x1 image to
// 4096x4096 costs a gigabyte of float planes per request.
const MaxPreprocessSide = 2048

// Validate reports the first size of p that is negative or over
// MaxPreprocessSide, so that a model's preprocessing is refused when it
// is imported and not when the first image arrives.
func (p Preprocess) Validate() error {
	for _, s := range []struct {
		name string
		v    int
	}{
		{"resize_short", p.ResizeShort},
		{"resize width", p.ResizeWidth},
		{"resize height", p.ResizeHeight},
		{"crop width", p.CropWidth},
		{"crop height", p.CropHeight},
	} {
		if s.v < 0 || s.v > MaxPreprocessSide {
			return fmt.Errorf("invalid preprocessing: %s is %d, want 0 to %d", s.name, s.v, MaxPreprocessSide)
		}
	}
	return nil
}
