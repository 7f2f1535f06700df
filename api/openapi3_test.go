package api

import (
	"github.com/lcnet/lcnet/api/client"

	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/lcnet/lcnet/openapi"
)

func loadOpenAPI3(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.JSON)
	if err != nil {
		t.Fatalf("parsing openapi/openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIContract checks the document says what the server does:
// errors are problem+json with an example of their own status, image
// routes accept every body readImages reads, infer routes take and give
// binary tensors, and every operation says whether it needs the key.
func TestOpenAPIContract(t *testing.T) {
	doc := loadOpenAPI3(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	if ss := doc.Components.SecuritySchemes["BearerAuth"]; ss == nil || ss.Value.Type != "http" || ss.Value.Scheme != "bearer" {
		t.Errorf("BearerAuth scheme %+v", ss)
	}
	// The routes requireKey guards in routes.go.
	keyed := map[string]bool{"POST /v1/models": true, "DELETE /v1/models/{name}/versions/{version}": true,
		"POST /v1/models/{name}/finetune": true, "DELETE /v1/jobs/{id}": true}
	imageOps := map[string]bool{"POST /classify": true, "POST /features": true, "POST /v1/models/{name}/classify": true, "POST /v1/models/{name}/features": true}
	imageTypes := []string{"multipart/form-data", "application/json", "image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp", "image/tiff", "application/octet-stream"}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			if op.Security == nil {
				t.Errorf("%s: no security requirement, not even none", key)
			} else if got := len(*op.Security) > 0; got != keyed[key] {
				t.Errorf("%s: needs the key %v in the document, %v in routes.go", key, got, keyed[key])
			}
			if keyed[key] && (op.Responses.Value("401") == nil || op.Responses.Value("403") == nil) {
				t.Errorf("%s: needs the key but documents no 401 and 403", key)
			}
			for code, resp := range op.Responses.Map() {
				var status int
				if _, err := fmt.Sscan(code, &status); err != nil {
					t.Fatalf("response code %q: %v", code, err)
				}
				if status < 400 {
					continue
				}
				mt := resp.Value.Content.Get("application/problem+json")
				if mt == nil {
					// Readiness answers 503 with its own body, not a problem.
					js := resp.Value.Content.Get("application/json")
					if js == nil || (js.Schema.Ref != "#/components/schemas/api.V2Ready" && js.Schema.Ref != "#/components/schemas/api.Health") {
						t.Errorf("%s %s: no application/problem+json", key, code)
					}
					continue
				}
				if len(resp.Value.Content) != 1 {
					t.Errorf("%s %s: error content %v besides problem+json", key, code, resp.Value.Content)
				}
				ex, _ := mt.Example.(map[string]any)
				if ex["status"] != float64(status) || ex["title"] != http.StatusText(status) {
					t.Errorf("%s %s: example %v", key, code, mt.Example)
				}
			}
			if imageOps[key] {
				for _, ct := range imageTypes {
					if op.RequestBody.Value.Content.Get(ct) == nil {
						t.Errorf("%s: no %s body", key, ct)
					}
				}
			}
			if strings.HasSuffix(path, "/infer") {
				in := op.RequestBody.Value.Content.Get("application/octet-stream")
				out := op.Responses.Value("200").Value.Content.Get("application/octet-stream")
				if in == nil || out == nil || in.Schema.Value.Format != "binary" || out.Schema.Value.Format != "binary" {
					t.Errorf("%s: binary tensor bodies not documented", key)
				}
			}
		}
	}
}

// TestOpenAPIRequired checks each schema's required fields are the Go
// type's fields without omitempty, client.ImagesRequest (written by hand in
// package oas3) included.
func TestOpenAPIRequired(t *testing.T) {
	doc := loadOpenAPI3(t)
	for _, v := range []any{client.Problem{}, client.ClassifyResponse{}, client.FeaturesResponse{}, client.Model{}, client.ModelList{}, client.VersionInfo{}, client.ImagesRequest{},
		client.V2InferRequest{}, client.V2InferInput{}, client.V2InferResponse{}, client.V2InferOutput{}, client.V2Ready{}, client.V2ServerMetadata{}, client.V2ModelMetadata{}} {
		typ := reflect.TypeOf(v)
		s := doc.Components.Schemas["api."+typ.Name()]
		if s == nil {
			t.Errorf("no schema api.%s", typ.Name())
			continue
		}
		var want []string
		props := map[string]bool{}
		for i := range typ.NumField() {
			name, opts, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			props[name] = true
			if !strings.Contains(opts, "omitempty") {
				want = append(want, name)
			}
		}
		if fmt.Sprint(sortedStrings(s.Value.Required)) != fmt.Sprint(sortedStrings(want)) {
			t.Errorf("api.%s: required %v, want %v", typ.Name(), s.Value.Required, want)
		}
		for p := range s.Value.Properties {
			if !props[p] {
				t.Errorf("api.%s: property %s is not in the Go type", typ.Name(), p)
			}
		}
	}
}

func sortedStrings(s []string) []string {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return sortedKeys(m)
}

// TestOpenAPIRefusals checks the document names the refusals of the
// middleware and limits: 421 on every route (the Host check runs before
// routing), 403 for a foreign Origin on the routes sameOrigin guards, and
// on uploads 413, 429 with Retry-After (limitUploads) and 507.
func TestOpenAPIRefusals(t *testing.T) {
	doc := loadOpenAPI3(t)
	// The routes sameOrigin guards in routes.go.
	originChecked := []string{"POST /v1/models", "DELETE /v1/models/{name}/versions/{version}",
		"POST /v1/models/{name}/finetune", "DELETE /v1/jobs/{id}"}
	uploads := []string{"POST /v1/models", "POST /v1/models/{name}/finetune"}
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[method+" "+path] = op
			if op.Responses.Value("421") == nil {
				t.Errorf("%s %s: no 421 (Host refused)", method, path)
			}
		}
	}
	desc := func(key, code string) (string, bool) {
		op := ops[key]
		if op == nil {
			t.Fatalf("no operation %s", key)
		}
		r := op.Responses.Value(code)
		if r == nil || r.Value == nil || r.Value.Description == nil {
			return "", false
		}
		return *r.Value.Description, true
	}
	for _, key := range originChecked {
		if d, ok := desc(key, "403"); !ok || !strings.Contains(d, "--cors-origin") {
			t.Errorf("%s: 403 %q does not say a foreign origin is refused (--cors-origin)", key, d)
		}
	}
	for _, key := range uploads {
		for _, code := range []string{"413", "429", "507"} {
			if _, ok := desc(key, code); !ok {
				t.Errorf("%s: no %s", key, code)
			}
		}
		if d, _ := desc(key, "429"); !strings.Contains(d, "--max-uploads") {
			t.Errorf("%s: 429 %q does not name --max-uploads", key, d)
		}
	}
	for key, op := range ops {
		for _, code := range []string{"429", "503"} {
			// Readiness answers 503 with its own body and no Retry-After.
			r := op.Responses.Value(code)
			if r != nil && r.Value.Content.Get("application/problem+json") != nil && r.Value.Headers["Retry-After"] == nil {
				t.Errorf("%s: %s without Retry-After", key, code)
			}
		}
	}
}
