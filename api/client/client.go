// Package client is the Go client of lcnet's HTTP API and the API's wire
// types (request, response and problem bodies). It imports only the
// standard library, so a program that calls a server does not link the
// server, the network or the model store.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// Client calls a running lcnet server. The CLI's "lcnet classify --server"
// and the end-to-end tests use it, so it speaks exactly the wire types the
// server answers with.
type Client struct {
	base *url.URL
	hc   *http.Client
	// APIKey is sent as a bearer token (needed for Upload and Delete when
	// the server has a key).
	APIKey string
	// Decode, when set, is sent as ?decode= on Classify and Features:
	// "exact" or "fast" JPEG decoding instead of the model's default.
	Decode string
}

// New returns a client for the server at base (e.g.
// "http://127.0.0.1:8080"); hc nil means http.DefaultClient.
func New(base string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://HOST[:PORT]", base)
	}
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, hc: hc}, nil
}

// ProblemError is a non-2xx answer, decoded from its problem+json body.
type ProblemError struct {
	Problem
	// RetryAfter is the Retry-After header of 429 and 503 answers.
	RetryAfter string
}

func (e *ProblemError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Detail)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Title)
}

// Models lists the zoo (GET /v1/models).
func (c *Client) Models(ctx context.Context) (ModelList, error) {
	var out ModelList
	return out, c.do(ctx, http.MethodGet, "/v1/models", nil, "", nil, &out)
}

// Model describes one model, or one version of it when version is set.
func (c *Client) Model(ctx context.Context, name, version string) (Model, error) {
	var out Model
	q := url.Values{}
	if version != "" {
		q.Set("version", version)
	}
	return out, c.do(ctx, http.MethodGet, "/v1/models/"+url.PathEscape(name), q, "", nil, &out)
}

// Classify sends images (encoded files) as multipart/form-data. An empty
// name uses POST /classify and the server's default model. topK 0 is the
// server's default.
func (c *Client) Classify(ctx context.Context, name, version string, images [][]byte, topK int) (ClassifyResponse, error) {
	return c.ClassifyWith(ctx, name, version, images, ClassifyOptions{TopK: topK})
}

// ClassifyOptions are the query options of classify; zero values are the
// server's defaults.
type ClassifyOptions struct {
	TopK int
	// Threshold, for a multi-label model, is where a label is positive;
	// nil uses the model's.
	Threshold *float64
}

// ClassifyWith is Classify with every option.
func (c *Client) ClassifyWith(ctx context.Context, name, version string, images [][]byte, opts ClassifyOptions) (ClassifyResponse, error) {
	var out ClassifyResponse
	q := url.Values{}
	if opts.TopK > 0 {
		q.Set("top_k", strconv.Itoa(opts.TopK))
	}
	if opts.Threshold != nil {
		q.Set("threshold", strconv.FormatFloat(*opts.Threshold, 'g', -1, 64))
	}
	if c.Decode != "" {
		q.Set("decode", c.Decode)
	}
	path := c.inferPath(name, version, "classify", q)
	body, ct, err := imagesForm(images)
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, http.MethodPost, path, q, ct, body, &out)
}

// Features extracts one vector per image from layer ("features" or
// "pooled"; "" is features).
func (c *Client) Features(ctx context.Context, name, version string, images [][]byte, layer string, normalize bool) (FeaturesResponse, error) {
	var out FeaturesResponse
	q := url.Values{}
	if layer != "" {
		q.Set("layer", layer)
	}
	if normalize {
		q.Set("normalize", "true")
	}
	if c.Decode != "" {
		q.Set("decode", c.Decode)
	}
	path := c.inferPath(name, version, "features", q)
	body, ct, err := imagesForm(images)
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, http.MethodPost, path, q, ct, body, &out)
}

func (c *Client) inferPath(name, version, op string, q url.Values) string {
	if name == "" {
		return "/" + op
	}
	if version != "" {
		q.Set("version", version)
	}
	return "/v1/models/" + url.PathEscape(name) + "/" + op
}

// UploadFile is one file of a model upload.
type UploadFile struct {
	Name string // file name, e.g. "inference.pdiparams"
	Data io.Reader
	// Field is the form field: "file" (the default) for checkpoint files,
	// "config" for the training config of a .pdparams.
	Field string
}

// Upload creates a new version from checkpoint files (POST /v1/models).
// version "" takes the next number; dtype "" is fp32.
func (c *Client) Upload(ctx context.Context, name, version, dtype string, files ...UploadFile) (VersionInfo, error) {
	var out VersionInfo
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for k, v := range map[string]string{"name": name, "version": version, "dtype": dtype} {
				if v != "" {
					if err := mw.WriteField(k, v); err != nil {
						return err
					}
				}
			}
			for _, f := range files {
				field := f.Field
				if field == "" {
					field = "file"
				}
				part, err := mw.CreateFormFile(field, f.Name)
				if err != nil {
					return err
				}
				if _, err := io.Copy(part, f.Data); err != nil {
					return fmt.Errorf("upload %s: %w", f.Name, err)
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	err := c.do(ctx, http.MethodPost, "/v1/models", nil, mw.FormDataContentType(), pr, &out)
	pr.Close()
	return out, err
}

// Finetune starts a fine-tuning job (POST /v1/models/{base}/finetune):
// dataset is a .zip, .tar or .tar.gz of an ImageFolder (or labels.csv),
// streamed from r under the file name filename. base is NAME or
// NAME:VERSION. The job runs in the background: poll it with Job.
func (c *Client) Finetune(ctx context.Context, base string, filename string, r io.Reader, opt FinetuneOptions) (Job, error) {
	var out Job
	name, version, _ := strings.Cut(base, ":")
	var q url.Values
	if version != "" {
		q = url.Values{"version": {version}}
	}
	fields := map[string]string{"name": opt.Name, "augment": opt.Augment, "layer": opt.Layer, "dtype": opt.DType}
	num := func(k string, v float64, set bool) {
		if set {
			fields[k] = strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	num("epochs", float64(opt.Epochs), opt.Epochs != 0)
	num("lr", opt.LR, opt.LR != 0)
	num("batch", float64(opt.Batch), opt.Batch != 0)
	num("weight_decay", opt.WeightDecay, opt.WeightDecay != 0)
	num("seed", float64(opt.Seed), opt.Seed != 0)
	num("val_split", max(opt.ValSplit, 0), opt.ValSplit != 0)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for k, v := range fields {
				if v != "" {
					if err := mw.WriteField(k, v); err != nil {
						return err
					}
				}
			}
			part, err := mw.CreateFormFile("dataset", filename)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, r); err != nil {
				return fmt.Errorf("upload %s: %w", filename, err)
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	err := c.do(ctx, http.MethodPost, "/v1/models/"+url.PathEscape(name)+"/finetune", q, mw.FormDataContentType(), pr, &out)
	pr.Close()
	return out, err
}

// Job reports a fine-tuning job (GET /v1/jobs/{id}).
func (c *Client) Job(ctx context.Context, id string) (Job, error) {
	var out Job
	return out, c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, "", nil, &out)
}

// CancelJob cancels a queued or running job (DELETE /v1/jobs/{id}) and
// returns its state.
func (c *Client) CancelJob(ctx context.Context, id string) (Job, error) {
	var out Job
	return out, c.do(ctx, http.MethodDelete, "/v1/jobs/"+url.PathEscape(id), nil, "", nil, &out)
}

// Delete removes one version.
func (c *Client) Delete(ctx context.Context, name, version string) error {
	return c.do(ctx, http.MethodDelete, "/v1/models/"+url.PathEscape(name)+"/versions/"+url.PathEscape(version), nil, "", nil, nil)
}

// Infer runs the v2 inference protocol; version "" is the latest.
func (c *Client) Infer(ctx context.Context, name, version string, req V2InferRequest) (V2InferResponse, error) {
	var out V2InferResponse
	path := "/v2/models/" + url.PathEscape(name)
	if version != "" {
		path += "/versions/" + url.PathEscape(version)
	}
	b, err := json.Marshal(req)
	if err != nil {
		return out, err
	}
	return out, c.do(ctx, http.MethodPost, path+"/infer", nil, "application/json", bytes.NewReader(b), &out)
}

func imagesForm(images [][]byte) (io.Reader, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i, img := range images {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="image"; filename="image%d"`, i+1))
		h.Set("Content-Type", "application/octet-stream")
		part, err := mw.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := part.Write(img); err != nil {
			return nil, "", err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return &buf, mw.FormDataContentType(), nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, contentType string, body io.Reader, out any) error {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	req.Header.Set("Accept", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		pe := &ProblemError{RetryAfter: res.Header.Get("Retry-After")}
		data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if err := json.Unmarshal(data, &pe.Problem); err != nil || pe.Status == 0 {
			pe.Problem = Problem{Status: res.StatusCode, Title: http.StatusText(res.StatusCode), Detail: strings.TrimSpace(string(data))}
		}
		return pe
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decoding response: %w", method, path, err)
	}
	return nil
}
