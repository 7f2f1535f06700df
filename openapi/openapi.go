// Package openapi holds lcnet's API description, generated from the
// annotations on the handlers in package api and committed, so the binary
// serves it without generating anything at run time.
//
// swag writes the Swagger 2.0 document (swagger.json); gen converts it to
// OpenAPI 3.0 (openapi.json, openapi.yaml) and adds what 2.0 cannot say
// (package oas3). Regenerate after changing a handler's annotations or a
// type in api/client/types.go (TestOpenAPIUpToDate in package api fails until
// you do):
//
//	go generate ./openapi
package openapi

import _ "embed"

//go:generate swag init --quiet --generalInfo doc.go --dir ../api --output . --outputTypes json --parseInternal=false --requiredByDefault
//go:generate go run ./gen

// JSON is the OpenAPI 3.0 document, served at /openapi.json.
//
//go:embed openapi.json
var JSON []byte

// YAML is the same document as YAML, served at /openapi.yaml.
//
//go:embed openapi.yaml
var YAML []byte

// Swagger2 is the Swagger 2.0 document swag writes, which the OpenAPI 3
// document is made from.
//
//go:embed swagger.json
var Swagger2 []byte
