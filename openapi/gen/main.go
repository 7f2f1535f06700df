// Command gen writes openapi.json and openapi.yaml, the OpenAPI 3
// document lcnet serves, from swagger.json, the Swagger 2.0 document swag
// writes from the handlers' annotations. go generate ./openapi runs both.
package main

import (
	"fmt"
	"os"

	"github.com/lcnet/lcnet/openapi/oas3"
)

func main() {
	if err := run("swagger.json", "openapi.json", "openapi.yaml"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(in, outJSON, outYAML string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	doc, err := oas3.Convert(src)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	j, y, err := oas3.Marshal(doc)
	if err != nil {
		return err
	}
	if err := os.WriteFile(outJSON, j, 0o644); err != nil {
		return err
	}
	return os.WriteFile(outYAML, y, 0o644)
}
