package api

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"github.com/lcnet/lcnet/openapi"
	"github.com/lcnet/lcnet/openapi/oas3"
)

// uiRoutes are served for people, not API clients, and are left out of the
// document on purpose.
var uiRoutes = map[string]bool{
	"GET /":         true,
	"GET /docs":     true,
	"GET /docs/*":   true,
	"GET /static/*": true,
}

// TestOpenAPIUpToDate regenerates the documents from the annotations,
// swag's Swagger 2.0 and the OpenAPI 3.0 made from it, and fails if the
// committed ones differ: run "go generate ./openapi".
func TestOpenAPIUpToDate(t *testing.T) {
	swag, err := exec.LookPath("swag")
	if err != nil {
		home, _ := os.UserHomeDir()
		if p := filepath.Join(home, "go", "bin", "swag"); fileExists(p) {
			swag, err = p, nil
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("swag is not installed; CI must install github.com/swaggo/swag/cmd/swag@v1.16.6")
		}
		t.Skip("swag not installed (go install github.com/swaggo/swag/cmd/swag@v1.16.6); not checking the committed OpenAPI document")
	}
	out := t.TempDir()
	cmd := exec.Command(swag, "init", "--quiet", "--generalInfo", "doc.go", "--dir", "../api", "--output", out,
		"--outputTypes", "json", "--parseInternal=false", "--requiredByDefault")
	cmd.Dir = "../openapi"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swag init: %v\n%s", err, b)
	}
	fresh2, err := os.ReadFile(filepath.Join(out, "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := oas3.Convert(fresh2)
	if err != nil {
		t.Fatal(err)
	}
	fresh3JSON, fresh3YAML, err := oas3.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name             string
		fresh, committed []byte
	}{
		{"swagger.json", fresh2, openapi.Swagger2},
		{"openapi.json", fresh3JSON, openapi.JSON},
		{"openapi.yaml", fresh3YAML, openapi.YAML},
	} {
		if !bytes.Equal(f.fresh, f.committed) {
			t.Errorf("openapi/%s is stale: run go generate ./openapi and commit the result", f.name)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestOpenAPIValid validates the OpenAPI 3 document, and checks the
// Swagger 2.0 one it is made from keeps the file parameter Swagger UI
// needs to show a file picker.
func TestOpenAPIValid(t *testing.T) {
	doc3, err := openapi3.NewLoader().LoadFromData(openapi.JSON)
	if err != nil {
		t.Fatalf("parsing openapi/openapi.json: %v", err)
	}
	if err := doc3.Validate(context.Background()); err != nil {
		t.Fatalf("invalid document: %v", err)
	}
	var doc2 openapi2.T
	if err := doc2.UnmarshalJSON(openapi.Swagger2); err != nil {
		t.Fatalf("parsing openapi/swagger.json: %v", err)
	}
	// Swagger UI's "Try it out" shows a file picker only for a formData
	// parameter of type file.
	for _, path := range []string{"/v1/models/{name}/classify", "/classify"} {
		op := doc2.Paths[path].Post
		if op == nil {
			t.Fatalf("%s has no POST", path)
		}
		var file bool
		for _, p := range op.Parameters {
			file = file || (p.In == "formData" && p.Type != nil && p.Type.Is("file") && p.Name == "image")
		}
		if !file {
			t.Errorf("%s: no formData file parameter named image", path)
		}
	}
}

// TestOpenAPIMatchesRoutes checks every route is documented and every
// documented operation is routed.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s, _ := newTestServer(t, newFake(), nil)
	routed := map[string]bool{}
	err := chi.Walk(s.router.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		key := method + " " + route
		if !uiRoutes[key] {
			routed[key] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(openapi.JSON)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, k := range sortedKeys(routed) {
		if !documented[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	for _, k := range sortedKeys(documented) {
		if !routed[k] {
			t.Errorf("documented %s is not routed", k)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
