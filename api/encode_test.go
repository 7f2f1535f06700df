package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestNonFiniteOutputs runs a network whose second image overflows: an
// answer that would carry NaN or Inf is a 422 naming the output and the
// image, never a 200 (json.Marshal refuses them, so the check must come
// before the header is written); answers without them are unaffected.
func TestNonFiniteOutputs(t *testing.T) {
	f := newFake("m")
	f.nonFinite = true
	_, ts := newTestServer(t, f, nil)
	two := func() (string, *bytes.Buffer) {
		b, ct := multipartBody(t, nil, solid(t, "png", red, 20, 20), solid(t, "png", blue, 20, 20))
		return ct, b.(*bytes.Buffer)
	}
	v2 := inferBody("x", []int{2, 3, 32, 32}, tensorJSON(2, 32, 32, false, [3]float32{1, 0, 0}, [3]float32{0, 0, 1}))
	for _, tc := range []struct {
		name, path string
		v2         bool
		outputs    []string
		status     int
		say        string
	}{
		{"classify", "/v1/models/m/classify", false, nil, 422, `output "probabilities" for image 2 of 2`},
		{"features", "/v1/models/m/features", false, nil, 422, `output "features" for image 2 of 2`},
		{"pooled features", "/v1/models/m/features?layer=pooled", false, nil, 200, ""},
		{"v2 all outputs", "/v2/models/m/infer", true, nil, 422, `output "logits" for image 2 of 2`},
		{"v2 pooled", "/v2/models/m/infer", true, []string{"pooled"}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			if tc.v2 {
				body := v2
				if tc.outputs != nil {
					body = inferBody("x", []int{2, 3, 32, 32}, tensorJSON(2, 32, 32, false, [3]float32{1, 0, 0}, [3]float32{0, 0, 1}), tc.outputs...)
				}
				r = do(t, "POST", ts.URL+tc.path, "application/json", strings.NewReader(body))
			} else {
				ct, body := two()
				r = do(t, "POST", ts.URL+tc.path, ct, body)
			}
			if tc.status == http.StatusOK {
				if r.status != 200 || len(bytes.TrimSpace(r.body)) == 0 {
					t.Fatalf("status %d, body %q", r.status, r.body)
				}
				return
			}
			checkProblem(t, r, tc.status, tc.say)
		})
	}
}

func TestWriteOKRefusesUnencodable(t *testing.T) {
	rec := httptest.NewRecorder()
	if err := writeOK(rec, map[string]float64{"x": 0}); err != nil || rec.Code != 200 || rec.Body.Len() == 0 {
		t.Fatalf("encodable value: %v, %d %q", err, rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	if err := writeOK(rec, map[string]any{"x": make(chan int)}); err == nil {
		t.Fatal("an unencodable value gave no error")
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("something was sent before the encoding failed: %q", rec.Body)
	}
}
