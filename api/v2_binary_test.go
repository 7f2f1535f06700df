package api

import (
	"github.com/lcnet/lcnet/api/client"

	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// binaryInferRequest lays out a request as the binary tensor data
// extension does (and as Triton's tritonclient.http sends by default):
// the JSON header, then the input's little-endian values.
func binaryInferRequest(t testing.TB, datatype string, shape []int64, vals []float32, outputs []client.V2RequestedOutput, binaryOut bool) (body []byte, headerLen int) {
	t.Helper()
	var raw []byte
	for _, v := range vals {
		if datatype == "FP16" {
			raw = binary.LittleEndian.AppendUint16(raw, float32ToHalf(v))
		} else {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	}
	size := int64(len(raw))
	req := client.V2InferRequest{ID: "b1", Inputs: []client.V2InferInput{{Name: "INPUT0", Shape: shape, Datatype: datatype,
		Parameters: &client.V2InputParameters{BinaryDataSize: &size}}}, Outputs: outputs}
	if binaryOut {
		req.Parameters = &client.V2RequestParameters{BinaryDataOutput: true}
	}
	header, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return append(header, raw...), len(header)
}

// float32ToHalf rounds to the nearest binary16 for values in its normal
// range, which is all the tests send.
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	if f == 0 {
		return sign
	}
	exp := int((b>>23)&0xff) - 127 + 15
	mant := (b & 0x7fffff) + 0x1000 // round half up at bit 13
	if mant&0x800000 != 0 {
		mant &= 0x7fffff
		exp++
	}
	return sign | uint16(exp)<<10 | uint16(mant>>13)
}

// readBinaryResponse splits a binary-extension response into its JSON
// header and each output's values.
func readBinaryResponse(t testing.TB, r result) (client.V2InferResponse, map[string][]float32) {
	t.Helper()
	n, err := strconv.Atoi(r.header.Get(inferHeaderLength))
	if err != nil || n > len(r.body) {
		t.Fatalf("%s %q: %v (body %d bytes)", inferHeaderLength, r.header.Get(inferHeaderLength), err, len(r.body))
	}
	var resp client.V2InferResponse
	if err := json.Unmarshal(r.body[:n], &resp); err != nil {
		t.Fatalf("header %s: %v", r.body[:n], err)
	}
	rest := r.body[n:]
	vals := map[string][]float32{}
	for _, o := range resp.Outputs {
		if o.Parameters == nil || o.Parameters.BinaryDataSize == 0 {
			vals[o.Name] = o.Data
			continue
		}
		size := int(o.Parameters.BinaryDataSize)
		if size > len(rest) {
			t.Fatalf("output %s: %d bytes declared, %d left", o.Name, size, len(rest))
		}
		for i := 0; i < size; i += 4 {
			vals[o.Name] = append(vals[o.Name], math.Float32frombits(binary.LittleEndian.Uint32(rest[i:])))
		}
		rest = rest[size:]
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes after the last output", len(rest))
	}
	return resp, vals
}

// fill returns n images of 3 x h x w, image i filled with channel values
// vals[i], in NCHW order.
func fill(n, h, w int, vals ...[3]float32) []float32 {
	out := make([]float32, 0, n*3*h*w)
	for i := range n {
		for c := range 3 {
			for range h * w {
				out = append(out, vals[i][c])
			}
		}
	}
	return out
}

func TestV2BinaryTensors(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, nil)
	shape := []int64{2, 3, 32, 32}
	vals := fill(2, 32, 32, [3]float32{0.9, 0, 0}, [3]float32{0, 0, 0.75})
	// The fake's logits are ten times the channel means (see fakeRunner).
	wantLogits := []float32{9, 0, 0, 0, 0, 7.5}

	for _, tt := range []struct {
		name      string
		datatype  string
		outputs   []client.V2RequestedOutput
		binaryOut bool
		binary    []string // outputs expected as binary
		json      []string // outputs expected in the JSON
	}{
		{"FP32 in, all out binary (Triton's default)", "FP32", nil, true, []string{"logits", "probabilities", "features", "pooled"}, nil},
		{"FP16 in, JSON out", "FP16", nil, false, nil, []string{"logits", "probabilities", "features", "pooled"}},
		{"per-output choice", "FP32", []client.V2RequestedOutput{
			{Name: "logits", Parameters: &client.V2RequestedOutputParameters{BinaryData: ptr(true)}},
			{Name: "pooled", Parameters: &client.V2RequestedOutputParameters{BinaryData: ptr(false)}},
		}, true, []string{"logits"}, []string{"pooled"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body, hl := binaryInferRequest(t, tt.datatype, shape, vals, tt.outputs, tt.binaryOut)
			r := do(t, "POST", ts.URL+"/v2/models/m/infer", "application/octet-stream", bytes.NewReader(body), inferHeaderLength, strconv.Itoa(hl))
			if r.status != 200 {
				t.Fatalf("%d %s", r.status, r.body)
			}
			var resp client.V2InferResponse
			var got map[string][]float32
			if len(tt.binary) > 0 {
				if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
					t.Errorf("Content-Type %q with binary outputs", ct)
				}
				resp, got = readBinaryResponse(t, r)
			} else {
				if r.header.Get(inferHeaderLength) != "" || r.header.Get("Content-Type") != "application/json" {
					t.Errorf("JSON-only answer has headers %v", r.header)
				}
				resp = decode[client.V2InferResponse](t, r)
				got = map[string][]float32{}
				for _, o := range resp.Outputs {
					got[o.Name] = o.Data
				}
			}
			if resp.ID != "b1" || len(resp.Outputs) != len(tt.binary)+len(tt.json) {
				t.Fatalf("response %+v", resp)
			}
			for _, o := range resp.Outputs {
				isBin := o.Parameters != nil && o.Parameters.BinaryDataSize > 0
				if isBin != contains(tt.binary, o.Name) || (len(o.Data) > 0) == isBin {
					t.Errorf("output %s: binary %v, %d JSON values", o.Name, isBin, len(o.Data))
				}
				if len(got[o.Name]) != int(o.Shape[0]*o.Shape[1]) {
					t.Errorf("output %s: shape %v, %d values", o.Name, o.Shape, len(got[o.Name]))
				}
			}
			if l, ok := got["logits"]; ok {
				for i, w := range wantLogits {
					if math.Abs(float64(l[i]-w)) > 0.01 {
						t.Fatalf("logits %v, want %v", l, wantLogits)
					}
				}
			}
		})
	}

	t.Run("JSON FP16", func(t *testing.T) {
		body := strings.Replace(inferBody("x", []int{1, 3, 32, 32}, tensorJSON(1, 32, 32, false, [3]float32{0.5, 0, 0})), `"FP32"`, `"FP16"`, 1)
		r := do(t, "POST", ts.URL+"/v2/models/m/infer", "application/json", strings.NewReader(body))
		if resp := decode[client.V2InferResponse](t, r); r.status != 200 || resp.Outputs[0].Data[0] < 4.99 || resp.Outputs[0].Data[0] > 5.01 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})

	good, hl := binaryInferRequest(t, "FP32", []int64{1, 3, 32, 32}, fill(1, 32, 32, [3]float32{}), nil, false)
	bad := []struct {
		name, hl string
		body     []byte
		detail   string
	}{
		{"header length not a number", "x", good, "byte count"},
		{"header length past the body", strconv.Itoa(len(good) + 1), good, "only"},
		{"missing bytes", strconv.Itoa(hl), good[:len(good)-4], "bytes follow"},
		{"extra bytes", strconv.Itoa(hl), append(bytes.Clone(good), 0, 0, 0, 0), "bytes follow"},
		{"size against shape", strconv.Itoa(hl), bytes.Replace(good, []byte(`"shape":[1,3,32,32]`), []byte(`"shape":[2,3,32,32]`), 1), "needs 24576 bytes"},
		{"binary without size", strconv.Itoa(hl - 40), good[:hl-40+40], "JSON"},
		{"FP16 size is half", strconv.Itoa(hl), bytes.Replace(good, []byte(`"FP32"`), []byte(`"FP16"`), 1), "needs 6144 bytes"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			checkProblem(t, do(t, "POST", ts.URL+"/v2/models/m/infer", "application/octet-stream", bytes.NewReader(tt.body), inferHeaderLength, tt.hl), 400, tt.detail)
		})
	}
}

func ptr[T any](v T) *T { return &v }

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

func TestHalfToFloat32(t *testing.T) {
	for _, tt := range []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3800, 0.5}, {0x7bff, 65504},
		{0x0001, 1.0 / (1 << 24)}, {0x8001, -1.0 / (1 << 24)}, {0x03ff, 1023.0 / (1 << 24)},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		if got := halfToFloat32(tt.h); got != tt.want {
			t.Errorf("halfToFloat32(%#04x) = %v, want %v", tt.h, got, tt.want)
		}
	}
	if v := halfToFloat32(0x7e00); v == v {
		t.Errorf("halfToFloat32(NaN) = %v", v)
	}
}

func TestV2ServerMetadataAndModelReady(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, nil)
	md := decode[client.V2ServerMetadata](t, do(t, "GET", ts.URL+"/v2", "", nil))
	if md.Name != "lcnet" || md.Version == "" || !contains(md.Extensions, "binary_tensor_data") {
		t.Errorf("server metadata %+v", md)
	}
	for _, path := range []string{"/v2/models/m/ready", "/v2/models/m/versions/1/ready"} {
		r := do(t, "GET", ts.URL+path, "", nil)
		if rd := decode[client.V2Ready](t, r); rd.Name != "m" {
			t.Errorf("%s: %d %s, want the model's name", path, r.status, r.body)
		}
	}
}

func TestMethodNotAllowedAndHead(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, nil)
	for _, tt := range []struct{ method, path, allow string }{
		{"PUT", "/v1/models", "GET, HEAD, POST"},
		{"GET", "/v2/models/m/infer", "POST"},
		{"POST", "/healthz", "GET, HEAD"},
		{"GET", "/v1/models/m/versions/1", "DELETE"},
	} {
		r := do(t, tt.method, ts.URL+tt.path, "", nil)
		checkProblem(t, r, 405, tt.method)
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
	for _, path := range []string{"/healthz", "/v1/models", "/v2/models/m", "/openapi.json", "/v2"} {
		get, head := do(t, "GET", ts.URL+path, "", nil), do(t, "HEAD", ts.URL+path, "", nil)
		if head.status != get.status || head.header.Get("Content-Type") != get.header.Get("Content-Type") || len(head.body) != 0 {
			t.Errorf("HEAD %s: %d %q %d bytes; GET: %d %q", path, head.status, head.header.Get("Content-Type"), len(head.body), get.status, get.header.Get("Content-Type"))
		}
	}
}

// FuzzV2InferBody sends arbitrary JSON headers and binary tails to the
// infer route: it must answer, never panic, and never allocate far past
// what it received.
func FuzzV2InferBody(f *testing.F) {
	f.Add([]byte(attackBody), -1)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[1,3,32,32],"datatype":"FP16","parameters":{"binary_data_size":6144}}]}`), 101)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[64,3,4096,4096],"datatype":"FP32","parameters":{"binary_data_size":12884901888}}]}`+"\x00\x00\x00\x00"), 114)
	s, err := New(Config{backend: newFake("m"), MaxBodyBytes: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		req := httptest.NewRequest("POST", "/v2/models/m/infer", bytes.NewReader(body))
		if headerLen >= 0 {
			req.Header.Set(inferHeaderLength, fmt.Sprint(headerLen))
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code/100 != 4 && rec.Code != 503 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
