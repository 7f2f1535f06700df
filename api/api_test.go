package api

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/internal/testimage"
)

func solid(t testing.TB, format string, c color.Color, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	b, err := testimage.Encode(format, img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	red  = color.RGBA{230, 10, 10, 255}
	blue = color.RGBA{10, 10, 230, 255}
)

func multipartBody(t testing.TB, fields map[string]string, images ...[]byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	for i, img := range images {
		p, err := mw.CreateFormFile("image", fmt.Sprintf("img%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Write(img); err != nil {
			t.Fatal(err)
		}
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func jsonBody(t testing.TB, v any) io.Reader {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, method, url, contentType string, body io.Reader, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1] // net/http sends req.Host, not the header
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{res.StatusCode, res.Header, b}
}

func decode[T any](t testing.TB, r result) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

// checkProblem asserts an RFC 9457 answer with the status and a detail
// containing want.
func checkProblem(t testing.TB, r result, status int, want string) client.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := decode[client.Problem](t, r)
	if p.Status != status || p.Title == "" || p.Detail == "" || p.Type == "" {
		t.Fatalf("incomplete problem %+v", p)
	}
	if !strings.Contains(p.Detail, want) {
		t.Fatalf("detail %q does not mention %q", p.Detail, want)
	}
	return p
}

func top1(t testing.TB, r result) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	resp := decode[client.ClassifyResponse](t, r)
	var labels []string
	for _, res := range resp.Results {
		labels = append(labels, res.Predictions[0].Label)
	}
	return labels
}

func TestClassifyInputForms(t *testing.T) {
	_, ts := newTestServer(t, newFake("m"), nil)
	url := ts.URL + "/v1/models/m/classify"
	redPNG, bluePNG := solid(t, "png", red, 40, 30), solid(t, "png", blue, 40, 30)
	webp, err := os.ReadFile("../imaging/testdata/quadrants_lossless.webp")
	if err != nil {
		t.Fatal(err)
	}
	body2, ct2 := multipartBody(t, nil, redPNG, bluePNG)
	body1, ct1 := multipartBody(t, nil, bluePNG)
	tests := []struct {
		name string
		ct   string
		body io.Reader
		want []string
	}{
		{"multipart one", ct1, body1, []string{"blue"}},
		{"multipart two, in order", ct2, body2, []string{"red", "blue"}},
		{"raw png", "image/png", bytes.NewReader(redPNG), []string{"red"}},
		{"raw jpeg", "image/jpeg", bytes.NewReader(solid(t, "jpeg", blue, 50, 50)), []string{"blue"}},
		{"raw octet-stream gif", "application/octet-stream", bytes.NewReader(solid(t, "gif", red, 20, 20)), []string{"red"}},
		{"raw bmp", "image/bmp", bytes.NewReader(solid(t, "bmp", blue, 20, 20)), []string{"blue"}},
		{"raw tiff", "image/tiff", bytes.NewReader(solid(t, "tiff", red, 20, 20)), []string{"red"}},
		{"json base64", "application/json", jsonBody(t, client.ImagesRequest{Images: []string{
			base64.StdEncoding.EncodeToString(bluePNG), base64.StdEncoding.EncodeToString(redPNG)}}), []string{"blue", "red"}},
		{"json data URL", "application/json", jsonBody(t, client.ImagesRequest{Images: []string{
			"data:image/png;base64," + base64.StdEncoding.EncodeToString(redPNG)}}), []string{"red"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := top1(t, do(t, "POST", url, tt.ct, tt.body))
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("top-1 %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("webp, top_k", func(t *testing.T) {
		r := do(t, "POST", url+"?top_k=2", "image/webp", bytes.NewReader(webp))
		resp := decode[client.ClassifyResponse](t, r)
		if r.status != 200 || len(resp.Results) != 1 || len(resp.Results[0].Predictions) != 2 || resp.Model != "m" || resp.Version != "1" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		p := resp.Results[0].Predictions
		if p[0].Score < p[1].Score || p[0].Score <= 0 || p[0].Score > 1 {
			t.Errorf("predictions not ordered probabilities: %+v", p)
		}
	})
	t.Run("top_k above the class count", func(t *testing.T) {
		resp := decode[client.ClassifyResponse](t, do(t, "POST", url+"?top_k=50", "image/png", bytes.NewReader(redPNG)))
		if n := len(resp.Results[0].Predictions); n != 3 {
			t.Errorf("%d predictions, want all 3 classes", n)
		}
	})
}

func TestErrors(t *testing.T) {
	_, ts := newTestServer(t, newFake("m"), func(c *Config) {
		c.MaxBodyBytes = 64 << 10
		c.MaxPixels = 100 * 100
		c.MaxImages = 2
	})
	png := solid(t, "png", red, 20, 20)
	big := solid(t, "png", red, 200, 200)
	bigJPEG := solid(t, "jpeg", red, 200, 200)
	tests := []struct {
		name, method, path, ct string
		body                   []byte
		status                 int
		detail                 string
	}{
		{"unknown model", "POST", "/v1/models/nope/classify", "image/png", png, 404, `"nope"`},
		{"unknown version", "POST", "/v1/models/m/classify?version=9", "image/png", png, 404, `"9"`},
		{"unknown model GET", "GET", "/v1/models/nope", "", nil, 404, `"nope"`},
		{"not an image", "POST", "/v1/models/m/classify", "image/png", []byte("hello, this is text and not a picture"), 415, ""},
		{"corrupt image", "POST", "/v1/models/m/classify", "image/png", png[:len(png)/2], 422, ""},
		{"top_k zero", "POST", "/v1/models/m/classify?top_k=0", "image/png", png, 400, "top_k"},
		{"top_k text", "POST", "/v1/models/m/classify?top_k=five", "image/png", png, 400, "top_k"},
		{"empty body", "POST", "/v1/models/m/classify", "image/png", nil, 400, "empty"},
		{"empty JSON", "POST", "/v1/models/m/classify", "application/json", []byte(`{"images": []}`), 400, "empty"},
		{"bad base64", "POST", "/v1/models/m/classify", "application/json", []byte(`{"images": ["%%%"]}`), 400, "images[0]"},
		{"bad JSON", "POST", "/v1/models/m/classify", "application/json", []byte(`{"images": `), 400, "JSON"},
		{"content type", "POST", "/v1/models/m/classify", "text/plain", png, 415, "text/plain"},
		{"body too large", "POST", "/v1/models/m/classify", "image/png", make([]byte, 100<<10), 413, "limit"},
		{"too many pixels", "POST", "/v1/models/m/classify", "image/png", big, 413, "limit"},
		{"bad decode", "POST", "/v1/models/m/classify?decode=quick", "image/png", png, 400, "decode"},
		{"too many pixels, fast decode", "POST", "/v1/models/m/classify?decode=fast", "image/jpeg", bigJPEG, 413, "limit"},
		{"bad layer", "POST", "/v1/models/m/features?layer=logits", "image/png", png, 400, "layer"},
		{"bad normalize", "POST", "/v1/models/m/features?normalize=maybe", "image/png", png, 400, "normalize"},
		{"no route", "GET", "/v3/nothing", "", nil, 404, "/v3/nothing"},
		{"wrong method", "PUT", "/v1/models", "", nil, 405, "PUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblem(t, do(t, tt.method, ts.URL+tt.path, tt.ct, bytes.NewReader(tt.body)), tt.status, tt.detail)
		})
	}
	t.Run("too many images", func(t *testing.T) {
		body, ct := multipartBody(t, nil, png, png, png)
		checkProblem(t, do(t, "POST", ts.URL+"/v1/models/m/classify", ct, body), 413, "limit is 2")
	})
	t.Run("second image corrupt", func(t *testing.T) {
		body, ct := multipartBody(t, nil, png, png[:30])
		checkProblem(t, do(t, "POST", ts.URL+"/v1/models/m/classify", ct, body), 422, "image 2 of 2")
	})
}

func TestFeatures(t *testing.T) {
	_, ts := newTestServer(t, newFake("m"), nil)
	png := solid(t, "png", red, 20, 20)
	for _, tt := range []struct {
		query     string
		dim       int
		normalize bool
	}{
		{"", 4, false},
		{"?layer=features&normalize=true", 4, true},
		{"?layer=pooled", 2, false},
	} {
		t.Run(tt.query, func(t *testing.T) {
			body, ct := multipartBody(t, nil, png, png)
			r := do(t, "POST", ts.URL+"/v1/models/m/features"+tt.query, ct, body)
			resp := decode[client.FeaturesResponse](t, r)
			if r.status != 200 || resp.Dim != tt.dim || len(resp.Results) != 2 || len(resp.Results[1].Features) != tt.dim {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var ss float64
			for _, v := range resp.Results[0].Features {
				ss += float64(v) * float64(v)
			}
			if tt.normalize != (ss > 0.999 && ss < 1.001) {
				t.Errorf("squared norm %g with normalize=%v", ss, tt.normalize)
			}
		})
	}
}

func TestDefaultModel(t *testing.T) {
	png := solid(t, "png", blue, 20, 20)
	t.Run("only model", func(t *testing.T) {
		_, ts := newTestServer(t, newFake("only"), nil)
		r := do(t, "POST", ts.URL+"/classify", "image/png", bytes.NewReader(png))
		if resp := decode[client.ClassifyResponse](t, r); resp.Model != "only" {
			t.Fatalf("%d %s", r.status, r.body)
		}
		r = do(t, "POST", ts.URL+"/features?layer=pooled", "image/png", bytes.NewReader(png))
		if resp := decode[client.FeaturesResponse](t, r); resp.Model != "only" || resp.Dim != 2 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("several, none chosen", func(t *testing.T) {
		_, ts := newTestServer(t, newFake("a", "b"), nil)
		p := checkProblem(t, do(t, "POST", ts.URL+"/classify", "image/png", bytes.NewReader(png)), 400, "?model=")
		if fmt.Sprint(p.Models) != "[a b]" {
			t.Errorf("models %v, want [a b]", p.Models)
		}
	})
	t.Run("several, chosen", func(t *testing.T) {
		f := newFake("a", "b")
		f.add("b")
		_, ts := newTestServer(t, f, nil)
		r := do(t, "POST", ts.URL+"/classify?model=b:1", "image/png", bytes.NewReader(png))
		if resp := decode[client.ClassifyResponse](t, r); resp.Model != "b" || resp.Version != "1" {
			t.Fatalf("query: %d %s", r.status, r.body)
		}
		body, ct := multipartBody(t, map[string]string{"model": "a"}, png)
		if resp := decode[client.ClassifyResponse](t, do(t, "POST", ts.URL+"/classify", ct, body)); resp.Model != "a" {
			t.Fatalf("form field: %+v", resp)
		}
		r = do(t, "POST", ts.URL+"/features", "application/json", jsonBody(t, client.ImagesRequest{Model: "b", Images: []string{base64.StdEncoding.EncodeToString(png)}}))
		if resp := decode[client.FeaturesResponse](t, r); resp.Model != "b" || resp.Version != "2" {
			t.Fatalf("JSON key: %d %s", r.status, r.body)
		}
	})
	t.Run("configured default", func(t *testing.T) {
		_, ts := newTestServer(t, newFake("a", "b"), func(c *Config) { c.DefaultModel = "b" })
		if resp := decode[client.ClassifyResponse](t, do(t, "POST", ts.URL+"/classify", "image/png", bytes.NewReader(png))); resp.Model != "b" {
			t.Fatalf("%+v", resp)
		}
		if l := decode[client.ModelList](t, do(t, "GET", ts.URL+"/v1/models", "", nil)); l.Default != "b" {
			t.Errorf("list default %q", l.Default)
		}
	})
	t.Run("empty zoo", func(t *testing.T) {
		_, ts := newTestServer(t, newFake(), nil)
		checkProblem(t, do(t, "POST", ts.URL+"/classify", "image/png", bytes.NewReader(png)), 404, "POST /v1/models")
	})
}

func TestModels(t *testing.T) {
	f := newFake("m", "other")
	f.add("m")
	_, ts := newTestServer(t, f, nil)
	l := decode[client.ModelList](t, do(t, "GET", ts.URL+"/v1/models", "", nil))
	if len(l.Models) != 2 || l.Default != "" {
		t.Fatalf("%+v", l)
	}
	m := decode[client.Model](t, do(t, "GET", ts.URL+"/v1/models/m", "", nil))
	if m.Latest != "2" || len(m.Versions) != 2 {
		t.Fatalf("%+v", m)
	}
	v := m.Versions[0]
	if v.Architecture != "PPLCNet_x0_25" || v.InputHeight != 32 || v.InputWidth != 32 || v.DType != "fp32" || v.LabelCount != 3 {
		t.Errorf("version info %+v", v)
	}
	one := decode[client.Model](t, do(t, "GET", ts.URL+"/v1/models/m?version=1", "", nil))
	if len(one.Versions) != 1 || one.Versions[0].Version != "1" {
		t.Errorf("?version=1: %+v", one)
	}
	checkProblem(t, do(t, "GET", ts.URL+"/v1/models/m?version=7", "", nil), 404, "7")
}

func TestManagementAuth(t *testing.T) {
	f := newFake("m")
	f.add("m")
	s, ts := newTestServer(t, f, func(c *Config) { c.APIKey = "sekrit" })
	upload := func(fields map[string]string, hdr ...string) result {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range fields {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := mw.CreateFormFile("file", "../../etc/model.pdparams")
		if _, err := p.Write([]byte("checkpoint bytes")); err != nil {
			t.Fatal(err)
		}
		mw.Close()
		return do(t, "POST", ts.URL+"/v1/models", mw.FormDataContentType(), &buf, hdr...)
	}
	checkProblem(t, upload(map[string]string{"name": "new"}), 401, "API key")
	checkProblem(t, upload(map[string]string{"name": "new"}, "Authorization", "Bearer wrong"), 403, "not valid")
	checkProblem(t, upload(map[string]string{"name": "new", "dtype": "int8"}, "Authorization", "Bearer sekrit"), 400, "dtype")
	checkProblem(t, upload(map[string]string{}, "Authorization", "Bearer sekrit"), 400, "name")
	r := upload(map[string]string{"name": "new", "dtype": "fp16"}, "Authorization", "Bearer sekrit")
	if r.status != 201 || !strings.Contains(r.header.Get("Location"), "/v1/models/new") {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	if v := decode[client.VersionInfo](t, r); v.Version != "1" || v.DType != "fp16" {
		t.Errorf("uploaded %+v", v)
	}
	checkProblem(t, upload(map[string]string{"name": "new", "version": "1"}, "Authorization", "Bearer sekrit"), 409, "new:1")

	png := solid(t, "png", red, 20, 20)
	if r := do(t, "POST", ts.URL+"/v1/models/m/classify?version=1", "image/png", bytes.NewReader(png)); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	del := ts.URL + "/v1/models/m/versions/1"
	checkProblem(t, do(t, "DELETE", del, "", nil), 401, "API key")
	checkProblem(t, do(t, "DELETE", del, "", nil, "Authorization", "Bearer nope"), 403, "not valid")
	if r := do(t, "DELETE", del, "", nil, "Authorization", "Bearer sekrit"); r.status != 204 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	checkProblem(t, do(t, "DELETE", del, "", nil, "Authorization", "Bearer sekrit"), 404, "1")
	if s.cache.loaded(fakeManifest("m", "1")) {
		t.Error("deleted version still loaded")
	}
	checkProblem(t, do(t, "POST", ts.URL+"/v1/models/m/classify?version=1", "image/png", bytes.NewReader(png)), 404, "1")
	if r := do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(png)); r.status != 200 {
		t.Fatalf("version 2 after deleting 1: %d %s", r.status, r.body)
	}
	// Reads stay open without a key.
	if r := do(t, "GET", ts.URL+"/v1/models", "", nil); r.status != 200 {
		t.Fatal(r.status)
	}
}

func TestNoAPIKeyLeavesManagementOpen(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, nil)
	if r := do(t, "DELETE", ts.URL+"/v1/models/m/versions/1", "", nil); r.status != 204 {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

func TestChecksumFailureIsolated(t *testing.T) {
	f := newFake("m")
	f.add("m")
	f.badSum["m:2"] = true
	_, ts := newTestServer(t, f, nil)
	png := solid(t, "png", red, 20, 20)
	checkProblem(t, do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(png)), 500, "m version 2")
	if r := do(t, "POST", ts.URL+"/v1/models/m/classify?version=1", "image/png", bytes.NewReader(png)); r.status != 200 {
		t.Fatalf("version 1 alongside a bad version 2: %d %s", r.status, r.body)
	}
}

func TestConcurrentClientsBatch(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, func(c *Config) {
		c.MaxBatch = 8
		c.BatchWait = 5 * time.Millisecond
		c.QueueSize = 64
	})
	redPNG, bluePNG := solid(t, "png", red, 20, 20), solid(t, "png", blue, 20, 20)
	const clients, each = 24, 6
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				img, want := redPNG, "red"
				if (c+i)%2 == 1 {
					img, want = bluePNG, "blue"
				}
				res, err := http.Post(ts.URL+"/v1/models/m/classify?top_k=1", "image/png", bytes.NewReader(img))
				if err != nil {
					errs <- err
					return
				}
				var out client.ClassifyResponse
				err = json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 {
					errs <- fmt.Errorf("status %d: %v", res.StatusCode, err)
					continue
				}
				if got := out.Results[0].Predictions[0].Label; got != want {
					errs <- fmt.Errorf("client %d request %d: got %s, want %s (batch rows mixed up)", c, i, got, want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if f.loads.Load() != 1 {
		t.Errorf("model loaded %d times, want once", f.loads.Load())
	}
	if f.maxBatch.Load() < 2 {
		t.Errorf("largest batch %d: concurrent requests were never batched", f.maxBatch.Load())
	}
	if f.maxBatch.Load() > 8 {
		t.Errorf("largest batch %d exceeds MaxBatch 8", f.maxBatch.Load())
	}
	t.Logf("%d network calls for %d requests, largest batch %d", f.calls.Load(), clients*each, f.maxBatch.Load())
}

// TestLoneRequestNotDelayed checks that a request with no other on its way
// does not wait BatchWait for company.
func TestLoneRequestNotDelayed(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, func(c *Config) { c.BatchWait = 3 * time.Second })
	png := solid(t, "png", red, 20, 20)
	for i := range 3 {
		start := time.Now()
		if r := do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(png)); r.status != 200 {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
		if d := time.Since(start); d > 1500*time.Millisecond {
			t.Errorf("request %d took %v: it waited for a batch no other request was coming to", i, d)
		}
	}
}

func TestQueueFull(t *testing.T) {
	f := newFake("m")
	f.gate = make(chan struct{})
	_, ts := newTestServer(t, f, func(c *Config) {
		c.MaxBatch = 1
		c.QueueSize = 2
		c.BatchWait = -1
		c.BatchParallel = 1
	})
	var once sync.Once
	open := func() { once.Do(func() { close(f.gate) }) }
	defer open()
	png := solid(t, "png", red, 20, 20)
	// Load the model first so every request below reaches the queue.
	ready := do(t, "GET", ts.URL+"/v2/models/m/ready", "", nil)
	for i := 0; ready.status != 200 && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
		ready = do(t, "GET", ts.URL+"/v2/models/m/ready", "", nil)
	}
	const n = 8
	results := make(chan result, n)
	for range n {
		go func() { results <- do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(png)) }()
	}
	// One batch runs (blocked on the gate), the batcher holds the next
	// waiting for it, two wait in the queue; the rest must be refused at
	// once.
	const admitted = 1 + 1 + 2
	var refused []result
	for range n - admitted {
		select {
		case r := <-results:
			refused = append(refused, r)
		case <-time.After(10 * time.Second):
			t.Fatal("no request refused while the queue was full")
		}
	}
	open()
	for _, r := range refused {
		checkProblem(t, r, 429, "queued")
		if r.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	for range admitted {
		if r := <-results; r.status != 200 {
			t.Errorf("admitted request: %d %s", r.status, r.body)
		}
	}
}

func TestDeadline(t *testing.T) {
	f := newFake("m")
	f.gate = make(chan struct{})
	defer close(f.gate)
	_, ts := newTestServer(t, f, func(c *Config) { c.RequestTimeout = 200 * time.Millisecond })
	r := do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(solid(t, "png", red, 20, 20)))
	checkProblem(t, r, 503, "deadline")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}

// pngBomb is a valid PNG header declaring w x h pixels with almost no
// data behind it: decoding it would allocate w*h*4 bytes.
func pngBomb(t testing.TB, w, h uint32) []byte {
	t.Helper()
	b := solid(t, "png", red, 1, 1)
	// IHDR data starts after the 8-byte signature, 4-byte length, "IHDR".
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestDecompressionBomb(t *testing.T) {
	_, ts := newTestServer(t, newFake("m"), nil)
	start := time.Now()
	r := do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(pngBomb(t, 60000, 60000)))
	checkProblem(t, r, 413, "3600")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusing the bomb took %v: was it decoded?", d)
	}
}

func TestImageVariants(t *testing.T) {
	_, ts := newTestServer(t, newFake("m"), nil)
	gray := image.NewGray(image.Rect(0, 0, 30, 20))
	for i := range gray.Pix {
		gray.Pix[i] = 200
	}
	grayPNG, err := testimage.Encode("png", gray)
	if err != nil {
		t.Fatal(err)
	}
	ycck, err := os.ReadFile("../imaging/testdata/quadrants_ycck.jpg")
	if err != nil {
		t.Fatal(err)
	}
	alpha, err := os.ReadFile("../imaging/testdata/quadrants_alpha.webp")
	if err != nil {
		t.Fatal(err)
	}
	// A red image with EXIF orientation 6 (rotate 90°) is still red.
	exif, err := testimage.JPEG(solidImage(red, 40, 20), 95, testimage.EXIF(6, binary.BigEndian))
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string][]byte{"grayscale png": grayPNG, "cmyk jpeg": ycck, "alpha webp": alpha, "exif jpeg": exif} {
		t.Run(name, func(t *testing.T) {
			r := do(t, "POST", ts.URL+"/v1/models/m/classify", "application/octet-stream", bytes.NewReader(img))
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	if got := top1(t, do(t, "POST", ts.URL+"/v1/models/m/classify", "image/jpeg", bytes.NewReader(exif))); got[0] != "red" {
		t.Errorf("EXIF-rotated red image: %v", got)
	}
}

func solidImage(c color.Color, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	return img
}
