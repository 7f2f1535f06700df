// Package zoo is lcnet's model registry: named, immutable versions of
// PP-LCNet models, each a safetensors weights file and a manifest, kept in a
// storage.Store.
package zoo

import (
	"time"

	"github.com/lcnet/lcnet/arch"
)

// DType is how a version stores its weights on disk and in memory.
type DType string

const (
	FP32 DType = "fp32"
	FP16 DType = "fp16"
)

// DefaultThreshold is PaddleClas' MultiLabelThreshOutput threshold, used
// when a multi-label model's inference.yml names none.
const DefaultThreshold = 0.5

// Manifest describes one immutable model version. It is written last, after
// the weights, so a version without a manifest does not exist.
type Manifest struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Arch    arch.Arch `json:"architecture"`
	// Labels has one name per class; empty means "class N".
	Labels     []string        `json:"labels,omitempty"`
	Preprocess arch.Preprocess `json:"preprocess"`
	// Threshold is where a multi-label model (Arch.MultiLabel) calls a
	// label positive, from inference.yml's PostProcess; 0 means
	// DefaultThreshold.
	Threshold float64 `json:"threshold,omitempty"`
	DType     DType   `json:"dtype"`
	// Params is the number of learned values (BN statistics excluded).
	Params int `json:"params"`
	// WeightsFile is the object name of the weights inside the version.
	WeightsFile   string `json:"weights_file"`
	WeightsSHA256 string `json:"weights_sha256"`
	WeightsSize   int64  `json:"weights_size"`
	// Source describes what the version was converted from.
	Source    Source    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
	// Lineage is set on versions trained from another version (lcnet
	// train): what they were trained from, on what, and how well.
	Lineage *Lineage `json:"lineage,omitempty"`
}

// Lineage records how a fine-tuned version was made: its base, the data,
// the hyperparameters and the accuracies it reached.
type Lineage struct {
	BaseName          string `json:"base_name"`
	BaseVersion       string `json:"base_version"`
	BaseWeightsSHA256 string `json:"base_weights_sha256"`
	// DatasetSHA256 digests the training set as given (before any
	// validation split); ValDatasetSHA256 a separately given validation set.
	DatasetSHA256    string `json:"dataset_sha256"`
	ValDatasetSHA256 string `json:"val_dataset_sha256,omitempty"`
	// TrainImages and ValImages count the images used (undecodable ones
	// excluded), before augmentation.
	TrainImages int             `json:"train_images"`
	ValImages   int             `json:"val_images"`
	Hyper       Hyperparameters `json:"hyperparameters"`
	// The accuracies are those of the kept epoch, BestEpoch (1-based);
	// ValAccuracy is -1 without a validation set.
	TrainAccuracy float64 `json:"train_accuracy"`
	ValAccuracy   float64 `json:"val_accuracy"`
	BestEpoch     int     `json:"best_epoch"`
	Epochs        int     `json:"epochs_run"`
}

// Hyperparameters are the training options of a Lineage.
type Hyperparameters struct {
	Epochs      int      `json:"epochs"`
	LR          float64  `json:"lr"`
	Batch       int      `json:"batch"`
	WeightDecay float64  `json:"weight_decay"`
	Seed        uint64   `json:"seed"`
	Optimizer   string   `json:"optimizer"`
	ValSplit    float64  `json:"val_split,omitempty"`
	Augment     []string `json:"augment,omitempty"`
	// Layer is the backbone output the head was trained on: "features"
	// (after last_conv) or "pooled" (the global pool; last_conv is dropped).
	Layer string `json:"layer"`
	// LayerScores holds, when the layer was chosen by validation (layer
	// "auto"), the best validation accuracy of a head on each layer.
	LayerScores map[string]float64 `json:"layer_val_accuracy,omitempty"`
}

// Source is the provenance of a version.
type Source struct {
	// Format is one of "pdparams", "pdmodel", "pir" (inference.json),
	// optionally packed as "tar".
	Format string `json:"format"`
	// Name is the file or directory the user gave, without directories.
	Name   string `json:"name,omitempty"`
	SHA256 string `json:"sha256"`
	// Arch says where the architecture came from: ArchProgram,
	// ArchConfig, ArchGiven or ArchDefault. Empty in manifests written
	// before lcnet recorded it.
	Arch ArchSource `json:"arch,omitempty"`
}

// ArchSource is where a version's architecture came from.
type ArchSource string

const (
	// ArchProgram: read from the inference program, which states every
	// stride and size.
	ArchProgram ArchSource = "program"
	// ArchConfig: built from a PaddleClas training config and checked
	// against the tensors.
	ArchConfig ArchSource = "config"
	// ArchGiven: set by the caller of the import (ImportOptions.Arch or
	// StrideList).
	ArchGiven ArchSource = "given"
	// ArchDefault: widths from the tensor shapes, strides and input size
	// assumed to be PaddleClas' ImageNet defaults (stride 2, 224x224),
	// which a dygraph checkpoint cannot confirm.
	ArchDefault ArchSource = "default"
)

// DecisionThreshold is the threshold a multi-label model's labels are
// called positive at.
func (m Manifest) DecisionThreshold() float64 {
	if m.Threshold > 0 {
		return m.Threshold
	}
	return DefaultThreshold
}
