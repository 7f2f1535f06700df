package client

import "time"

// This file holds every request and response body of the HTTP API. The
// server (package api), its swag annotations (and so the OpenAPI document),
// this client and the CLI all use these types, so the wire format is
// defined once. Each struct ends in "@name api.X": swag names a definition
// after its type's package, and the published document calls them api.X;
// clients generated from it take their type names from there.

// Prediction is one class of a classification, most probable first.
type Prediction struct {
	ClassID int    `json:"class_id" example:"0"`
	Label   string `json:"label" example:"0_degree"`
	// Score is the softmax probability of the class, or for a multi-label
	// model the sigmoid of its logit, scored on its own.
	Score float64 `json:"score" example:"0.9987"`
	// Positive, on multi-label models only, says whether Score reaches
	// the response's threshold.
	Positive *bool `json:"positive,omitempty" example:"true"`
} // @name api.Prediction

// ClassifyResult is the top-k of one input image.
type ClassifyResult struct {
	Predictions []Prediction `json:"predictions"`
} // @name api.ClassifyResult

// ClassifyResponse answers POST /v1/models/{name}/classify and POST /classify,
// with one result per image, in the order the images were sent.
type ClassifyResponse struct {
	Model   string `json:"model" example:"textline"`
	Version string `json:"version" example:"1"`
	// MultiLabel and Threshold are set for a multi-label model: every
	// prediction then carries Positive, Score >= Threshold.
	MultiLabel bool             `json:"multi_label,omitempty"`
	Threshold  float64          `json:"threshold,omitempty" example:"0.5"`
	Results    []ClassifyResult `json:"results"`
} // @name api.ClassifyResponse

// FeaturesResult is the feature vector of one input image.
type FeaturesResult struct {
	Features []float32 `json:"features"`
} // @name api.FeaturesResult

// FeaturesResponse answers POST /v1/models/{name}/features and POST /features.
type FeaturesResponse struct {
	Model   string `json:"model" example:"textline"`
	Version string `json:"version" example:"1"`
	// Dim is the length of every feature vector.
	Dim     int              `json:"dim" example:"1280"`
	Results []FeaturesResult `json:"results"`
} // @name api.FeaturesResponse

// ImagesRequest is the JSON form of classify and features input.
type ImagesRequest struct {
	// Images are encoded image files (JPEG, PNG, GIF, BMP, WebP, TIFF), base64.
	Images []string `json:"images"`
	// Model, for POST /classify and /features only, is NAME or NAME:VERSION.
	Model string `json:"model,omitempty" example:"textline:1"`
} // @name api.ImagesRequest

// VersionInfo describes one immutable model version.
type VersionInfo struct {
	Version string `json:"version" example:"1"`
	// Architecture names the network, e.g. "PPLCNet_x0_25".
	Architecture string  `json:"architecture" example:"PPLCNet_x0_25"`
	Scale        float64 `json:"scale" example:"0.25"`
	// InputHeight and InputWidth are the size preprocessing produces.
	InputHeight int    `json:"input_height" example:"80"`
	InputWidth  int    `json:"input_width" example:"160"`
	DType       string `json:"dtype" example:"fp32"`
	LabelCount  int    `json:"label_count" example:"2"`
	// FeatureDim and PooledDim are the lengths of the two feature layers.
	FeatureDim    int    `json:"feature_dim" example:"1280"`
	PooledDim     int    `json:"pooled_dim" example:"128"`
	Params        int    `json:"params" example:"230000"`
	WeightsSHA256 string `json:"weights_sha256"`
	WeightsSize   int64  `json:"weights_size"`
	SourceFormat  string `json:"source_format,omitempty" example:"pir"`
	// ArchSource says where the architecture came from: "program",
	// "config" (a training config given with a .pdparams), "given", or
	// "default" (PaddleClas' ImageNet strides and 224x224, assumed).
	ArchSource string `json:"arch_source,omitempty" example:"program"`
	// MultiLabel marks a model whose head ends in a sigmoid (PaddleClas
	// use_multilabel): scores are per class and do not sum to 1, and
	// Threshold is where classify calls a label positive.
	MultiLabel bool      `json:"multi_label,omitempty"`
	Threshold  float64   `json:"threshold,omitempty" example:"0.5"`
	CreatedAt  time.Time `json:"created_at"`
	// Lineage is set on versions fine-tuned from another (lcnet train,
	// POST /v1/models/{name}/finetune).
	Lineage *Lineage `json:"lineage,omitempty"`
} // @name api.VersionInfo

// Lineage says what a fine-tuned version was trained from, on what data,
// how, and how well (the accuracies of the kept epoch; -1: no validation).
type Lineage struct {
	BaseName          string `json:"base_name" example:"PPLCNet_x1_0"`
	BaseVersion       string `json:"base_version" example:"1"`
	BaseWeightsSHA256 string `json:"base_weights_sha256"`
	DatasetSHA256     string `json:"dataset_sha256"`
	ValDatasetSHA256  string `json:"val_dataset_sha256,omitempty"`
	TrainImages       int    `json:"train_images" example:"128"`
	ValImages         int    `json:"val_images" example:"32"`
	// Layer is "features" (1280-wide embedding) or "pooled" (last_conv
	// dropped); LayerValAccuracy, when the layer was chosen by validation
	// (layer "auto"), the best validation accuracy of each.
	Layer            string             `json:"layer" example:"pooled" enums:"features,pooled"`
	LayerValAccuracy map[string]float64 `json:"layer_val_accuracy,omitempty"`
	Augment          []string           `json:"augment,omitempty" example:"flip"`
	Epochs           int                `json:"epochs" example:"30"`
	LR               float64            `json:"lr" example:"0.001"`
	Batch            int                `json:"batch" example:"32"`
	WeightDecay      float64            `json:"weight_decay"`
	Seed             uint64             `json:"seed" example:"1"`
	Optimizer        string             `json:"optimizer" example:"adam"`
	ValSplit         float64            `json:"val_split,omitempty" example:"0.2"`
	BestEpoch        int                `json:"best_epoch" example:"12"`
	TrainAccuracy    float64            `json:"train_accuracy" example:"0.98"`
	ValAccuracy      float64            `json:"val_accuracy" example:"0.95"`
} // @name api.Lineage

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
	JobCanceled  = "canceled"
)

// Job is a fine-tuning job (GET /v1/jobs/{id}).
type Job struct {
	ID    string `json:"id" example:"5f0c8a3e9b1d4c27a6e2f1b0c9d8e7f6"`
	State string `json:"state" example:"running" enums:"queued,running,succeeded,failed,canceled"`
	// Base is the model trained from, Name the model being created.
	Base string `json:"base" example:"PPLCNet_x1_0:1"`
	Name string `json:"name" example:"flowers"`
	// Stage is "extract" (images through the backbone, Done of Total
	// images) or "train" (Done of Total epochs).
	Stage string `json:"stage,omitempty" example:"train" enums:"extract,train"`
	Done  int    `json:"done" example:"12"`
	Total int    `json:"total" example:"30"`
	// The last finished epoch's numbers and the layer it trained on;
	// ValAccuracy and ValLoss are -1 without validation.
	Layer         string  `json:"layer,omitempty" example:"pooled"`
	Epoch         int     `json:"epoch" example:"12"`
	TrainLoss     float64 `json:"train_loss" example:"0.21"`
	TrainAccuracy float64 `json:"train_accuracy" example:"0.97"`
	ValAccuracy   float64 `json:"val_accuracy" example:"0.94"`
	ValLoss       float64 `json:"val_loss" example:"0.18"`
	// Images is the number of images in the upload, Skipped those that
	// did not decode.
	Images  int `json:"images" example:"160"`
	Skipped int `json:"skipped" example:"0"`
	// Model is the NAME:VERSION created, once succeeded.
	Model      string     `json:"model,omitempty" example:"flowers:1"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
} // @name api.Job

// FinetuneOptions are the form fields of POST /v1/models/{name}/finetune
// besides the archive; zero values take the server's defaults.
type FinetuneOptions struct {
	Name        string  // the new model (required)
	Epochs      int     // default 30
	LR          float64 // default 1e-3
	Batch       int     // default 32
	WeightDecay float64
	Seed        uint64  // default 1
	ValSplit    float64 // default 0.2; negative sends 0 (no validation)
	Augment     string  // "flip", "crop" or "flip,crop"
	Layer       string  // "features" (default) or "pooled"
	DType       string  // "fp32" or "fp16"; default the base's
}

// Model is one named model with all its versions, oldest first.
type Model struct {
	Name     string        `json:"name" example:"textline"`
	Latest   string        `json:"latest" example:"2"`
	Versions []VersionInfo `json:"versions"`
	// Pull is set while the server is downloading the model (--pull).
	Pull *PullProgress `json:"pull,omitempty"`
} // @name api.Model

// PullProgress reports a download under way; Total is -1 while unknown.
type PullProgress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
} // @name api.PullProgress

// ModelList answers GET /v1/models.
type ModelList struct {
	Models []Model `json:"models"`
	// Default is the model POST /classify uses when none is named ("" if
	// several are served and none is the default).
	Default string `json:"default,omitempty"`
} // @name api.ModelList

// Problem is an RFC 9457 application/problem+json error body.
type Problem struct {
	Type   string `json:"type" example:"about:blank"`
	Title  string `json:"title" example:"Not Found"`
	Status int    `json:"status" example:"404"`
	Detail string `json:"detail" example:"model \"nope\" not found"`
	// Instance is the request path.
	Instance string `json:"instance,omitempty" example:"/v1/models/nope"`
	// Models lists the names to pick from when a request did not say which
	// model to use and the server has no default.
	Models []string `json:"models,omitempty"`
	// Error repeats Detail on /v2 routes, where KServe v2 clients look for it.
	Error string `json:"error,omitempty"`
} // @name api.Problem

// Health answers /healthz and /readyz.
type Health struct {
	Status string `json:"status" example:"ok"`
} // @name api.Health

// V2Live answers GET /v2/health/live (KServe v2).
type V2Live struct {
	Live bool `json:"live"`
} // @name api.V2Live

// V2Ready answers GET /v2/health/ready and /v2/models/{name}/ready.
type V2Ready struct {
	// Name is the model's, on /v2/models/{name}[/versions/{version}]/ready.
	Name  string `json:"name,omitempty" example:"textline"`
	Ready bool   `json:"ready"`
} // @name api.V2Ready

// V2TensorMetadata describes an input or output tensor; -1 is a free size.
type V2TensorMetadata struct {
	Name     string  `json:"name" example:"x"`
	Datatype string  `json:"datatype" example:"FP32"`
	Shape    []int64 `json:"shape"`
} // @name api.V2TensorMetadata

// V2ModelMetadata answers GET /v2/models/{name}[/versions/{version}].
type V2ModelMetadata struct {
	Name     string             `json:"name"`
	Versions []string           `json:"versions"`
	Platform string             `json:"platform" example:"lcnet"`
	Inputs   []V2TensorMetadata `json:"inputs"`
	Outputs  []V2TensorMetadata `json:"outputs"`
} // @name api.V2ModelMetadata

// V2InferInput is the one FP32 NCHW input tensor of an inference request.
type V2InferInput struct {
	Name     string  `json:"name" example:"x"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype" example:"FP32" enums:"FP32,FP16"`
	// Data holds the values in row-major order; the server also accepts
	// them nested ([[[[...]]]]), as KServe clients often send. It is left
	// out when the values follow the JSON as binary (binary_data_size).
	Data       []float32          `json:"data,omitempty"`
	Parameters *V2InputParameters `json:"parameters,omitempty"`
} // @name api.V2InferInput

// V2RequestedOutput names one output to return.
type V2RequestedOutput struct {
	Name       string                       `json:"name" example:"probabilities"`
	Parameters *V2RequestedOutputParameters `json:"parameters,omitempty"`
} // @name api.V2RequestedOutput

// V2InferRequest is the body of POST /v2/models/{name}/infer.
type V2InferRequest struct {
	ID     string         `json:"id,omitempty"`
	Inputs []V2InferInput `json:"inputs"`
	// Outputs selects among logits, probabilities, features and pooled;
	// empty means all four.
	Outputs    []V2RequestedOutput  `json:"outputs,omitempty"`
	Parameters *V2RequestParameters `json:"parameters,omitempty"`
} // @name api.V2InferRequest

// V2InferOutput is one output tensor, flat row-major data.
type V2InferOutput struct {
	Name     string  `json:"name" example:"probabilities"`
	Shape    []int64 `json:"shape"`
	Datatype string  `json:"datatype" example:"FP32"`
	// Data is left out when the output is sent as binary after the JSON.
	Data       []float32           `json:"data,omitempty"`
	Parameters *V2OutputParameters `json:"parameters,omitempty"`
} // @name api.V2InferOutput

// V2InferResponse answers POST /v2/models/{name}/infer.
type V2InferResponse struct {
	ModelName    string          `json:"model_name"`
	ModelVersion string          `json:"model_version"`
	ID           string          `json:"id,omitempty"`
	Outputs      []V2InferOutput `json:"outputs"`
} // @name api.V2InferResponse
