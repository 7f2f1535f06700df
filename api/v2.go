package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/nn"
)

// v2Live godoc
//
//	@Summary	Server liveness (KServe v2)
//	@Tags		v2
//	@Produce	json
//	@Success	200	{object}	client.V2Live
//	@Router		/v2/health/live [get]
func (s *Server) v2Live(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, client.V2Live{Live: true})
	return nil
}

// v2Ready godoc
//
//	@Summary		Server readiness (KServe v2)
//	@Description	Ready while the server accepts requests and can read its store; 503 while draining.
//	@Tags			v2
//	@Produce		json
//	@Success		200	{object}	client.V2Ready
//	@Failure		503	{object}	client.V2Ready
//	@Router			/v2/health/ready [get]
func (s *Server) v2Ready(w http.ResponseWriter, r *http.Request) error {
	ok := s.ready(r)
	writeJSON(w, readyStatus(ok), client.V2Ready{Ready: ok})
	return nil
}

func readyStatus(ok bool) int {
	if ok {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// v2Metadata godoc
//
//	@Summary		Model metadata (KServe v2)
//	@Description	The input tensor (FP32, NCHW, any name; "x" as in Paddle's programs) and the four outputs.
//	@Tags			v2
//	@Produce		json
//	@Param			name	path		string	true	"Model name"
//	@Success		200		{object}	client.V2ModelMetadata
//	@Failure		404		{object}	client.Problem
//	@Router			/v2/models/{name} [get]
func (s *Server) v2Metadata(w http.ResponseWriter, r *http.Request) error {
	name, version := chi.URLParam(r, "name"), chi.URLParam(r, "version")
	m, err := s.resolve(r.Context(), name, version)
	if err != nil {
		return err
	}
	mv, err := s.findModel(r.Context(), name)
	if err != nil {
		return err
	}
	versions := make([]string, 0, len(mv.Versions))
	for _, v := range mv.Versions {
		versions = append(versions, v.Version)
	}
	if version != "" {
		versions = []string{m.Version}
	}
	h, wd := m.Arch.InputSize(m.Preprocess)
	classes := int64(m.Arch.ClassNum)
	writeJSON(w, http.StatusOK, client.V2ModelMetadata{
		Name:     m.Name,
		Versions: versions,
		Platform: "lcnet",
		Inputs:   []client.V2TensorMetadata{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 3, int64(h), int64(wd)}}},
		Outputs: []client.V2TensorMetadata{
			{Name: "logits", Datatype: "FP32", Shape: []int64{-1, classes}},
			{Name: "probabilities", Datatype: "FP32", Shape: []int64{-1, classes}},
			{Name: "features", Datatype: "FP32", Shape: []int64{-1, int64(m.Arch.FeatureDim())}},
			{Name: "pooled", Datatype: "FP32", Shape: []int64{-1, int64(m.Arch.LastChannels())}},
		},
	})
	return nil
}

// v2MetadataVersion godoc
//
//	@Summary	Model version metadata (KServe v2)
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"Model name"
//	@Param		version	path		string	true	"Version"
//	@Success	200		{object}	client.V2ModelMetadata
//	@Failure	404		{object}	client.Problem
//	@Router		/v2/models/{name}/versions/{version} [get]
func (s *Server) v2MetadataVersion(w http.ResponseWriter, r *http.Request) error {
	return s.v2Metadata(w, r)
}

// v2ModelReady godoc
//
//	@Summary		Model readiness (KServe v2)
//	@Description	200 once the model is loaded. The first call starts loading it and answers 503 with Retry-After until it is.
//	@Tags			v2
//	@Produce		json
//	@Param			name	path		string	true	"Model name"
//	@Success		200		{object}	client.V2Ready
//	@Failure		404		{object}	client.Problem
//	@Failure		503		{object}	client.V2Ready
//	@Router			/v2/models/{name}/ready [get]
func (s *Server) v2ModelReady(w http.ResponseWriter, r *http.Request) error {
	m, err := s.resolve(r.Context(), chi.URLParam(r, "name"), chi.URLParam(r, "version"))
	if err != nil {
		return err
	}
	if s.cache.loaded(m) {
		writeJSON(w, http.StatusOK, client.V2Ready{Name: m.Name, Ready: true})
		return nil
	}
	if _, err := s.cache.start(m); err != nil {
		return err
	}
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, client.V2Ready{Name: m.Name, Ready: false})
	return nil
}

// v2ModelVersionReady godoc
//
//	@Summary	Model version readiness (KServe v2)
//	@Tags		v2
//	@Produce	json
//	@Param		name	path		string	true	"Model name"
//	@Param		version	path		string	true	"Version"
//	@Success	200		{object}	client.V2Ready
//	@Failure	404		{object}	client.Problem
//	@Failure	503		{object}	client.V2Ready
//	@Router		/v2/models/{name}/versions/{version}/ready [get]
func (s *Server) v2ModelVersionReady(w http.ResponseWriter, r *http.Request) error {
	return s.v2ModelReady(w, r)
}

// v2InputWire is client.V2InferInput as read: the data stays raw so flat and
// nested arrays both parse, fast, without an []any per number.
type v2InputWire struct {
	Name       string                    `json:"name"`
	Shape      []int64                   `json:"shape"`
	Datatype   string                    `json:"datatype"`
	Data       json.RawMessage           `json:"data"`
	Parameters *client.V2InputParameters `json:"parameters"`
}

// v2InferRequestWire is client.V2InferRequest as read.
type v2InferRequestWire struct {
	ID         string                      `json:"id"`
	Inputs     []v2InputWire               `json:"inputs"`
	Outputs    []client.V2RequestedOutput  `json:"outputs"`
	Parameters *client.V2RequestParameters `json:"parameters"`
}

// v2Infer godoc
//
//	@Summary		Run the network on a tensor (KServe v2)
//	@Description	One FP32 or FP16 input of shape [N, 3, H, W], already normalized, with data flat or nested in row-major order, or as little-endian binary after the JSON (binary tensor data extension: the Inference-Header-Content-Length header gives the JSON's length and the input's parameters.binary_data_size the bytes that follow); any input name. Outputs logits, probabilities, features and pooled, or those named in "outputs"; outputs asked for as binary (parameters.binary_data, or binary_data_output on the request) follow the JSON as little-endian FP32, and the response then has Content-Type application/octet-stream and Inference-Header-Content-Length.
//	@Tags			v2
//	@Accept			json
//	@Accept			octet-stream
//	@Produce		json
//	@Produce		octet-stream
//	@Param			name							path		string			true	"Model name"
//	@Param			Inference-Header-Content-Length	header		int				false	"Length of the JSON header when binary tensor data follows it"
//	@Param			request							body		client.V2InferRequest	true	"Input tensor"
//	@Success		200								{object}	client.V2InferResponse
//	@Failure		400								{object}	client.Problem	"wrong shape, datatype, binary size or output name"
//	@Failure		404								{object}	client.Problem
//	@Failure		408								{object}	client.Problem	"the body arrived slower than the request deadline allows"
//	@Failure		413								{object}	client.Problem	"body larger than the server's limit"
//	@Failure		422								{object}	client.Problem	"the model produced NaN or Inf (JSON has no literal for them; never sent as a 200)"
//	@Failure		429								{object}	client.Problem
//	@Failure		503								{object}	client.Problem
//	@Router			/v2/models/{name}/infer [post]
func (s *Server) v2Infer(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body) // bounded by maxBody
	if err != nil {
		return wrapBodyErr("reading body", err)
	}
	header, bin, err := splitInferBody(body, r.Header.Get(inferHeaderLength))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(header)) == 0 {
		return problemf(http.StatusBadRequest, "empty body: send {\"inputs\": [{\"name\": \"x\", \"shape\": [N, 3, H, W], \"datatype\": \"FP32\", \"data\": [...]}]}")
	}
	var req v2InferRequestWire
	if err := json.Unmarshal(header, &req); err != nil {
		return problemf(http.StatusBadRequest, "decoding JSON body: %v", err)
	}
	// The model is looked up before the data is read, so a request for a
	// model that does not exist costs nothing past its JSON.
	name, version := chi.URLParam(r, "name"), chi.URLParam(r, "version")
	if _, err := s.resolve(r.Context(), name, version); err != nil {
		return err
	}
	if len(req.Inputs) != 1 {
		return problemf(http.StatusBadRequest, "want exactly one input tensor, got %d", len(req.Inputs))
	}
	in := req.Inputs[0]
	if in.Datatype != "FP32" && in.Datatype != "FP16" {
		return problemf(http.StatusBadRequest, "input %q: datatype must be FP32 or FP16, got %q", in.Name, in.Datatype)
	}
	if len(in.Shape) != 4 || in.Shape[1] != 3 {
		return problemf(http.StatusBadRequest, "input %q: shape must be [N, 3, H, W], got %v", in.Name, in.Shape)
	}
	n, h, wd := in.Shape[0], in.Shape[2], in.Shape[3]
	// 4096 bounds the work and memory one request can ask for.
	const minSide, maxSide = nn.MinInputSize, 4096
	if n < 1 || n > int64(s.cfg.MaxImages) {
		return problemf(http.StatusBadRequest, "input %q: batch size %d must be in 1..%d", in.Name, n, s.cfg.MaxImages)
	}
	if h < minSide || wd < minSide || h > maxSide || wd > maxSide {
		return problemf(http.StatusBadRequest, "input %q: height and width must be in %d..%d, got %dx%d", in.Name, minSide, maxSide, h, wd)
	}
	want := int(n * 3 * h * wd)
	x, err := inputValues(in, bin, want)
	if err != nil {
		return problemf(http.StatusBadRequest, "input %q: %w", in.Name, err)
	}
	if len(x) != want {
		return problemf(http.StatusBadRequest, "input %q: shape %v needs %d values, data has %d", in.Name, in.Shape, want, len(x))
	}
	binaryAll := req.Parameters != nil && req.Parameters.BinaryDataOutput
	outs := []client.V2RequestedOutput{{Name: "logits"}, {Name: "probabilities"}, {Name: "features"}, {Name: "pooled"}}
	if len(req.Outputs) > 0 {
		outs = req.Outputs
		for _, o := range outs {
			switch o.Name {
			case "logits", "probabilities", "features", "pooled":
			default:
				return problemf(http.StatusBadRequest, "unknown output %q: want logits, probabilities, features or pooled", o.Name)
			}
		}
	}
	e, err := s.loadRef(r.Context(), name, version)
	if err != nil {
		return err
	}
	out, err := s.run(r.Context(), e, x, int(n), int(h), int(wd), false)
	if err != nil {
		return err
	}
	resp := client.V2InferResponse{ModelName: e.m.Name, ModelVersion: e.m.Version, ID: req.ID}
	var binOut [][]float32
	for _, o := range outs {
		var data []float32
		var dim int
		switch o.Name {
		case "logits":
			data, dim = out.Logits, out.Classes
		case "probabilities":
			data, dim = out.Probabilities, out.Classes
		case "features":
			data, dim = out.Features, out.FeatureDim
		case "pooled":
			data, dim = out.Pooled, out.PooledDim
		}
		t := client.V2InferOutput{Name: o.Name, Datatype: "FP32", Shape: []int64{n, int64(dim)}, Data: data}
		asBinary := binaryAll
		if o.Parameters != nil && o.Parameters.BinaryData != nil {
			asBinary = *o.Parameters.BinaryData
		}
		if asBinary {
			t.Data = nil
			t.Parameters = &client.V2OutputParameters{BinaryDataSize: int64(4 * len(data))}
			binOut = append(binOut, data)
		}
		resp.Outputs = append(resp.Outputs, t)
	}
	return writeV2Infer(w, e.m, resp, binOut)
}

// v2InferVersion godoc
//
//	@Summary	Run a model version on a tensor (KServe v2)
//	@Tags		v2
//	@Accept		json
//	@Accept		octet-stream
//	@Produce	json
//	@Produce	octet-stream
//	@Param		name							path		string			true	"Model name"
//	@Param		version							path		string			true	"Version"
//	@Param		Inference-Header-Content-Length	header		int				false	"Length of the JSON header when binary tensor data follows it"
//	@Param		request							body		client.V2InferRequest	true	"Input tensor"
//	@Success	200		{object}	client.V2InferResponse
//	@Failure	400		{object}	client.Problem
//	@Failure	404		{object}	client.Problem
//	@Failure	408		{object}	client.Problem
//	@Failure	413		{object}	client.Problem
//	@Failure	422		{object}	client.Problem	"the model produced NaN or Inf"
//	@Failure	429		{object}	client.Problem
//	@Failure	503		{object}	client.Problem
//	@Router		/v2/models/{name}/versions/{version}/infer [post]
func (s *Server) v2InferVersion(w http.ResponseWriter, r *http.Request) error {
	return s.v2Infer(w, r)
}

var errNotArray = errors.New("data must be an array of numbers")

// parseFloats reads a JSON array of numbers, nested to any depth, in
// row-major order. It stops early past max values so a huge body cannot
// make it allocate more than the declared shape needs.
func parseFloats(raw json.RawMessage, max int) ([]float32, error) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || b[0] != '[' {
		return nil, errNotArray
	}
	// Room for what the bytes can hold ("0," per value), not for what a
	// shape declares: the two differ when a client lies.
	out := make([]float32, 0, min(max, len(b)/2+1))
	depth := 0
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '[':
			depth++
			i++
		case c == ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ] at byte %d", i)
			}
			i++
		case c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
		case c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9'):
			j := i
			for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9')) {
				j++
			}
			v, err := strconv.ParseFloat(string(b[i:j]), 32)
			if err != nil {
				return nil, fmt.Errorf("value %d: %q is not a number", len(out), b[i:j])
			}
			if len(out) == max {
				return nil, fmt.Errorf("data has more than the %d values the shape needs", max)
			}
			out = append(out, float32(v))
			i = j
		default:
			return nil, fmt.Errorf("value %d: unexpected %q at byte %d: %w", len(out), c, i, errNotArray)
		}
		if depth == 0 {
			if len(bytes.TrimSpace(b[i:])) != 0 {
				return nil, fmt.Errorf("trailing data after the array at byte %d", i)
			}
			break
		}
	}
	if depth != 0 {
		return nil, errors.New("unterminated array")
	}
	return out, nil
}
