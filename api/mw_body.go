package api

import (
	"net/http"

	"github.com/go-chi/chi/v5/middleware"
)

// maxBody caps the request body with chi's middleware.RequestSize: reading
// past n fails with *http.MaxBytesError, which writeError answers with
// 413. A declared length over the cap is refused before anything is read,
// so a client learns at once rather than after uploading n bytes.
func (s *Server) maxBody(n int64) func(http.Handler) http.Handler {
	limit := middleware.RequestSize(n)
	return func(next http.Handler) http.Handler {
		limited := limit(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				s.writeError(w, r, &http.MaxBytesError{Limit: n})
				return
			}
			limited.ServeHTTP(w, r)
		})
	}
}
