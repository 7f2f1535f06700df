package api

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/zoo"
)

// listModels godoc
//
//	@Summary		List models
//	@Description	Every model in the zoo with all its versions (oldest first): architecture, input size, dtype, label count.
//	@Tags			models
//	@Produce		json
//	@Success		200	{object}	client.ModelList
//	@Failure		500	{object}	client.Problem
//	@Router			/v1/models [get]
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.be.models(r.Context())
	if err != nil {
		return err
	}
	out := client.ModelList{Models: make([]client.Model, 0, len(ms))}
	for _, m := range ms {
		out.Models = append(out.Models, modelOf(m))
	}
	if s.cfg.DefaultModel != "" {
		out.Default = s.cfg.DefaultModel
	} else if len(ms) == 1 {
		out.Default = ms[0].Name
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getModel godoc
//
//	@Summary		Describe a model
//	@Description	The model's versions, or only the one named by ?version=. While the server is pulling the model (--pull), the download's progress.
//	@Tags			models
//	@Produce		json
//	@Param			name	path		string	true	"Model name"
//	@Param			version	query		string	false	"Only this version"
//	@Success		200		{object}	client.Model
//	@Failure		404		{object}	client.Problem
//	@Router			/v1/models/{name} [get]
func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	name, version := chi.URLParam(r, "name"), r.URL.Query().Get("version")
	var progress *client.PullProgress
	if s.cfg.Puller != nil {
		if done, total, ok := s.cfg.Puller.Progress(name); ok {
			progress = &client.PullProgress{Done: done, Total: total}
		}
	}
	mv, err := s.findModel(r.Context(), name)
	if err != nil {
		if progress != nil {
			writeJSON(w, http.StatusOK, client.Model{Name: name, Versions: []client.VersionInfo{}, Pull: progress})
			return nil
		}
		return err
	}
	out := modelOf(mv)
	out.Pull = progress
	if version != "" {
		m, err := s.be.resolve(r.Context(), name, version)
		if err != nil {
			return err
		}
		out.Versions = []client.VersionInfo{versionOf(m)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) findModel(ctx context.Context, name string) (modelVersions, error) {
	ms, err := s.be.models(ctx)
	if err != nil {
		return modelVersions{}, err
	}
	for _, m := range ms {
		if m.Name == name {
			return m, nil
		}
	}
	return modelVersions{}, fmt.Errorf("model %q: %w", name, zoo.ErrNotFound)
}

func modelOf(m modelVersions) client.Model {
	out := client.Model{Name: m.Name, Latest: m.Latest, Versions: make([]client.VersionInfo, 0, len(m.Versions))}
	for _, v := range m.Versions {
		out.Versions = append(out.Versions, versionOf(v))
	}
	return out
}

func versionOf(m zoo.Manifest) client.VersionInfo {
	h, w := m.Arch.InputSize(m.Preprocess)
	labels := len(m.Labels)
	if labels == 0 {
		labels = m.Arch.ClassNum
	}
	v := client.VersionInfo{
		Version:       m.Version,
		Architecture:  "PPLCNet_x" + m.Arch.ScaleName(),
		Scale:         m.Arch.Scale,
		InputHeight:   h,
		InputWidth:    w,
		DType:         string(m.DType),
		LabelCount:    labels,
		FeatureDim:    m.Arch.FeatureDim(),
		PooledDim:     m.Arch.LastChannels(),
		Params:        m.Params,
		WeightsSHA256: m.WeightsSHA256,
		WeightsSize:   m.WeightsSize,
		SourceFormat:  m.Source.Format,
		ArchSource:    string(m.Source.Arch),
		CreatedAt:     m.CreatedAt,
		Lineage:       lineageOf(m.Lineage),
	}
	if m.Arch.MultiLabel {
		v.MultiLabel, v.Threshold = true, m.DecisionThreshold()
	}
	return v
}

func lineageOf(l *zoo.Lineage) *client.Lineage {
	if l == nil {
		return nil
	}
	h := l.Hyper
	return &client.Lineage{
		BaseName: l.BaseName, BaseVersion: l.BaseVersion, BaseWeightsSHA256: l.BaseWeightsSHA256,
		DatasetSHA256: l.DatasetSHA256, ValDatasetSHA256: l.ValDatasetSHA256,
		TrainImages: l.TrainImages, ValImages: l.ValImages,
		Layer: h.Layer, LayerValAccuracy: h.LayerScores, Augment: h.Augment, Epochs: h.Epochs, LR: h.LR, Batch: h.Batch, WeightDecay: h.WeightDecay,
		Seed: h.Seed, Optimizer: h.Optimizer, ValSplit: h.ValSplit,
		BestEpoch: l.BestEpoch, TrainAccuracy: l.TrainAccuracy, ValAccuracy: l.ValAccuracy,
	}
}

// classifyNamed godoc
//
//	@Summary		Classify images
//	@Description	Top-k classes of one or several images. Send multipart/form-data with one or more "image" fields, a raw body with an image Content-Type, or JSON {"images": ["<base64>", ...]}. JPEG, PNG, GIF, BMP, WebP and TIFF; EXIF orientation is applied; grayscale, alpha and CMYK become RGB; preprocessing follows the model's manifest.
//	@Tags			inference
//	@Accept			mpfd
//	@Accept			json
//	@Accept			image/jpeg
//	@Accept			image/png
//	@Produce		json
//	@Param			name	path		string	true	"Model name"
//	@Param			version	query		string	false	"Version (default: latest)"
//	@Param			top_k	query		int		false	"Classes per image (default 5; every class on a multi-label model)"	minimum(1)
//	@Param			threshold	query	number	false	"Multi-label models only: where a label is positive (default: the model's, else 0.5)"	minimum(0)	maximum(1)
//	@Param			decode	query		string	false	"JPEG decoding: exact (every pixel, as PaddleClas) or fast (1/2 to 1/8 size when the resize shrinks that much); default the model's manifest, else the server's --decode"	Enums(exact, fast)
//	@Param			image	formData	file	true	"Image file; repeat the field for several"
//	@Success		200		{object}	client.ClassifyResponse
//	@Failure		400		{object}	client.Problem	"bad top_k or threshold, empty body"
//	@Failure		404		{object}	client.Problem	"unknown model or version"
//	@Failure		408		{object}	client.Problem	"the body arrived slower than the request deadline allows"
//	@Failure		413		{object}	client.Problem	"body or image too large"
//	@Failure		415		{object}	client.Problem	"not an image"
//	@Failure		422		{object}	client.Problem	"corrupt image, or the model produced NaN or Inf (never sent as a 200)"
//	@Failure		429		{object}	client.Problem	"queue full; see Retry-After"
//	@Failure		500		{object}	client.Problem	"the model computed NaN, or the version's manifest is unusable (it names the version and why)"
//	@Failure		503		{object}	client.Problem	"loading, pulling or shutting down; see Retry-After"
//	@Router			/v1/models/{name}/classify [post]
func (s *Server) classifyNamed(w http.ResponseWriter, r *http.Request) error {
	return s.classify(w, r, chi.URLParam(r, "name"), r.URL.Query().Get("version"), false)
}

// classifyDefault godoc
//
//	@Summary		Classify images with the default model
//	@Description	As /v1/models/{name}/classify, with the model chosen by ?model=NAME[:VERSION] (or a "model" form field or JSON key), else the server's default model, else the zoo's only model. With several models and no default the answer is 400 listing them.
//	@Tags			inference
//	@Accept			mpfd
//	@Accept			json
//	@Accept			image/jpeg
//	@Accept			image/png
//	@Produce		json
//	@Param			model	query		string	false	"NAME or NAME:VERSION"
//	@Param			top_k	query		int		false	"Classes per image (default 5; every class on a multi-label model)"	minimum(1)
//	@Param			threshold	query	number	false	"Multi-label models only: where a label is positive (default: the model's, else 0.5)"	minimum(0)	maximum(1)
//	@Param			decode	query		string	false	"JPEG decoding: exact (every pixel, as PaddleClas) or fast (1/2 to 1/8 size when the resize shrinks that much); default the model's manifest, else the server's --decode"	Enums(exact, fast)
//	@Param			image	formData	file	true	"Image file; repeat the field for several"
//	@Success		200		{object}	client.ClassifyResponse
//	@Failure		400		{object}	client.Problem	"bad top_k or threshold, empty body, no model chosen"
//	@Failure		404		{object}	client.Problem
//	@Failure		408		{object}	client.Problem	"the body arrived slower than the request deadline allows"
//	@Failure		413		{object}	client.Problem
//	@Failure		415		{object}	client.Problem
//	@Failure		422		{object}	client.Problem
//	@Failure		429		{object}	client.Problem
//	@Failure		500		{object}	client.Problem	"the model computed NaN, or the version's manifest is unusable (it names the version and why)"
//	@Failure		503		{object}	client.Problem
//	@Router			/classify [post]
func (s *Server) classifyDefault(w http.ResponseWriter, r *http.Request) error {
	return s.classify(w, r, "", "", true)
}

func (s *Server) classify(w http.ResponseWriter, r *http.Request, name, version string, pick bool) error {
	q := r.URL.Query()
	topK := 0 // the default depends on the model
	if v := q.Get("top_k"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 {
			return problemf(http.StatusBadRequest, "top_k must be a whole number of at least 1, got %q", v)
		}
		topK = k
	}
	threshold := -1.0
	if v := q.Get("threshold"); v != "" {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || !(t >= 0 && t <= 1) {
			return problemf(http.StatusBadRequest, "threshold must be a number from 0 to 1, got %q", v)
		}
		threshold = t
	}
	e, out, err := s.inferImages(r, name, version, pick)
	if err != nil {
		return err
	}
	if err := checkFinite(e.m, "probabilities", out.Probabilities, out.Classes); err != nil {
		return err
	}
	resp := client.ClassifyResponse{Model: e.m.Name, Version: e.m.Version, Results: make([]client.ClassifyResult, out.N)}
	if e.m.Arch.MultiLabel {
		// Every label is an answer of its own.
		resp.MultiLabel = true
		if topK == 0 {
			topK = out.Classes
		}
		if threshold < 0 {
			threshold = e.m.DecisionThreshold()
		}
		resp.Threshold = threshold
	} else if threshold >= 0 {
		return problemf(http.StatusBadRequest, "threshold applies to multi-label models; %s:%s scores classes with a softmax", e.m.Name, e.m.Version)
	}
	if topK == 0 {
		topK = 5
	}
	for i := range out.N {
		probs := out.Probabilities[i*out.Classes : (i+1)*out.Classes]
		if c := slices.IndexFunc(probs, func(p float32) bool { return p != p }); c >= 0 {
			// Broken weights or an input the network overflows on: no
			// ranking of NaN is an answer.
			return problemf(http.StatusInternalServerError, "%s:%s computed NaN for class %d of image %d", e.m.Name, e.m.Version, c, i)
		}
		preds := topPredictions(probs, e.m.Labels, topK)
		if resp.MultiLabel {
			for j := range preds {
				pos := preds[j].Score >= threshold
				preds[j].Positive = &pos
			}
		}
		resp.Results[i].Predictions = preds
	}
	return writeOK(w, resp)
}

// inferImages is the common body of classify and features: read the
// request's images, choose the model (when the route names none), load it,
// preprocess and run the batch.
func (s *Server) inferImages(r *http.Request, name, version string, pick bool) (*cacheEntry, *output, error) {
	in, err := s.readImages(r)
	if err != nil {
		return nil, nil, err
	}
	if pick {
		if name, version, err = s.pickModel(r, in); err != nil {
			return nil, nil, err
		}
	}
	mode, err := imaging.ParseDecodeMode(r.URL.Query().Get("decode"))
	if err != nil {
		return nil, nil, problemf(http.StatusBadRequest, "decode must be exact or fast, got %q", r.URL.Query().Get("decode"))
	}
	e, x, h, w, pooled, err := s.prepare(r.Context(), name, version, mode, in.images)
	if err != nil {
		return nil, nil, err
	}
	out, err := s.run(r.Context(), e, x, len(in.images), h, w, pooled)
	if err != nil {
		return nil, nil, err
	}
	return e, out, nil
}

// pickModel chooses the model of a /classify or /features request.
func (s *Server) pickModel(r *http.Request, in imageInput) (name, version string, err error) {
	ref := r.URL.Query().Get("model")
	if ref == "" {
		ref = in.model
	}
	if ref == "" {
		return s.defaultRef(r.Context())
	}
	name, version, err = zoo.ParseRef(ref)
	if err != nil {
		return "", "", problemf(http.StatusBadRequest, "model %q: %v", ref, err)
	}
	return name, version, nil
}

// prepare loads the model and turns the images into its input batch;
// pooled is tensors'.
func (s *Server) prepare(ctx context.Context, name, version string, mode imaging.DecodeMode, images [][]byte) (e *cacheEntry, x []float32, h, w int, pooled bool, err error) {
	e, err = s.loadRef(ctx, name, version)
	if err != nil {
		return nil, nil, 0, 0, false, err
	}
	// Until this request queues, a batch being gathered waits for it.
	e.b.coming.Add(1)
	x, h, w, pooled, err = s.tensors(ctx, e, mode, images)
	e.b.coming.Add(-1)
	if err != nil {
		return nil, nil, 0, 0, false, err
	}
	return e, x, h, w, pooled, nil
}

// topPredictions returns the k most probable classes, highest first, ties
// broken by class id so the output is stable.
func topPredictions(probs []float32, labels []string, k int) []client.Prediction {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	// cmp.Compare orders NaN below every number, so the order is total
	// even for scores classify would refuse.
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(probs[b], probs[a]) })
	k = min(k, len(idx))
	out := make([]client.Prediction, k)
	for i, c := range idx[:k] {
		label := fmt.Sprintf("class %d", c)
		if c < len(labels) {
			label = labels[c]
		}
		out[i] = client.Prediction{ClassID: c, Label: label, Score: float64(probs[c])}
	}
	return out
}

// featuresNamed godoc
//
//	@Summary		Extract feature vectors
//	@Description	One feature vector per image, from the "features" layer (the last conv's output, class_expand wide, before dropout and the classifier) or the "pooled" layer (global average pool of the last block). Inputs as for classify.
//	@Tags			inference
//	@Accept			mpfd
//	@Accept			json
//	@Accept			image/jpeg
//	@Accept			image/png
//	@Produce		json
//	@Param			name		path		string	true	"Model name"
//	@Param			version		query		string	false	"Version (default: latest)"
//	@Param			layer		query		string	false	"Which layer"	Enums(features, pooled)	default(features)
//	@Param			normalize	query		bool	false	"L2-normalize each vector"	default(false)
//	@Param			decode		query		string	false	"JPEG decoding: exact (every pixel, as PaddleClas) or fast (1/2 to 1/8 size when the resize shrinks that much); default the model's manifest, else the server's --decode"	Enums(exact, fast)
//	@Param			image		formData	file	true	"Image file; repeat the field for several"
//	@Success		200			{object}	client.FeaturesResponse
//	@Failure		400			{object}	client.Problem
//	@Failure		404			{object}	client.Problem
//	@Failure		408			{object}	client.Problem	"the body arrived slower than the request deadline allows"
//	@Failure		413			{object}	client.Problem
//	@Failure		415			{object}	client.Problem
//	@Failure		422			{object}	client.Problem	"corrupt image, or the model produced NaN or Inf (never sent as a 200)"
//	@Failure		429			{object}	client.Problem
//	@Failure		503			{object}	client.Problem
//	@Router			/v1/models/{name}/features [post]
func (s *Server) featuresNamed(w http.ResponseWriter, r *http.Request) error {
	return s.features(w, r, chi.URLParam(r, "name"), r.URL.Query().Get("version"), false)
}

// featuresDefault godoc
//
//	@Summary		Extract feature vectors with the default model
//	@Description	As /v1/models/{name}/features, with the model chosen as for POST /classify.
//	@Tags			inference
//	@Accept			mpfd
//	@Accept			json
//	@Accept			image/jpeg
//	@Accept			image/png
//	@Produce		json
//	@Param			model		query		string	false	"NAME or NAME:VERSION"
//	@Param			layer		query		string	false	"Which layer"	Enums(features, pooled)	default(features)
//	@Param			normalize	query		bool	false	"L2-normalize each vector"	default(false)
//	@Param			decode		query		string	false	"JPEG decoding: exact (every pixel, as PaddleClas) or fast (1/2 to 1/8 size when the resize shrinks that much); default the model's manifest, else the server's --decode"	Enums(exact, fast)
//	@Param			image		formData	file	true	"Image file; repeat the field for several"
//	@Success		200			{object}	client.FeaturesResponse
//	@Failure		400			{object}	client.Problem
//	@Failure		404			{object}	client.Problem
//	@Failure		408			{object}	client.Problem	"the body arrived slower than the request deadline allows"
//	@Failure		413			{object}	client.Problem
//	@Failure		415			{object}	client.Problem
//	@Failure		422			{object}	client.Problem
//	@Failure		429			{object}	client.Problem
//	@Failure		503			{object}	client.Problem
//	@Router			/features [post]
func (s *Server) featuresDefault(w http.ResponseWriter, r *http.Request) error {
	return s.features(w, r, "", "", true)
}

func (s *Server) features(w http.ResponseWriter, r *http.Request, name, version string, pick bool) error {
	q := r.URL.Query()
	layer := q.Get("layer")
	switch layer {
	case "":
		layer = "features"
	case "features", "pooled":
	default:
		return problemf(http.StatusBadRequest, "layer must be features or pooled, got %q", layer)
	}
	normalize := false
	if v := q.Get("normalize"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return problemf(http.StatusBadRequest, "normalize must be true or false, got %q", v)
		}
		normalize = b
	}
	e, out, err := s.inferImages(r, name, version, pick)
	if err != nil {
		return err
	}
	vals, dim := out.Features, out.FeatureDim
	if layer == "pooled" {
		vals, dim = out.Pooled, out.PooledDim
	}
	if err := checkFinite(e.m, layer, vals, dim); err != nil {
		return err
	}
	resp := client.FeaturesResponse{Model: e.m.Name, Version: e.m.Version, Dim: dim, Results: make([]client.FeaturesResult, out.N)}
	for i := range out.N {
		v := append([]float32(nil), vals[i*dim:(i+1)*dim]...)
		if normalize {
			l2normalize(v)
		}
		resp.Results[i].Features = v
	}
	return writeOK(w, resp)
}

func l2normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}
