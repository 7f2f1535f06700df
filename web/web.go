// Package web is lcnet's demo page: pick a model, drop an image, see the
// top-5 classes as bars with their scores and the request's latency. It is
// one HTML page and one script, embedded in the binary, and talks to the
// server only through the public API (GET /v1/models, POST
// /v1/models/{name}/classify).
package web

import (
	"embed"
	"html/template"
	"io"
	"io/fs"
	"net/http"
)

//go:embed index.html
var indexHTML string

//go:embed static
var staticFS embed.FS

var indexTmpl = template.Must(template.New("index").Parse(indexHTML))

// Page is what the server knows when it renders the page. The script
// re-reads the model list itself; Empty only decides what shows before it
// runs (and without JavaScript).
type Page struct {
	// Empty is true when the zoo has no model: the page then shows how to
	// add one instead of an empty picker.
	Empty bool
	// APIKeyRequired says uploads need a key (shown in the hint).
	APIKeyRequired bool
}

// Index writes the page.
func Index(w io.Writer, p Page) error {
	return indexTmpl.Execute(w, p)
}

// Static serves the script and style sheet (mount it under /static/).
func Static() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the directory is embedded above; this cannot fail
	}
	return http.FileServer(http.FS(sub))
}
