package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/vecs"
)

// Wire shapes as the issue specifies them; the e2e tests keep their own
// copies so that a change of the api package's types cannot hide a change
// of what users receive.
type prediction struct {
	ClassID int     `json:"class_id"`
	Label   string  `json:"label"`
	Score   float64 `json:"score"`
}

type classifyResponse struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	Results []struct {
		Predictions []prediction `json:"predictions"`
	} `json:"results"`
}

type featuresResponse struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	Dim     int    `json:"dim"`
	Results []struct {
		Features []float64 `json:"features"`
	} `json:"results"`
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// writePNG writes a deterministic colour pattern and returns its path.
func writePNG(t *testing.T, dir, name string, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x ^ y) & 0xff), 255})
		}
	}
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// convertFixture converts a fixture with the CLI and returns NAME:VERSION.
func convertFixture(t *testing.T, store, name string, elem ...string) string {
	t.Helper()
	src := fixtures.Path(t, elem...)
	out := mustRun(t, "convert", src, "--name", name, "--store", store)
	ref := strings.Fields(out)
	if len(ref) == 0 || !strings.HasPrefix(ref[0], name+":") {
		t.Fatalf("convert printed %q, want it to start with %s:VERSION", out, name)
	}
	return ref[0]
}

func checkPredictions(t *testing.T, preds []prediction, k, classes int) {
	t.Helper()
	if len(preds) != k {
		t.Fatalf("got %d predictions, want %d", len(preds), k)
	}
	sum := 0.0
	for i, p := range preds {
		if p.ClassID < 0 || p.ClassID >= classes {
			t.Fatalf("prediction %d: class_id %d out of range", i, p.ClassID)
		}
		if p.Label == "" {
			t.Fatalf("prediction %d has no label", i)
		}
		if i > 0 && p.Score > preds[i-1].Score {
			t.Fatalf("predictions not sorted by score: %v", preds)
		}
		sum += p.Score
	}
	if sum <= 0 || sum > 1.0001 {
		t.Fatalf("scores sum to %v", sum)
	}
}

// TestQuickStart walks the README's quick start: convert with the CLI, then
// classify with curl in all three input forms, extract features, and list.
func TestQuickStart(t *testing.T) {
	store := t.TempDir()
	ref := convertFixture(t, store, "PPLCNet_x0_25", "golden", "PPLCNet_x0_25.pdparams")
	if ref != "PPLCNet_x0_25:1" {
		t.Fatalf("first version is %q, want PPLCNet_x0_25:1", ref)
	}
	srv := startServer(t, store)
	dir := t.TempDir()
	a := writePNG(t, dir, "a.png", 320, 240)
	b := writePNG(t, dir, "b.png", 97, 300)
	url := srv.URL + "/v1/models/PPLCNet_x0_25/classify"

	t.Run("multipart", func(t *testing.T) {
		r := curl(t, "-F", "image=@"+a, url)
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		c := decode[classifyResponse](t, r.Body)
		if c.Model != "PPLCNet_x0_25" || c.Version != "1" || len(c.Results) != 1 {
			t.Fatalf("unexpected response %+v", c)
		}
		checkPredictions(t, c.Results[0].Predictions, 5, 1000)
		if c.Results[0].Predictions[0].Label == fmt.Sprint(c.Results[0].Predictions[0].ClassID) {
			t.Fatalf("1000-class model should carry ImageNet labels, got %q", c.Results[0].Predictions[0].Label)
		}
	})
	t.Run("multipart-two-images-top3", func(t *testing.T) {
		r := curl(t, "-F", "image=@"+a, "-F", "image=@"+b, url+"?top_k=3")
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		c := decode[classifyResponse](t, r.Body)
		if len(c.Results) != 2 {
			t.Fatalf("got %d results for 2 images", len(c.Results))
		}
		for _, res := range c.Results {
			checkPredictions(t, res.Predictions, 3, 1000)
		}
	})
	t.Run("raw-body", func(t *testing.T) {
		r := curl(t, "-H", "Content-Type: image/png", "--data-binary", "@"+a, url)
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		raw := decode[classifyResponse](t, r.Body)
		m := decode[classifyResponse](t, curl(t, "-F", "image=@"+a, url).Body)
		if raw.Results[0].Predictions[0] != m.Results[0].Predictions[0] {
			t.Fatalf("raw body and multipart disagree: %v vs %v", raw.Results[0].Predictions[0], m.Results[0].Predictions[0])
		}
	})
	t.Run("json-base64", func(t *testing.T) {
		data, err := os.ReadFile(a)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string][]string{"images": {base64.StdEncoding.EncodeToString(data)}})
		r := curl(t, "-H", "Content-Type: application/json", "--data-binary", string(body), url)
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		checkPredictions(t, decode[classifyResponse](t, r.Body).Results[0].Predictions, 5, 1000)
	})
	t.Run("features", func(t *testing.T) {
		for _, tc := range []struct {
			layer string
			dim   int
		}{{"features", 1280}, {"pooled", 128}} {
			r := curl(t, "-F", "image=@"+a, srv.URL+"/v1/models/PPLCNet_x0_25/features?normalize=true&layer="+tc.layer)
			if r.Status != 200 {
				t.Fatalf("%s: status %d: %s", tc.layer, r.Status, r.Body)
			}
			f := decode[featuresResponse](t, r.Body)
			if f.Dim != tc.dim || len(f.Results) != 1 || len(f.Results[0].Features) != tc.dim {
				t.Fatalf("%s: dim %d, %d results", tc.layer, f.Dim, len(f.Results))
			}
			norm := 0.0
			for _, v := range f.Results[0].Features {
				norm += v * v
			}
			if math.Abs(math.Sqrt(norm)-1) > 1e-3 {
				t.Fatalf("%s: normalize=true gave norm %v", tc.layer, math.Sqrt(norm))
			}
		}
	})
	t.Run("default-model-route", func(t *testing.T) {
		r := curl(t, "-F", "image=@"+a, srv.URL+"/classify")
		if r.Status != 200 {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if c := decode[classifyResponse](t, r.Body); c.Model != "PPLCNet_x0_25" {
			t.Fatalf("default model is %q", c.Model)
		}
	})
	t.Run("list", func(t *testing.T) {
		r := curl(t, srv.URL+"/v1/models")
		if r.Status != 200 || !bytes.Contains(r.Body, []byte("PPLCNet_x0_25")) {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	})
}

// TestV2Protocol checks the KServe v2 endpoints reproduce the golden logits
// of the fixture exactly as the nn issue's tolerance demands.
func TestV2Protocol(t *testing.T) {
	store := t.TempDir()
	convertFixture(t, store, "x0_25", "golden", "PPLCNet_x0_25.pdparams")
	srv := startServer(t, store)
	for _, p := range []string{"/v2/health/live", "/v2/health/ready", "/v2/models/x0_25", "/v2/models/x0_25/versions/1"} {
		if r := curl(t, srv.URL+p); r.Status != 200 {
			t.Fatalf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	// Models load lazily: the first readiness probe starts the load and
	// answers 503 with Retry-After until the model can serve.
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := curl(t, "-D", "-", srv.URL+"/v2/models/x0_25/ready")
		if r.Status == 200 {
			break
		}
		if r.Status != 503 || !bytes.Contains(bytes.ToLower(r.Body), []byte("retry-after")) || time.Now().After(deadline) {
			t.Fatalf("GET /v2/models/x0_25/ready: %d %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	in, err := npy.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := npy.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	req := map[string]any{
		"inputs":  []map[string]any{{"name": "x", "shape": in.Shape, "datatype": "FP32", "data": in.Data}},
		"outputs": []map[string]any{{"name": "logits"}},
	}
	body, _ := json.Marshal(req)
	f := filepath.Join(t.TempDir(), "req.json")
	if err := os.WriteFile(f, body, 0o644); err != nil {
		t.Fatal(err)
	}
	r := curl(t, "-H", "Content-Type: application/json", "--data-binary", "@"+f, srv.URL+"/v2/models/x0_25/infer")
	if r.Status != 200 {
		t.Fatalf("infer: %d %s", r.Status, truncate(r.Body))
	}
	resp := decode[struct {
		ModelName string `json:"model_name"`
		Outputs   []struct {
			Name     string    `json:"name"`
			Shape    []int     `json:"shape"`
			Datatype string    `json:"datatype"`
			Data     []float64 `json:"data"`
		} `json:"outputs"`
	}](t, r.Body)
	if len(resp.Outputs) != 1 || resp.Outputs[0].Name != "logits" {
		t.Fatalf("outputs %+v, want only logits", resp.Outputs)
	}
	got := resp.Outputs[0].Data
	tol := 1e-4 * math.Max(1, vecs.MaxAbs(want.Data))
	if len(got) != len(want.Data) {
		t.Fatalf("got %d logits, want %d", len(got), len(want.Data))
	}
	for i := range got {
		if d := math.Abs(got[i] - float64(want.Data[i])); d > tol {
			t.Fatalf("logit %d: got %v want %v (|d| %g > %g)", i, got[i], want.Data[i], d, tol)
		}
	}
	// A tensor of the wrong shape is a client error that says what is wrong.
	bad, _ := json.Marshal(map[string]any{"inputs": []map[string]any{{"name": "x", "shape": []int{1, 3, 8}, "datatype": "FP32", "data": make([]float32, 24)}}})
	r = curl(t, "-H", "Content-Type: application/json", "--data-binary", string(bad), srv.URL+"/v2/models/x0_25/infer")
	if r.Status != 400 || !strings.Contains(r.ContentType, "problem+json") {
		t.Fatalf("wrong shape: %d %s %s", r.Status, r.ContentType, r.Body)
	}
}

// TestVersions uploads through the API, watches latest move, and deletes.
func TestVersions(t *testing.T) {
	store := t.TempDir()
	convertFixture(t, store, "m", "golden", "PPLCNet_x0_25.pdparams")
	const key = "s3cret-key"
	srv := startServer(t, store, "--api-key", key)
	src := fixtures.Path(t, "golden", "PPLCNet_x0_35.pdparams")

	upload := func(auth ...string) curlResult {
		args := append([]string{"-F", "name=m", "-F", "file=@" + src}, auth...)
		return curl(t, append(args, srv.URL+"/v1/models")...)
	}
	if r := upload(); r.Status != 401 || !strings.Contains(r.ContentType, "problem+json") {
		t.Fatalf("upload without key: %d %s", r.Status, r.Body)
	}
	if r := upload("-H", "Authorization: Bearer wrong"); r.Status != 403 {
		t.Fatalf("upload with a wrong key: %d %s", r.Status, r.Body)
	}
	if r := upload("-H", "Authorization: Bearer "+key); r.Status != 201 && r.Status != 200 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	latest := func() string {
		r := curl(t, srv.URL+"/v1/models/m")
		if r.Status != 200 {
			t.Fatalf("GET /v1/models/m: %d %s", r.Status, r.Body)
		}
		return decode[struct {
			Latest string `json:"latest"`
		}](t, r.Body).Latest
	}
	if v := latest(); v != "2" {
		t.Fatalf("latest after upload is %q, want 2", v)
	}
	out := mustRun(t, "zoo", "list", "--store", store)
	if !strings.Contains(out, "m") {
		t.Fatalf("zoo list: %s", out)
	}
	mustRun(t, "zoo", "show", "m:2", "--store", store)
	if r := curl(t, "-X", "DELETE", srv.URL+"/v1/models/m/versions/2"); r.Status != 401 {
		t.Fatalf("delete without key: %d", r.Status)
	}
	if r := curl(t, "-X", "DELETE", "-H", "Authorization: Bearer "+key, srv.URL+"/v1/models/m/versions/2"); r.Status != 204 && r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if v := latest(); v != "1" {
		t.Fatalf("latest after delete is %q, want 1", v)
	}
}

// TestBadInput sends what users get wrong and checks each answer is a
// problem+json with the right status and a detail.
func TestBadInput(t *testing.T) {
	store := t.TempDir()
	convertFixture(t, store, "m", "golden", "PPLCNet_x0_25.pdparams")
	srv := startServer(t, store)
	dir := t.TempDir()
	good := writePNG(t, dir, "good.png", 64, 64)
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("this is not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	jpegPath := filepath.Join(dir, "trunc.jpg")
	if err := os.WriteFile(jpegPath, truncatedJPEG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	bomb := filepath.Join(dir, "bomb.png")
	if err := os.WriteFile(bomb, pngHeader(65000, 65000), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(big, bytes.Repeat([]byte{0xff}, 50<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	url := srv.URL + "/v1/models/m/classify"

	for _, tc := range []struct {
		name   string
		args   []string
		status []int
	}{
		{"empty body", []string{"-X", "POST", "-H", "Content-Type: image/png", url}, []int{400}},
		{"text file", []string{"-F", "image=@" + text, url}, []int{415}},
		{"truncated jpeg", []string{"-F", "image=@" + jpegPath, url}, []int{422}},
		{"65000x65000 png header", []string{"-F", "image=@" + bomb, url}, []int{413, 422}},
		{"50 MB body", []string{"-H", "Content-Type: image/png", "--data-binary", "@" + big, url}, []int{413}},
		{"base64 garbage", []string{"-H", "Content-Type: application/json", "--data-binary", `{"images":["%%%not base64%%%"]}`, url}, []int{400}},
		{"unknown model", []string{"-F", "image=@" + good, srv.URL + "/v1/models/nope/classify"}, []int{404}},
		{"top_k=-1", []string{"-F", "image=@" + good, url + "?top_k=-1"}, []int{400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := curl(t, tc.args...)
			ok := false
			for _, s := range tc.status {
				ok = ok || r.Status == s
			}
			if !ok {
				t.Fatalf("status %d, want one of %v: %s", r.Status, tc.status, truncate(r.Body))
			}
			if r.Status >= 400 {
				if !strings.Contains(r.ContentType, "application/problem+json") {
					t.Fatalf("content type %q, want application/problem+json", r.ContentType)
				}
				p := decode[problem](t, r.Body)
				if p.Status != r.Status || p.Detail == "" || p.Title == "" {
					t.Fatalf("problem %+v lacks status/title/detail", p)
				}
				t.Logf("%d %s", p.Status, p.Detail)
			}
		})
	}
}

// pngHeader is a PNG signature and IHDR claiming w x h pixels, with no data:
// a server must refuse it from the header alone.
func pngHeader(w, h uint32) []byte {
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := []byte{0, 0, 0, 13, 'I', 'H', 'D', 'R',
		byte(w >> 24), byte(w >> 16), byte(w >> 8), byte(w),
		byte(h >> 24), byte(h >> 16), byte(h >> 8), byte(h),
		8, 2, 0, 0, 0}
	buf.Write(ihdr)
	crc := crc32.ChecksumIEEE(ihdr[4:])
	buf.Write([]byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	return buf.Bytes()
}

// truncatedJPEG is a real JPEG cut in the middle of its scan data.
func truncatedJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 200, 200))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()[:buf.Len()/2]
}

// uploadBody builds a multipart model upload for net/http tests.
func uploadBody(t *testing.T, name, file string) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if err := mw.WriteField("name", name); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", filepath.Base(file))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(data); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// versions lists a model's versions through the API.
func versions(t *testing.T, base, name string) []string {
	t.Helper()
	resp, body := httpDo(t, http.MethodGet, base+"/v1/models/"+name, "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /v1/models/%s: %d %s", name, resp.StatusCode, body)
	}
	var m struct {
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, v := range m.Versions {
		vs = append(vs, v.Version)
	}
	sort.Strings(vs)
	return vs
}
