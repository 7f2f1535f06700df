package client

// Bodies of the KServe v2 / Open Inference Protocol that its binary tensor
// data extension and server metadata add to the ones in types.go.

// V2ServerMetadata answers GET /v2.
type V2ServerMetadata struct {
	Name    string `json:"name" example:"lcnet"`
	Version string `json:"version" example:"v1.2.0"`
	// Extensions are the protocol extensions the server supports.
	Extensions []string `json:"extensions"`
} // @name api.V2ServerMetadata

// V2InputParameters are an input tensor's parameters. BinaryDataSize, when
// set, says the tensor's values are not in "data" but follow the JSON
// header as that many bytes of little-endian FP32 or FP16.
type V2InputParameters struct {
	BinaryDataSize *int64 `json:"binary_data_size,omitempty" example:"12288"`
} // @name api.V2InputParameters

// V2RequestedOutputParameters ask for one output as binary (true) or JSON
// (false); unset follows the request's binary_data_output.
type V2RequestedOutputParameters struct {
	BinaryData *bool `json:"binary_data,omitempty"`
} // @name api.V2RequestedOutputParameters

// V2RequestParameters are an inference request's parameters.
// BinaryDataOutput sends every output not named otherwise as binary.
type V2RequestParameters struct {
	BinaryDataOutput bool `json:"binary_data_output,omitempty"`
} // @name api.V2RequestParameters

// V2OutputParameters are an output tensor's parameters. BinaryDataSize is
// set when the output's values follow the JSON header as that many bytes
// of little-endian FP32, in the order of the outputs.
type V2OutputParameters struct {
	BinaryDataSize int64 `json:"binary_data_size,omitempty" example:"12"`
} // @name api.V2OutputParameters
