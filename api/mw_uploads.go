package api

import (
	"net/http"
	"time"
)

// limitUploads lets MaxUploads uploads run at once and answers the rest
// with 429 and Retry-After at once, rather than queueing bodies of up to
// MaxUploadBytes each on disk and their conversions in memory.
func (s *Server) limitUploads(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.uploads.TryAcquire(1) {
			s.writeError(w, r, &httpError{
				status:     http.StatusTooManyRequests,
				detail:     "too many model uploads at once; retry later",
				retryAfter: 10 * time.Second,
			})
			return
		}
		defer s.uploads.Release(1)
		next.ServeHTTP(w, r)
	})
}
