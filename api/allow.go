package api

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// routeMethods are the methods the router is asked about when it answers
// 405 and must list what the path does allow.
var routeMethods = [...]string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowed lists the methods routed for path, for a 405's Allow header
// (RFC 9110 section 15.5.6). chi sets Allow only in its own 405 handler,
// not in one the router is given.
func allowed(routes chi.Routes, path string) string {
	var ms []string
	for _, m := range routeMethods {
		if routes.Match(chi.NewRouteContext(), m, path) {
			ms = append(ms, m)
			if m == http.MethodGet { // middleware.GetHead serves HEAD too
				ms = append(ms, http.MethodHead)
			}
		}
	}
	return strings.Join(ms, ", ")
}
