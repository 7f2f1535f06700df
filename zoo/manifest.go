// Package zoo is lcnet's model registry: named, immutable versions of
// PP-LCNet models, each a safetensors weights file and a manifest, kept in a
// storage.Store.
package zoo

import (
	"time"

	"github.com/lcnet/lcnet/nn"
)

// DType is how a version stores its weights on disk and in memory.
type DType string

const (
	FP32 DType = "fp32"
	FP16 DType = "fp16"
)

// Manifest describes one immutable model version. It is written last, after
// the weights, so a version without a manifest does not exist.
type Manifest struct {
	Name    string  `json:"name"`
	Version string  `json:"version"`
	Arch    nn.Arch `json:"architecture"`
	// Labels has one name per class; empty means "class N".
	Labels     []string   `json:"labels,omitempty"`
	Preprocess Preprocess `json:"preprocess"`
	DType      DType      `json:"dtype"`
	// Params is the number of learned values (BN statistics excluded).
	Params int `json:"params"`
	// WeightsFile is the object name of the weights inside the version.
	WeightsFile   string `json:"weights_file"`
	WeightsSHA256 string `json:"weights_sha256"`
	WeightsSize   int64  `json:"weights_size"`
	// Source describes what the version was converted from.
	Source    Source    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// Source is the provenance of a version.
type Source struct {
	// Format is one of "pdparams", "pdmodel", "pir" (inference.json),
	// optionally packed as "tar".
	Format string `json:"format"`
	// Name is the file or directory the user gave, without directories.
	Name   string `json:"name,omitempty"`
	SHA256 string `json:"sha256"`
}

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
