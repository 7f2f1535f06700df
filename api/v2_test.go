package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api/client"
)

// tensorJSON renders n images of 3 x h x w, image i filled with channel
// values vals[i], as flat or nested JSON data.
func tensorJSON(n, h, w int, nested bool, vals ...[3]float32) string {
	var b strings.Builder
	b.WriteString("[")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		if nested {
			b.WriteString("[")
		}
		for c := range 3 {
			if c > 0 {
				b.WriteString(",")
			}
			if nested {
				b.WriteString("[")
			}
			for p := range h * w {
				if p > 0 {
					b.WriteString(",")
				}
				fmt.Fprint(&b, vals[i][c])
			}
			if nested {
				b.WriteString("]")
			}
		}
		if nested {
			b.WriteString("]")
		}
	}
	b.WriteString("]")
	return b.String()
}

func inferBody(name string, shape []int, data string, outputs ...string) string {
	outs := ""
	if len(outputs) > 0 {
		var parts []string
		for _, o := range outputs {
			parts = append(parts, fmt.Sprintf(`{"name":%q}`, o))
		}
		outs = `,"outputs":[` + strings.Join(parts, ",") + `]`
	}
	sh, _ := json.Marshal(shape)
	return fmt.Sprintf(`{"id":"req-1","inputs":[{"name":%q,"shape":%s,"datatype":"FP32","data":%s}]%s}`, name, sh, data, outs)
}

func TestV2(t *testing.T) {
	f := newFake("m")
	f.add("m")
	_, ts := newTestServer(t, f, nil)
	get := func(path string) result { return do(t, "GET", ts.URL+path, "", nil) }

	if r := get("/v2/health/live"); r.status != 200 || !decode[client.V2Live](t, r).Live {
		t.Fatalf("live: %d %s", r.status, r.body)
	}
	if r := get("/v2/health/ready"); r.status != 200 || !decode[client.V2Ready](t, r).Ready {
		t.Fatalf("ready: %d %s", r.status, r.body)
	}
	md := decode[client.V2ModelMetadata](t, get("/v2/models/m"))
	if md.Name != "m" || fmt.Sprint(md.Versions) != "[1 2]" || len(md.Inputs) != 1 || fmt.Sprint(md.Inputs[0].Shape) != "[-1 3 32 32]" || len(md.Outputs) != 4 {
		t.Errorf("metadata %+v", md)
	}
	if md := decode[client.V2ModelMetadata](t, get("/v2/models/m/versions/1")); fmt.Sprint(md.Versions) != "[1]" {
		t.Errorf("version metadata %+v", md)
	}
	p := checkProblem(t, get("/v2/models/nope"), 404, "nope")
	if p.Error == "" {
		t.Error("v2 problem without an error field")
	}
	checkProblem(t, get("/v2/models/m/versions/5"), 404, "5")

	// Ready starts the load and answers 503 until it is done.
	for i := 0; ; i++ {
		r := get("/v2/models/m/versions/1/ready")
		if r.status == 200 && decode[client.V2Ready](t, r).Ready {
			break
		}
		if r.status != 503 || r.header.Get("Retry-After") == "" || i > 200 {
			t.Fatalf("model ready: %d %s", r.status, r.body)
		}
		time.Sleep(5 * time.Millisecond)
	}

	for _, nested := range []bool{false, true} {
		t.Run(fmt.Sprintf("infer nested=%v", nested), func(t *testing.T) {
			data := tensorJSON(2, 32, 32, nested, [3]float32{0.9, 0, 0}, [3]float32{0, 0, 0.8})
			r := do(t, "POST", ts.URL+"/v2/models/m/infer", "application/json", strings.NewReader(inferBody("x", []int{2, 3, 32, 32}, data)))
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			resp := decode[client.V2InferResponse](t, r)
			if resp.ModelName != "m" || resp.ModelVersion != "2" || resp.ID != "req-1" || len(resp.Outputs) != 4 {
				t.Fatalf("%+v", resp)
			}
			want := map[string]string{"logits": "[2 3]", "probabilities": "[2 3]", "features": "[2 4]", "pooled": "[2 2]"}
			for _, o := range resp.Outputs {
				if fmt.Sprint(o.Shape) != want[o.Name] || o.Datatype != "FP32" || len(o.Data) != int(o.Shape[0]*o.Shape[1]) {
					t.Errorf("output %s: shape %v, %d values", o.Name, o.Shape, len(o.Data))
				}
			}
			logits := resp.Outputs[0].Data
			if logits[0] < 8.99 || logits[0] > 9.01 || logits[5] < 7.99 || logits[5] > 8.01 {
				t.Errorf("logits %v: rows do not follow their images", logits)
			}
		})
	}
	t.Run("selected outputs, version route, any input name", func(t *testing.T) {
		data := tensorJSON(1, 40, 48, false, [3]float32{0.1, 0.2, 0.3})
		r := do(t, "POST", ts.URL+"/v2/models/m/versions/1/infer", "application/json", strings.NewReader(inferBody("pixel_values", []int{1, 3, 40, 48}, data, "pooled")))
		resp := decode[client.V2InferResponse](t, r)
		if r.status != 200 || resp.ModelVersion != "1" || len(resp.Outputs) != 1 || resp.Outputs[0].Name != "pooled" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	bad := []struct {
		name, body, detail string
	}{
		{"empty", "", "empty"},
		{"not JSON", "{", "JSON"},
		{"no inputs", `{"inputs":[]}`, "exactly one"},
		{"datatype", `{"inputs":[{"name":"x","shape":[1,3,32,32],"datatype":"INT8","data":[1]}]}`, "FP32"},
		{"rank", inferBody("x", []int{3, 32, 32}, "[1]"), "[N, 3, H, W]"},
		{"channels", inferBody("x", []int{1, 1, 32, 32}, "[1]"), "[N, 3, H, W]"},
		{"too small", inferBody("x", []int{1, 3, 8, 8}, tensorJSON(1, 8, 8, false, [3]float32{})), "32"},
		{"short data", inferBody("x", []int{1, 3, 32, 32}, "[1,2,3]"), "needs 3072"},
		{"long data", inferBody("x", []int{1, 3, 32, 32}, tensorJSON(2, 32, 32, false, [3]float32{}, [3]float32{})), "more than"},
		{"not numbers", inferBody("x", []int{1, 3, 32, 32}, strings.Replace(tensorJSON(1, 32, 32, false, [3]float32{}), "[0", `["a"`, 1)), "array of numbers"},
		{"data shorter than the shape", inferBody("x", []int{64, 3, 4096, 4096}, "[0]"), "too few"},
		{"unknown output", inferBody("x", []int{1, 3, 32, 32}, tensorJSON(1, 32, 32, false, [3]float32{}), "softmax"), "softmax"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			checkProblem(t, do(t, "POST", ts.URL+"/v2/models/m/infer", "application/json", bytes.NewReader([]byte(tt.body))), 400, tt.detail)
		})
	}
}

func FuzzParseFloats(f *testing.F) {
	for _, s := range []string{"[1,2,3]", "[[1.5e-3, -2], [3]]", "[", "[]]", "[1 2]", `["x"]`, "[1,2] 3", "[-.5e+2]"} {
		f.Add([]byte(s), 4)
	}
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		out, err := parseFloats(data, max)
		if err == nil && len(out) > max {
			t.Fatalf("%d values past the max %d", len(out), max)
		}
	})
}

// FuzzReadImages feeds arbitrary bodies to the request reader in each of
// its forms: it must answer with images or an error, never panic, and
// never return more images than the limit.
func FuzzReadImages(f *testing.F) {
	f.Add("application/json", []byte(`{"images":["aGVsbG8="],"model":"m:1"}`))
	f.Add("application/json", []byte(`{"images":["data:image/png;base64,aGVsbG8"]}`))
	f.Add("multipart/form-data; boundary=XX", []byte("--XX\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a\"\r\n\r\nabc\r\n--XX--\r\n"))
	f.Add("image/png", []byte("\x89PNG"))
	f.Add("text/plain; charset=\"", []byte("x"))
	s, err := New(Config{backend: newFake(), MaxImages: 3})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req := httptest.NewRequest("POST", "/classify", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		in, err := s.readImages(req)
		if err == nil && (len(in.images) == 0 || len(in.images) > 3) {
			t.Fatalf("%d images without an error", len(in.images))
		}
	})
}
