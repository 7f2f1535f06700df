// Package oas3 turns the Swagger 2.0 document swag writes into the
// OpenAPI 3.0 document lcnet serves, and adds what 2.0 cannot say:
// problem+json errors with an example per status, every request body the
// server reads (multipart, raw images of each format, base64 JSON, the
// binary tensor data extension), which operations need the API key, and
// the refusals of the middleware every route has (Host).
package oas3

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"sigs.k8s.io/yaml"
)

// Names of definitions and the security scheme in swag's output.
const (
	problemSchema = "api.Problem"
	imagesSchema  = "api.ImagesRequest"
	bearerScheme  = "BearerAuth"
)

// imageTypes are the raw bodies classify and features read; the server
// sniffs the format, so octet-stream works for all of them.
var imageTypes = []string{"image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp", "image/tiff", "application/octet-stream"}

// Convert converts a Swagger 2.0 document and completes it.
func Convert(swagger2 []byte) (*openapi3.T, error) {
	var d2 openapi2.T
	if err := json.Unmarshal(swagger2, &d2); err != nil {
		return nil, fmt.Errorf("oas3: parsing the Swagger 2.0 document: %w", err)
	}
	doc, err := openapi2conv.ToV3(&d2)
	if err != nil {
		return nil, fmt.Errorf("oas3: converting to OpenAPI 3: %w", err)
	}
	if doc.Components == nil || doc.Components.Schemas[problemSchema] == nil {
		return nil, fmt.Errorf("oas3: the document has no %s schema", problemSchema)
	}
	bearer(doc)
	for _, s := range doc.Components.Schemas {
		numberFormats(s, map[*openapi3.Schema]bool{})
	}
	if doc.Components.Schemas[imagesSchema] == nil {
		doc.Components.Schemas[imagesSchema] = imagesRequest()
	}
	for _, path := range doc.Paths.Keys() {
		for method, op := range doc.Paths.Value(path).Operations() {
			imageBody(doc, op)
			tensorBody(path, op)
			security(doc, op)
			// The Host check (api's checkHost) runs before routing, on
			// every route alike.
			addProblem(doc, op, http.StatusMisdirectedRequest, "the Host header names another server: a server bound to loopback answers only localhost, 127.0.0.1, [::1], its address and --allowed-host names (DNS rebinding)")
			paramExamples(op)
			if op.OperationID == "" {
				op.OperationID = operationID(method, path)
			}
			problems(path, method, op)
		}
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("oas3: the converted document is invalid: %w", err)
	}
	return doc, nil
}

// Marshal renders doc as indented JSON and as YAML, both with sorted keys
// so regenerating gives the same bytes.
func Marshal(doc *openapi3.T) (jsonDoc, yamlDoc []byte, err error) {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, fmt.Errorf("oas3: encoding JSON: %w", err)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "    "); err != nil {
		return nil, nil, fmt.Errorf("oas3: indenting JSON: %w", err)
	}
	b.WriteByte('\n')
	y, err := yaml.JSONToYAML(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("oas3: encoding YAML: %w", err)
	}
	return b.Bytes(), y, nil
}

// operationID names an operation after its method and path, as in
// getV2ModelsNameReady, for generated clients and linters.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, f := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '.' || r == '_' }) {
		b.WriteString(strings.ToUpper(f[:1]) + f[1:])
	}
	return b.String()
}

// pathExamples are the values the examples use for path parameters; the
// contract tests (e2e/contract) serve a model by that name and version,
// and put the ids of jobs they start in place of the job id.
var pathExamples = map[string]string{"name": "textline", "version": "1", "id": "5f0c8a3e9b1d4c27a6e2f1b0c9d8e7f6"}

// paramExamples gives path parameters an example, which Swagger UI fills
// in and Dredd needs to build a request.
func paramExamples(op *openapi3.Operation) {
	for _, p := range op.Parameters {
		if p.Value != nil && p.Value.In == "path" && p.Value.Example == nil {
			if ex, ok := pathExamples[p.Value.Name]; ok {
				p.Value.Example = ex
			}
		}
	}
}

// goFormats are the formats swag copies from Go's types in some places (a
// map[string]float64's values say "float64") though nowhere else: they are
// not OpenAPI's names, and JSON Schema validators such as Dredd's reject
// them as unknown (OpenAPI's "double" as well).
var goFormats = map[string]bool{"float64": true, "float32": true, "int64": true, "int32": true}

// numberFormats drops the Go formats of s and the schemas inside it, as
// swag leaves them off every other number.
func numberFormats(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	if goFormats[s.Format] {
		s.Format = ""
	}
	for _, p := range s.Properties {
		numberFormats(p, seen)
	}
	numberFormats(s.Items, seen)
	numberFormats(s.AdditionalProperties.Schema, seen)
	for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
		for _, r := range list {
			numberFormats(r, seen)
		}
	}
}

// bearer says what the key is in 3.0's terms: an HTTP bearer token (2.0
// could only call it an apiKey header).
func bearer(doc *openapi3.T) {
	ref := doc.Components.SecuritySchemes[bearerScheme]
	if ref == nil || ref.Value == nil {
		return
	}
	ref.Value = &openapi3.SecurityScheme{Type: "http", Scheme: "bearer", Description: ref.Value.Description}
}

// security makes every operation say whether it needs the key: the ones
// swag marked keep the scheme and get its 401 and 403; the rest say
// "none" explicitly rather than by omission.
func security(doc *openapi3.T, op *openapi3.Operation) {
	if op.Security != nil && len(*op.Security) > 0 {
		addProblem(doc, op, http.StatusUnauthorized, "no API key: send Authorization: Bearer KEY")
		addProblem(doc, op, http.StatusForbidden, "the API key is not valid, or the request comes from a browser page of an origin not given with --cors-origin")
		return
	}
	op.Security = openapi3.NewSecurityRequirements()
}

func addProblem(doc *openapi3.T, op *openapi3.Operation, status int, desc string) {
	if op.Responses.Value(fmt.Sprint(status)) == nil {
		op.Responses.Set(fmt.Sprint(status), &openapi3.ResponseRef{Value: openapi3.NewResponse().WithDescription(desc).
			WithContent(openapi3.NewContentWithJSONSchemaRef(openapi3.NewSchemaRef("#/components/schemas/"+problemSchema, doc.Components.Schemas[problemSchema].Value)))})
	}
}

// imageBody replaces the multipart-only body swag gives classify and
// features with every form the server reads (api.readImages).
func imageBody(doc *openapi3.T, op *openapi3.Operation) {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return
	}
	mt := op.RequestBody.Value.Content.Get("multipart/form-data")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil || mt.Schema.Value.Properties["image"] == nil {
		return
	}
	file := openapi3.NewStringSchema().WithFormat("binary")
	form := openapi3.NewObjectSchema().
		WithProperty("image", openapi3.NewArraySchema().WithItems(file).WithMinItems(1)).
		WithRequired([]string{"image"})
	form.Properties["image"].Value.Description = "An image file (JPEG, PNG, GIF, BMP, WebP or TIFF); repeat the field for several."
	if op.Parameters.GetByInAndName("query", "model") != nil {
		form.WithProperty("model", openapi3.NewStringSchema())
		form.Properties["model"].Value.Description = "NAME or NAME:VERSION; the query parameter wins."
	}
	content := openapi3.Content{
		"multipart/form-data": &openapi3.MediaType{Schema: form.NewRef()},
		"application/json":    &openapi3.MediaType{Schema: openapi3.NewSchemaRef("#/components/schemas/"+imagesSchema, doc.Components.Schemas[imagesSchema].Value)},
	}
	for _, t := range imageTypes {
		content[t] = &openapi3.MediaType{Schema: file.NewRef()}
	}
	op.RequestBody.Value.Content = content
	op.RequestBody.Value.Required = true
	op.RequestBody.Value.Description = "One image as the raw body (any of the image types; the server reads the format from the bytes), " +
		"images as multipart/form-data fields named image, or JSON with base64 images."
}

// imagesRequest is api.ImagesRequest, which swag leaves out because no
// annotation can name it: 2.0 cannot have a body beside the form fields.
// TestOpenAPIImagesRequest in package api holds it to the Go type.
func imagesRequest() *openapi3.SchemaRef {
	images := openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema().WithFormat("byte")).WithMinItems(1)
	images.Description = "Encoded image files (JPEG, PNG, GIF, BMP, WebP, TIFF), base64, standard or URL alphabet, or data: URLs."
	images.Items.Value.Example = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
	model := openapi3.NewStringSchema()
	model.Description = "For POST /classify and /features only: NAME or NAME:VERSION."
	model.Example = "textline:1"
	s := openapi3.NewObjectSchema().WithProperty("images", images).WithProperty("model", model).WithRequired([]string{"images"})
	s.Description = "The JSON form of classify and features input."
	return s.NewRef()
}

// tensorBody gives the infer routes' octet-stream bodies, request and
// response, the binary layout of the binary tensor data extension
// instead of the JSON schema swag copies to every content type.
func tensorBody(path string, op *openapi3.Operation) {
	if !strings.HasSuffix(path, "/infer") {
		return
	}
	bin := &openapi3.MediaType{Schema: openapi3.NewStringSchema().WithFormat("binary").NewRef()}
	if rb := op.RequestBody; rb != nil && rb.Value != nil && rb.Value.Content.Get("application/octet-stream") != nil {
		bin.Schema.Value.Description = "The JSON inference request (Inference-Header-Content-Length bytes), then each input's binary_data_size bytes of little-endian FP32 or FP16 values."
		rb.Value.Content["application/octet-stream"] = bin
		rb.Value.Required = true
	}
	if ok := op.Responses.Value("200"); ok != nil && ok.Value != nil && ok.Value.Content.Get("application/octet-stream") != nil {
		out := &openapi3.MediaType{Schema: openapi3.NewStringSchema().WithFormat("binary").NewRef()}
		out.Schema.Value.Description = "Sent when an output is asked for as binary: the JSON inference response (Inference-Header-Content-Length bytes), then each binary output's binary_data_size bytes of little-endian FP32 values."
		ok.Value.Content["application/octet-stream"] = out
		ok.Value.Headers = openapi3.Headers{"Inference-Header-Content-Length": &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
			Description: "Length of the JSON header; present when binary outputs follow it.",
			Schema:      openapi3.NewIntegerSchema().NewRef(),
		}}}}
	}
}

// problems makes every error response that carries a Problem say
// application/problem+json, as the server sends it, with an example of
// that status.
func problems(path, method string, op *openapi3.Operation) {
	for _, code := range op.Responses.Keys() {
		resp := op.Responses.Value(code).Value
		if resp == nil || len(code) != 3 || code[0] < '4' {
			continue
		}
		var ref *openapi3.SchemaRef
		for _, mt := range resp.Content {
			if mt.Schema != nil && mt.Schema.Ref == "#/components/schemas/"+problemSchema {
				ref = mt.Schema
			}
		}
		if ref == nil {
			continue
		}
		status, err := strconv.Atoi(code)
		if err != nil {
			continue // "default": not a status of its own
		}
		resp.Content = openapi3.Content{"application/problem+json": &openapi3.MediaType{Schema: ref, Example: example(status, path, method, resp)}}
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			resp.Headers = openapi3.Headers{"Retry-After": &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
				Description: "Seconds to wait before trying again.",
				Schema:      openapi3.NewIntegerSchema().NewRef(),
			}}}}
		}
	}
}

// details are example problem details per status, in the server's words.
var details = map[int]string{
	400: "input \"x\": shape must be [N, 3, H, W], got [1 32 32]",
	401: "this route needs an API key: send Authorization: Bearer KEY",
	403: "the API key is not valid",
	404: "model \"nope\" not found",
	405: "PUT is not allowed on /v1/models; see /docs",
	408: "reading the request body took longer than the request deadline",
	409: "model \"textline\" already has version 2",
	413: "request body larger than the limit of 33554432 bytes",
	415: "Content-Type \"text/plain\" is not accepted: send multipart/form-data (field image), an image/* body, or application/json {\"images\": [base64...]}",
	421: "Host \"evil.example\" is not this server's: a server on loopback answers localhost, 127.0.0.1 and [::1]; add names with --allowed-host",
	422: "image 1: corrupt PNG: unexpected EOF",
	429: "the queue of model \"textline\" is full; retry later",
	500: "internal error",
	503: "model \"textline\" is loading; retry later",
	507: "the model store is out of space: the server's operator must free space or raise the quota",
}

func example(status int, path, method string, resp *openapi3.Response) map[string]any {
	detail := details[status]
	if d := resp.Description; d != nil && *d != "" && *d != http.StatusText(status) {
		detail = *d
	}
	ex := map[string]any{
		"type":     "about:blank",
		"title":    http.StatusText(status),
		"status":   status,
		"detail":   detail,
		"instance": instance(path),
	}
	if strings.HasPrefix(path, "/v2/") {
		ex["error"] = detail
	}
	return ex
}

// instance fills a path template with example values.
func instance(path string) string {
	r := strings.NewReplacer("{name}", pathExamples["name"], "{version}", pathExamples["version"])
	return r.Replace(path)
}
