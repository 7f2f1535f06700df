package oas3

import (
	"strings"
	"testing"

	"github.com/lcnet/lcnet/openapi"
)

func TestOperationID(t *testing.T) {
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/v2/models/{name}/versions/{version}/ready", "getV2ModelsNameVersionsVersionReady"},
		{"POST", "/v1/models", "postV1Models"},
		{"GET", "/openapi.json", "getOpenapiJson"},
		{"GET", "/v2", "getV2"},
	} {
		if got := operationID(tt.method, tt.path); got != tt.want {
			t.Errorf("operationID(%s, %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestConvert(t *testing.T) {
	doc, err := Convert(openapi.Swagger2)
	if err != nil {
		t.Fatal(err)
	}
	j1, y1, err := Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	doc2, _ := Convert(openapi.Swagger2)
	j2, y2, _ := Marshal(doc2)
	if string(j1) != string(j2) || string(y1) != string(y2) {
		t.Error("two conversions of one document differ")
	}
	if _, err := Convert([]byte(`{"swagger":"2.0","info":{"title":"x","version":"1"},"paths":{}}`)); err == nil || !strings.Contains(err.Error(), "api.Problem") {
		t.Errorf("a document without api.Problem converted: %v", err)
	}
	// A map of floats: swag says "float64", which validators reject.
	m, err := Convert([]byte(`{"swagger":"2.0","info":{"title":"x","version":"1"},
		"paths":{"/m":{"get":{"responses":{"200":{"description":"m","schema":{"$ref":"#/definitions/m"}}}}}},"definitions":{
		"api.Problem":{"type":"object"},
		"m":{"type":"object","properties":{"acc":{"type":"object","additionalProperties":{"type":"number","format":"float64"}},
			"xs":{"type":"array","items":{"type":"number","format":"float32"}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	props := m.Components.Schemas["m"].Value.Properties
	if f := props["acc"].Value.AdditionalProperties.Schema.Value.Format; f != "" {
		t.Errorf("map of float64: format %q, want none", f)
	}
	if f := props["xs"].Value.Items.Value.Format; f != "" {
		t.Errorf("array of float32: format %q, want none", f)
	}
	if _, err := Convert([]byte(`{`)); err == nil {
		t.Error("bad JSON converted")
	}
}
