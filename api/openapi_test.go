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
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/go-chi/chi/v5"

	"github.com/lcnet/lcnet/openapi"
)

// uiRoutes are served for people, not API clients, and are left out of the
// document on purpose.
var uiRoutes = map[string]bool{
	"GET /":         true,
	"GET /docs":     true,
	"GET /docs/*":   true,
	"GET /static/*": true,
}

// TestOpenAPIUpToDate regenerates the document from the annotations and
// fails if the committed one differs: run "go generate ./openapi".
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
		"--outputTypes", "json,yaml", "--parseInternal=false")
	cmd.Dir = "../openapi"
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swag init: %v\n%s", err, b)
	}
	for _, f := range []struct {
		name      string
		committed []byte
	}{{"swagger.json", openapi.JSON}, {"swagger.yaml", openapi.YAML}} {
		fresh, err := os.ReadFile(filepath.Join(out, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(fresh, f.committed) {
			t.Errorf("openapi/%s is stale: run go generate ./openapi and commit the result", f.name)
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestOpenAPIValid loads the Swagger 2.0 document, converts it to
// OpenAPI 3 and validates it.
func TestOpenAPIValid(t *testing.T) {
	var doc2 openapi2.T
	if err := doc2.UnmarshalJSON(openapi.JSON); err != nil {
		t.Fatalf("parsing openapi/swagger.json: %v", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		t.Fatalf("converting to OpenAPI 3: %v", err)
	}
	if err := doc3.Validate(context.Background()); err != nil {
		t.Fatalf("invalid document: %v", err)
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
	var doc openapi2.T
	if err := doc.UnmarshalJSON(openapi.JSON); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
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
